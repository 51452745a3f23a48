// Text metrics as state timelines: which metrics are text, a colour per value, where a segment sits.
import { describe, expect, it } from 'vitest';
import { segmentBox, stateText, textMetrics, valueColors, withReadings } from '../src/lib/states';

describe('textMetrics', () => {
  it('finds the metrics whose latest value is text, sorted', () => {
    expect(textMetrics({ mode: 'DRIVING', door: 'open', temp_c: 4, position: { lat: 1, lon: 2 } })).toEqual([
      'door',
      'mode',
    ]);
  });

  it('reads a value that is not text as JSON', () => {
    expect([stateText('open'), stateText(3), stateText(true)]).toEqual(['open', '3', 'true']);
  });
});

describe('valueColors', () => {
  it('gives each value of a metric its own colour, whatever else the range holds', () => {
    const colors = valueColors(['open', 'closed', 'open', 'ajar']);
    expect([...colors.keys()]).toEqual(['ajar', 'closed', 'open']);
    expect(new Set(colors.values()).size).toBe(3);
    expect(valueColors(['open', 'closed']).get('closed')).toBe(valueColors(['closed', 'x']).get('closed'));
  });

  it('stays distinct for as many values as it has colours', () => {
    const values = Array.from({ length: 10 }, (_, i) => `state-${i}`);
    expect(new Set(valueColors(values).values()).size).toBe(10);
  });
});

describe('segmentBox', () => {
  const window = { start: '2026-12-07T10:00:00Z', end: '2026-12-07T11:00:00Z' };
  it('places a segment by its share of the window', () => {
    expect(segmentBox({ from: '2026-12-07T10:15:00Z', to: '2026-12-07T10:45:00Z' }, window)).toEqual({
      left: 25,
      width: 50,
    });
  });

  it('clips a segment that starts before the window or ends after it', () => {
    expect(segmentBox({ from: '2026-12-07T09:00:00Z', to: '2026-12-07T12:00:00Z' }, window)).toEqual({
      left: 0,
      width: 100,
    });
  });
});

describe('withReadings', () => {
  const at = (minute: number) => Date.parse(`2026-12-07T10:${String(minute).padStart(2, '0')}:00Z`);
  const iso = (minute: number) => new Date(at(minute)).toISOString();
  const band = {
    start: iso(0),
    end: iso(30),
    truncated: false,
    segments: [
      { value: 'closed', from: iso(0), to: iso(10) },
      { value: 'open', from: iso(10), to: iso(30) },
    ],
  };

  it('starts a segment at each new value after the last one began and runs the band on to now', () => {
    const readings = [
      { t: at(5), value: 'closed' }, // already in the band
      { t: at(20), value: 'open' },
      { t: at(35), value: 'closed' },
      { t: at(36), value: 'closed' },
    ];
    expect(withReadings(band, readings, at(40))).toEqual({
      ...band,
      end: iso(40),
      segments: [
        { value: 'closed', from: iso(0), to: iso(10) },
        { value: 'open', from: iso(10), to: iso(35) },
        { value: 'closed', from: iso(35), to: iso(40) },
      ],
    });
  });

  it('leaves a band without newer readings, or a truncated one, as it is', () => {
    expect(withReadings(band, [{ t: at(5), value: 'ajar' }], at(40))).toBe(band);
    const truncated = { ...band, truncated: true };
    expect(withReadings(truncated, [{ t: at(35), value: 'ajar' }], at(40))).toBe(truncated);
  });

  it('draws an empty band from its first live reading', () => {
    const empty = { ...band, segments: [] };
    expect(withReadings(empty, [{ t: at(35), value: 'ajar' }], at(40)).segments).toEqual([
      { value: 'ajar', from: iso(35), to: iso(40) },
    ]);
  });
});
