/** ISO-8601 in UTC with an explicit `+00:00` offset, as the reference's Python services print timestamps. */
export function isoUtc(date: Date): string {
  return date.toISOString().replace('Z', '+00:00');
}
