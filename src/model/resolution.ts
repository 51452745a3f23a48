// Which data answers a time window (ADR 024): raw rows, 1-minute or 1-hour rollups — the coarsest that
// still draws the window in at most POINT_BUDGET buckets per series, and that its retention still covers.
// Pure: the callers run the query.

export type Resolution = 'raw' | '1m' | '1h';

export const POINT_BUDGET = 1000;

/** Bucket sizes a series is drawn in (seconds): round numbers people read on an axis. */
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 14_400, 21_600, 43_200, 86_400];

const SECONDS: Record<Resolution, number> = { raw: 0, '1m': 60, '1h': 3600 };

export interface Retention {
  /** Days each resolution is kept; 0 keeps everything. */
  rawDays: number;
  minuteDays: number;
  hourDays: number;
}

export interface Plan {
  resolution: Resolution;
  bucketSeconds: number;
  /** The window, widened to whole buckets: every bucket drawn is complete. */
  start: Date;
  end: Date;
}

/**
 * The least bucket of a read that sums many devices' own rollups (a selection, groups; the fleet's own
 * rollups answer the whole fleet): whole hours beyond two days, so a month of 2,000 devices reads about
 * 1.4 M hourly rows rather than 86 M minutes; minutes below.
 */
export function selectionMinBucketSeconds(window: { start: Date; end: Date }): number {
  return window.end.getTime() - window.start.getTime() >= 2 * 86_400_000 ? 3600 : 60;
}

const covers = (days: number, start: Date, now: Date) =>
  days === 0 || start.getTime() >= now.getTime() - days * 86_400_000;

/**
 * The plan for drawing `start`..`end`: a bucket size (the one asked for, else the smallest step within
 * the point budget — POINT_BUDGET unless `pointBudget` — and at least `minBucketSeconds`) and the coarsest
 * resolution that fits in it evenly and is still kept for `start`. Fleet-wide reads ask for minutes at least: their cost then does not grow with
 * the devices, even for the last hour.
 */
export function planWindow(
  window: { start: Date; end: Date },
  retention: Retention,
  now: Date,
  options: { bucketSeconds?: number | undefined; minBucketSeconds?: number; pointBudget?: number } = {},
): Plan {
  const span = Math.max(1, (window.end.getTime() - window.start.getTime()) / 1000);
  const budget = options.pointBudget ?? POINT_BUDGET;
  let bucket =
    options.bucketSeconds ??
    STEPS.find((step) => step * budget >= span && step >= (options.minBucketSeconds ?? 0)) ??
    Math.ceil(span / budget / 86_400) * 86_400;
  const kept: Resolution[] = (['raw', '1m', '1h'] as const).filter((resolution) =>
    covers(
      resolution === 'raw' ? retention.rawDays : resolution === '1m' ? retention.minuteDays : retention.hourDays,
      window.start,
      now,
    ),
  );
  // The coarsest kept resolution that divides the bucket; when none does, the finest kept one, with the
  // bucket made a multiple of it.
  let resolution = [...kept].reverse().find((r) => SECONDS[r] <= bucket && (r === 'raw' || bucket % SECONDS[r] === 0));
  if (!resolution) {
    resolution = kept[0] ?? '1h';
    const unit = SECONDS[resolution];
    bucket = Math.max(unit, Math.ceil(bucket / unit) * unit);
  }
  const ms = bucket * 1000;
  return {
    resolution,
    bucketSeconds: bucket,
    start: new Date(Math.floor(window.start.getTime() / ms) * ms),
    end: new Date(Math.ceil(window.end.getTime() / ms) * ms),
  };
}
