// Positions as metric values, and the country outlines the maps ship with (Natural Earth's, through
// world-atlas), made drawable on a flat map. Pure.
import type { Reading } from './fusion';
import type { Feature, FeatureCollection, MultiPolygon, Polygon, Position } from 'geojson';

export interface LatLon {
  lat: number;
  lon: number;
}

/** Whether a metric's value is a position ({lat, lon, alt?, acc?}). */
export const isPosition = (value: unknown): value is LatLon =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as LatLon).lat === 'number' &&
  typeof (value as LatLon).lon === 'number';

/**
 * A track (oldest first) with the positions among `readings` that came after its last point appended: the
 * ones a live socket brought that the fetched track may not hold yet.
 */
export function withPositions<P extends LatLon & { time: string }>(
  points: P[],
  readings: readonly Reading[],
): (P | (LatLon & { time: string }))[] {
  const lastAt = points.length === 0 ? -Infinity : Date.parse(points.at(-1)!.time);
  const newer = readings.filter((reading) => reading.t > lastAt && isPosition(reading.value));
  if (newer.length === 0) return points;
  return [...points, ...newer.map(({ t, value }) => ({ ...(value as LatLon), time: new Date(t).toISOString() }))];
}

/** The metrics whose latest value is a position, sorted. */
export const positionMetrics = (latest: Record<string, unknown>): string[] =>
  Object.keys(latest)
    .filter((metric) => isPosition(latest[metric]))
    .sort();

/**
 * A ring made continuous across the antimeridian: a step of more than 180° in longitude goes on past ±180
 * (drawn flat it would cross the whole world). A ring that goes once round the Earth (Antarctica's) is
 * closed along the pole it surrounds.
 */
export function unwrapRing(ring: Position[]): Position[] {
  let shift = 0;
  const unwrapped = ring.map(([lon, lat], i) => {
    const previous = i > 0 ? ring[i - 1]![0]! : lon!;
    if (lon! - previous > 180) shift -= 360;
    else if (previous - lon! > 180) shift += 360;
    return [lon! + shift, lat!];
  });
  const first = unwrapped[0];
  const last = unwrapped.at(-1);
  if (!first || !last || Math.abs(last[0]! - first[0]!) < 180) return unwrapped;
  const pole = unwrapped.reduce((sum, [, lat]) => sum + lat!, 0) < 0 ? -90 : 90;
  return [...unwrapped, [last[0]!, pole], [first[0]!, pole], first];
}

type Outline = Feature<Polygon | MultiPolygon>;

/** Outlines with every ring unwrapped (see unwrapRing). */
export function flatOutlines(outlines: FeatureCollection): FeatureCollection<Polygon | MultiPolygon> {
  const features = outlines.features.flatMap((outline): Outline[] => {
    const { geometry } = outline;
    if (geometry.type === 'Polygon')
      return [{ ...outline, geometry: { ...geometry, coordinates: geometry.coordinates.map(unwrapRing) } }];
    if (geometry.type === 'MultiPolygon')
      return [
        {
          ...outline,
          geometry: { ...geometry, coordinates: geometry.coordinates.map((polygon) => polygon.map(unwrapRing)) },
        },
      ];
    return [];
  });
  return { type: 'FeatureCollection', features };
}
