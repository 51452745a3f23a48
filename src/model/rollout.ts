// How a fleet job moves on at each tick (pure): abort when too many failed, otherwise start as many
// executions as the in-flight bound and the rollout rate allow, and finish when nothing is left.

export interface ExecutionCounts {
  PENDING: number;
  IN_PROGRESS: number;
  SUCCEEDED: number;
  FAILED: number;
  TIMED_OUT: number;
  CANCELED: number;
}

export interface RolloutPolicy {
  rate_per_minute: number | null;
  max_in_flight: number;
  abort_failure_percent: number | null;
  abort_min_devices: number;
  started_at: Date;
}

export type RolloutStep =
  { action: 'abort'; reason: string } | { action: 'complete' } | { action: 'start'; count: number };

/** The window the rollout rate is counted over. */
export const RATE_WINDOW_MS = 60_000;

/**
 * `startedInWindow`: executions started in the last RATE_WINDOW_MS. The rate ramps up from the job's start
 * (a job of 60 a minute starts one a second, not 60 at once), then holds over a sliding minute.
 */
export function nextStep(
  policy: RolloutPolicy,
  counts: ExecutionCounts,
  startedInWindow: number,
  now: Date,
): RolloutStep {
  const failed = counts.FAILED + counts.TIMED_OUT;
  const finished = counts.SUCCEEDED + failed;
  if (
    policy.abort_failure_percent !== null &&
    finished >= Math.max(1, policy.abort_min_devices) &&
    failed * 100 > policy.abort_failure_percent * finished
  ) {
    return {
      action: 'abort',
      reason: `${failed} of ${finished} finished devices failed (${Math.round((failed * 100) / finished)} %), more than the ${policy.abort_failure_percent} % allowed`,
    };
  }
  if (counts.PENDING === 0) return counts.IN_PROGRESS === 0 ? { action: 'complete' } : { action: 'start', count: 0 };
  let count = Math.min(counts.PENDING, Math.max(0, policy.max_in_flight - counts.IN_PROGRESS));
  if (policy.rate_per_minute !== null) {
    const elapsed = Math.min(RATE_WINDOW_MS, Math.max(0, now.getTime() - policy.started_at.getTime()));
    const allowed = Math.max(1, Math.floor((policy.rate_per_minute * elapsed) / RATE_WINDOW_MS));
    count = Math.min(count, Math.max(0, Math.min(allowed, policy.rate_per_minute) - startedInWindow));
  }
  return { action: 'start', count };
}
