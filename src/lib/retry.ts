// Trying again after a failure: waits that double from `initial` up to `max`, optionally spread by jitter so
// that what failed together does not retry together. A delivery's next attempt is scheduled with
// backoffDelay; the loops that wait out a database or NATS outage run through retryWithBackoff.

/** In any one unit (milliseconds, seconds): the waits come out in it. */
export interface Backoff {
  /** The first wait. */
  initial: number;
  /** No wait is longer (before jitter). */
  max: number;
  /** Each wait is spread by ± this fraction: 0.2 gives 80 % to 120 %. None when left out. */
  jitter?: number;
}

/** The wait before retry `attempt` (1: the first retry): initial × 2^(attempt − 1), capped at max, then jittered. */
export function backoffDelay(attempt: number, { initial, max, jitter = 0 }: Backoff, random = Math.random): number {
  const delay = Math.min(initial * 2 ** Math.max(0, attempt - 1), max);
  return jitter === 0 ? delay : delay * (1 - jitter + 2 * jitter * random());
}

export interface RetryOptions extends Backoff {
  /** Hears each failure and the wait (ms) that follows; it throws (the error, say) to stop trying. */
  beforeRetry?: (error: unknown, delayMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `work` until it resolves, waiting backoffDelay milliseconds between attempts. */
export async function retryWithBackoff<T>(work: () => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? sleepFor;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const delay = backoffDelay(attempt, options);
      options.beforeRetry?.(error, delay);
      await sleep(delay);
    }
  }
}
