// Geofences (issue 31), pure: a circle or a polygon on the earth, and how far a position is from its edge.
// Distances in metres: great-circle to a circle's centre; to a polygon's edges on a local flat projection
// around the position (good to well under a percent for fences up to tens of kilometres).
import type { Position } from '../contracts/messages.js';

export type Geofence =
  { type: 'circle'; lat: number; lon: number; radius_m: number } | { type: 'polygon'; points: [number, number][] };

export const MAX_POLYGON_POINTS = 500;

const POSITION_KEYS = new Set(['lat', 'lon', 'alt', 'acc']);
const finite = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);

/** A position as devices report it: latitude in [-90, 90], longitude in [-180, 180], altitude finite, accuracy ≥ 0, nothing else. */
export function isPosition(value: Record<string, unknown>): boolean {
  const { lat, lon, alt, acc } = value;
  if (!finite(lat) || lat < -90 || lat > 90 || !finite(lon) || lon < -180 || lon > 180) return false;
  if (alt !== undefined && !finite(alt)) return false;
  if (acc !== undefined && (!finite(acc) || acc < 0)) return false;
  return Object.keys(value).every((key) => POSITION_KEYS.has(key));
}
const EARTH_RADIUS_M = 6_371_008.8;
const radians = (degrees: number) => (degrees * Math.PI) / 180;

export function haversineMeters(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const dLat = radians(b.lat - a.lat);
  const dLon = radians(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(radians(a.lat)) * Math.cos(radians(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * How far the position is from the fence's edge, signed: negative inside, positive outside, in metres.
 */
export function signedDistance(fence: Geofence, position: Position): number {
  if (fence.type === 'circle') return haversineMeters(position, fence) - fence.radius_m;
  // Project the polygon onto a plane centred on the position (x east, y north, metres).
  const metersPerDegreeLat = (Math.PI * EARTH_RADIUS_M) / 180;
  const metersPerDegreeLon = metersPerDegreeLat * Math.cos(radians(position.lat));
  const points = fence.points.map(([lat, lon]) => ({
    x: wrapLongitude(lon - position.lon) * metersPerDegreeLon,
    y: (lat - position.lat) * metersPerDegreeLat,
  }));
  let inside = false;
  let nearest = Infinity;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const a = points[i]!;
    const b = points[j]!;
    // Ray casting from the origin (the position) towards +x.
    if (a.y > 0 !== b.y > 0 && 0 < ((b.x - a.x) * (0 - a.y)) / (b.y - a.y) + a.x) inside = !inside;
    nearest = Math.min(nearest, distanceToSegment(a, b));
  }
  return inside ? -nearest : nearest;
}

const wrapLongitude = (degrees: number) => ((((degrees + 180) % 360) + 360) % 360) - 180;

/** Distance from the origin to the segment ab. */
function distanceToSegment(a: { x: number; y: number }, b: { x: number; y: number }): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const lengthSquared = dx * dx + dy * dy;
  const t = lengthSquared === 0 ? 0 : Math.max(0, Math.min(1, -(a.x * dx + a.y * dy) / lengthSquared));
  return Math.hypot(a.x + t * dx, a.y + t * dy);
}

/** What is wrong with a geofence a user gives, in words for a 400; undefined when nothing. */
export function geofenceProblem(value: unknown): string | undefined {
  const fence = value as Partial<Record<string, unknown>> | null;
  const latitude = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= -90 && n <= 90;
  const longitude = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= -180 && n <= 180;
  if (fence?.type === 'circle') {
    if (!latitude(fence.lat) || !longitude(fence.lon)) return 'a circle needs lat in [-90, 90] and lon in [-180, 180]';
    const radius = fence.radius_m;
    if (typeof radius !== 'number' || !(radius > 0) || radius > 20_000_000)
      return 'radius_m must be a positive number of metres';
    return undefined;
  }
  if (fence?.type === 'polygon') {
    const points = fence.points;
    if (!Array.isArray(points) || points.length < 3 || points.length > MAX_POLYGON_POINTS)
      return `a polygon needs 3 to ${MAX_POLYGON_POINTS} points [lat, lon]`;
    const bad = points.findIndex((p) => !Array.isArray(p) || p.length !== 2 || !latitude(p[0]) || !longitude(p[1]));
    if (bad >= 0) return `point ${bad} of the polygon must be [lat, lon] in range`;
    return undefined;
  }
  return 'geofence must be {"type": "circle", "lat", "lon", "radius_m"} or {"type": "polygon", "points": [[lat, lon], …]}';
}
