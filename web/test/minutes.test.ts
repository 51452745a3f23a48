import { describe, expect, it } from 'vitest';
import { perMinuteSeries } from '../src/lib/minutes';

describe('rejects per minute', () => {
  const now = Date.parse('2026-11-30T12:00:30Z');

  it('fills every minute of the window, zeros where nothing was counted', () => {
    const [series] = perMinuteSeries(
      [
        { minute: '2026-11-30T11:57:00Z', reason: 'TOKEN_INVALID', count: 3 },
        { minute: '2026-11-30T12:00:00Z', reason: 'TOKEN_INVALID', count: 1 },
      ],
      5,
      now,
    );
    expect(series!.points.map((p) => [p.time.slice(11, 16), p.value])).toEqual([
      ['11:56', 0],
      ['11:57', 3],
      ['11:58', 0],
      ['11:59', 0],
      ['12:00', 1],
    ]);
  });

  it('keeps reasons apart and leaves out counts outside the window', () => {
    const result = perMinuteSeries(
      [
        { minute: '2026-11-30T11:00:00Z', reason: 'OLD', count: 9 },
        { minute: '2026-11-30T11:59:00Z', reason: 'A', count: 2 },
        { minute: '2026-11-30T11:59:00Z', reason: 'B', count: 5 },
      ],
      2,
      now,
    );
    expect(result.map((s) => [s.name, s.points.map((p) => p.value)])).toEqual([
      ['A', [2, 0]],
      ['B', [5, 0]],
    ]);
  });
});
