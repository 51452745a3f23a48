// Text metrics ("door": "open") drawn as state timelines: which metrics are text, a colour per value that
// stays the same from one range to the next, where each segment sits in its band, and a band extended by
// live readings. Pure.
import type { Reading } from './fusion';

/** The metrics whose latest value is text, sorted. */
export const textMetrics = (latest: Record<string, unknown>): string[] =>
  Object.keys(latest)
    .filter((metric) => typeof latest[metric] === 'string')
    .sort();

/** A state as it reads: text as sent, anything else (a number the metric once had) as JSON. */
export const stateText = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

/** Tailwind's 500 shades, well apart from one another. */
const PALETTE = [
  '#6366f1', // indigo
  '#10b981', // emerald
  '#f59e0b', // amber
  '#f43f5e', // rose
  '#0ea5e9', // sky
  '#8b5cf6', // violet
  '#84cc16', // lime
  '#f97316', // orange
  '#14b8a6', // teal
  '#ec4899', // pink
];

function hash(text: string): number {
  let h = 0;
  for (const char of text) h = (h * 31 + char.charCodeAt(0)) >>> 0;
  return h;
}

/**
 * A colour for each of a metric's values: the one its name picks when free, so "open" looks the same in
 * every range, else the next free one, so that values of one metric never share a colour (up to ten).
 */
export function valueColors(values: Iterable<string>): Map<string, string> {
  const colors = new Map<string, string>();
  const taken = new Set<number>();
  for (const value of [...new Set(values)].sort()) {
    let slot = hash(value) % PALETTE.length;
    for (let tried = 0; taken.has(slot) && tried < PALETTE.length; tried += 1) slot = (slot + 1) % PALETTE.length;
    taken.add(slot);
    colors.set(value, PALETTE[slot]!);
  }
  return colors;
}

/** Where a segment sits in a band of `start`..`end`: its left edge and width, in % of the band. */
export function segmentBox(
  segment: { from: string; to: string },
  window: { start: string; end: string },
): { left: number; width: number } {
  const start = Date.parse(window.start);
  const span = Math.max(1, Date.parse(window.end) - start);
  const clamp = (t: number) => Math.min(100, Math.max(0, ((t - start) / span) * 100));
  const left = clamp(Date.parse(segment.from));
  return { left, width: clamp(Date.parse(segment.to)) - left };
}

interface Band {
  segments: { value: unknown; from: string; to: string }[];
  start: string;
  end: string;
  truncated: boolean;
}

/**
 * A fetched band followed by the readings (oldest first) that came after its last segment began, which it
 * may not hold yet: a new value starts a segment, and the band runs on to `now` (ms), as the state in force
 * lasts. A truncated band stops at its last reading read and stays as it is.
 */
export function withReadings<B extends Band>(band: B, readings: readonly Reading[], now: number): B {
  const lastFrom = Date.parse(band.segments.at(-1)?.from ?? band.start);
  const newer = readings.filter((reading) => reading.t > lastFrom);
  if (band.truncated || newer.length === 0) return band;
  const end = new Date(Math.max(Date.parse(band.end), newer.at(-1)!.t, now)).toISOString();
  const segments = band.segments.map((segment) => ({ ...segment }));
  for (const { t, value } of newer) {
    const last = segments.at(-1);
    if (last && stateText(last.value) === stateText(value)) continue;
    const from = new Date(t).toISOString();
    if (last) last.to = from;
    segments.push({ value, from, to: end });
  }
  segments.at(-1)!.to = end;
  return { ...band, segments, end };
}
