// The web app's live-data fusion: REST history and live points in one rolling, ordered, de-duplicated buffer.
import { describe, expect, it } from 'vitest';
import { latestValue, mergePoints, numericMetrics, readingsOf, withNewerPoints, type Point } from '../src/lib/fusion';

const point = (t: number, temp: number | boolean): Point => ({ t, metrics: { temp_c: temp } });

describe('mergePoints', () => {
  it('keeps time order whatever order history and live points come in', () => {
    const history = [point(3000, 3), point(1000, 1)]; // REST answers newest first
    const merged = mergePoints(history, [point(2000, 2), point(4000, 4)]);
    expect(merged.map((p) => p.t)).toEqual([1000, 2000, 3000, 4000]);
  });

  it('de-duplicates by timestamp, the later copy winning', () => {
    const merged = mergePoints([point(1000, 1), point(2000, 2)], [point(2000, 20)]);
    expect(merged).toEqual([point(1000, 1), point(2000, 20)]);
  });

  it('keeps only the newest points beyond the limit', () => {
    const history = Array.from({ length: 10 }, (_, i) => point(i * 1000, i));
    const merged = mergePoints(history, [point(10_000, 10)], 5);
    expect(merged.map((p) => p.t)).toEqual([6000, 7000, 8000, 9000, 10_000]);
  });

  it('shows the newest number in gauges and lists numeric metrics only', () => {
    const buffer = mergePoints(
      [],
      [point(1000, 1), { t: 2000, metrics: { temp_c: 5, door: true } }, { t: 3000, metrics: { door: false } }],
    );
    expect(latestValue(buffer, 'temp_c')).toBe(5);
    expect(latestValue(buffer, 'humidity')).toBeUndefined();
    expect(numericMetrics(buffer)).toEqual(['temp_c']);
  });
});

describe('live text states and positions', () => {
  const buffer: Point[] = [
    { t: 1000, metrics: { temp_c: 4 } },
    { t: 2000, metrics: { door: 'open', position: { lat: 1, lon: 2 } } },
    { t: 3000, metrics: { door: 'closed', temp_c: 5 } },
  ];

  it("lists one metric's readings, oldest first", () => {
    expect(readingsOf(buffer, 'door')).toEqual([
      { t: 2000, value: 'open' },
      { t: 3000, value: 'closed' },
    ]);
  });

  it('puts the values of points newer than the stored state over it, and leaves it when none is', () => {
    const stored = { door: 'ajar', position: { lat: 0, lon: 0 }, mode: 'IDLE' };
    expect(withNewerPoints(stored, 1500, buffer)).toEqual({
      door: 'closed',
      position: { lat: 1, lon: 2 },
      mode: 'IDLE',
      temp_c: 5,
    });
    expect(withNewerPoints(stored, 3000, buffer)).toBe(stored);
  });
});
