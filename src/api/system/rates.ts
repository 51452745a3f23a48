// Turns the cumulative counters roles report in /health into per-second rates between two samples (the
// original plotted the raw counters as if they were rates). Pure; unit-tested.

export type CounterSnapshot = Record<string, Record<string, number>>;

/** Counters that are levels, not running totals: reported as they are. */
export const isGauge = (name: string) => /depth|pending|backlog|connections|devices|open$/.test(name);

export interface Rate {
  service: string;
  metric: string;
  value: number;
}

/**
 * Rates per second of every running total between `before` and `now`, and the gauges as they are now.
 * A counter that went down (the process restarted) starts over from zero.
 */
export function ratesBetween(
  before: CounterSnapshot | undefined,
  now: CounterSnapshot,
  elapsedSeconds: number,
): Rate[] {
  const rates: Rate[] = [];
  for (const [service, counters] of Object.entries(now)) {
    for (const [name, value] of Object.entries(counters)) {
      if (isGauge(name)) {
        rates.push({ service, metric: name, value });
        continue;
      }
      const previous = before?.[service]?.[name];
      if (previous === undefined || elapsedSeconds <= 0) continue;
      const delta = value >= previous ? value - previous : value;
      rates.push({ service, metric: `${name}_per_sec`, value: Math.round((delta / elapsedSeconds) * 100) / 100 });
    }
  }
  return rates;
}
