// How long a failed delivery waits before its next attempt.

/**
 * Seconds before retry `attempt` + 1: base × 2^(attempt−1), capped, then ±20 % jitter so that jobs that
 * failed together do not retry together.
 */
export function backoffSeconds(attempt: number, baseSeconds: number, maxSeconds: number, random = Math.random): number {
  const delay = Math.min(baseSeconds * 2 ** Math.max(0, attempt - 1), maxSeconds);
  return Math.max(1, Math.round(delay * (0.8 + 0.4 * random())));
}
