// Per-minute counts as a chart draws them: every minute of the window present, empty ones as 0, so a
// line never joins minutes that had rejects across minutes that had none.

export interface MinuteCount {
  minute: string;
  reason: string;
  count: number;
}

const MINUTE = 60_000;

/** One series per reason over the `minutes` up to `nowMs` (whole minutes), zeros where nothing was counted. */
export function perMinuteSeries(
  counts: MinuteCount[],
  minutes: number,
  nowMs: number,
): { name: string; points: { time: string; value: number }[] }[] {
  const end = Math.floor(nowMs / MINUTE) * MINUTE;
  const start = end - (minutes - 1) * MINUTE;
  const byReason = new Map<string, Map<number, number>>();
  for (const { minute, reason, count } of counts) {
    const at = Math.floor(Date.parse(minute) / MINUTE) * MINUTE;
    if (at < start || at > end) continue;
    const series = byReason.get(reason) ?? new Map<number, number>();
    series.set(at, (series.get(at) ?? 0) + count);
    byReason.set(reason, series);
  }
  return [...byReason].map(([name, series]) => ({
    name,
    points: Array.from({ length: minutes }, (_, i) => {
      const at = start + i * MINUTE;
      return { time: new Date(at).toISOString(), value: series.get(at) ?? 0 };
    }),
  }));
}
