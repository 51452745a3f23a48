// Live points merged into REST history: one rolling buffer per series, at most `limit` points, unique by
// timestamp (a later copy replaces an earlier one), always in time order, oldest first.
import type { LiveFrame } from './types';

export interface Point {
  /** Milliseconds since the epoch. */
  t: number;
  /** As the live socket sends them: numbers, but text states and positions too. */
  metrics: Extract<LiveFrame, { type: 'telemetry' }>['data']['metrics'];
}

export const BUFFER_POINTS = 500;

export function mergePoints(history: readonly Point[], incoming: readonly Point[], limit = BUFFER_POINTS): Point[] {
  const byTime = new Map<number, Point>();
  for (const point of history) byTime.set(point.t, point);
  for (const point of incoming) byTime.set(point.t, point);
  const merged = [...byTime.values()].sort((a, b) => a.t - b.t);
  return merged.length > limit ? merged.slice(merged.length - limit) : merged;
}

/** The newest value of a metric in a time-ordered buffer (gauges show this). */
export function latestValue(points: readonly Point[], metric: string): number | undefined {
  for (let i = points.length - 1; i >= 0; i -= 1) {
    const value = points[i]!.metrics[metric];
    if (typeof value === 'number') return value;
  }
  return undefined;
}

/** Numeric metric names present in the buffer, sorted. */
export function numericMetrics(points: readonly Point[]): string[] {
  const names = new Set<string>();
  for (const point of points)
    for (const [name, value] of Object.entries(point.metrics)) if (typeof value === 'number') names.add(name);
  return [...names].sort();
}

/** One metric's value at a time (milliseconds since the epoch), as a live point brought it. */
export interface Reading {
  t: number;
  value: unknown;
}

/** A metric's readings in a time-ordered buffer, oldest first. */
export const readingsOf = (points: readonly Point[], metric: string): Reading[] =>
  points.filter((point) => metric in point.metrics).map((point) => ({ t: point.t, value: point.metrics[metric] }));

/**
 * A device's latest values as stored (`storedAt`: its last telemetry, in milliseconds) with the values of
 * newer points over them: a text state or position shows as soon as its live point comes.
 */
export function withNewerPoints(
  stored: Record<string, unknown>,
  storedAt: number,
  points: readonly Point[],
): Record<string, unknown> {
  const newer = points.filter((point) => point.t > storedAt);
  return newer.length === 0 ? stored : Object.assign({ ...stored }, ...newer.map((point) => point.metrics));
}
