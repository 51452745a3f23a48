// Positions among a device's latest values, and outlines made drawable on a flat map across the antimeridian.
import { describe, expect, it } from 'vitest';
import { flatOutlines, positionMetrics, unwrapRing, withPositions } from '../src/lib/geo';

describe('positionMetrics', () => {
  it('finds the metrics whose value is a position, and no others', () => {
    const latest = {
      position: { lat: 52.1, lon: 5.1, acc: 8 },
      door: 'open',
      temp_c: 4,
      bad: { lat: '52' },
      none: null,
    };
    expect(positionMetrics(latest)).toEqual(['position']);
  });
});

describe('unwrapRing', () => {
  it('leaves a ring that does not cross the antimeridian as it is', () => {
    const ring = [
      [4, 52],
      [5, 52],
      [5, 53],
      [4, 52],
    ];
    expect(unwrapRing(ring)).toEqual(ring);
  });

  it('carries a ring across the antimeridian on past 180° instead of across the world', () => {
    const ring = [
      [179, 65],
      [-179, 66],
      [-178, 64],
      [179, 65],
    ];
    expect(unwrapRing(ring)).toEqual([
      [179, 65],
      [181, 66],
      [182, 64],
      [179, 65],
    ]);
  });

  it('closes a ring that goes round the Earth along the pole it surrounds', () => {
    const ring = [
      [-180, -80],
      [0, -70],
      [179, -78],
      [-180, -80],
    ];
    expect(unwrapRing(ring)).toEqual([
      [-180, -80],
      [0, -70],
      [179, -78],
      [180, -80],
      [180, -90],
      [-180, -90],
      [-180, -80],
    ]);
  });
});

describe('flatOutlines', () => {
  it('unwraps every ring of polygons and multipolygons and drops other geometries', () => {
    const crossing = [
      [179, 65],
      [-179, 66],
      [179, 65],
    ];
    const outlines = flatOutlines({
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', properties: { name: 'A' }, geometry: { type: 'Polygon', coordinates: [crossing] } },
        { type: 'Feature', properties: { name: 'B' }, geometry: { type: 'MultiPolygon', coordinates: [[crossing]] } },
        { type: 'Feature', properties: { name: 'C' }, geometry: { type: 'Point', coordinates: [0, 0] } },
      ],
    });
    expect(outlines.features.map((outline) => outline.properties?.name)).toEqual(['A', 'B']);
    expect(outlines.features[1]!.geometry.coordinates).toEqual([[unwrapRing(crossing)]]);
  });
});

describe('withPositions', () => {
  const track = [{ time: '2026-12-07T10:00:00.000Z', lat: 1, lon: 1, acc: 5 }];
  const at = (iso: string) => Date.parse(iso);

  it('appends the positions that came after the last point, skipping older ones and other values', () => {
    expect(
      withPositions(track, [
        { t: at('2026-12-07T09:59:00Z'), value: { lat: 9, lon: 9 } },
        { t: at('2026-12-07T10:01:00Z'), value: 'not a position' },
        { t: at('2026-12-07T10:02:00Z'), value: { lat: 2, lon: 3, alt: 40 } },
      ]),
    ).toEqual([...track, { time: '2026-12-07T10:02:00.000Z', lat: 2, lon: 3, alt: 40 }]);
  });

  it('returns the track itself when nothing newer came', () => {
    expect(withPositions(track, [{ t: at('2026-12-07T10:00:00Z'), value: { lat: 2, lon: 2 } }])).toBe(track);
  });
});
