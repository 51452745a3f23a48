/** ISO-8601 in UTC with an explicit `+00:00` offset (docs/wire-contract.md#timestamps). */
export function isoUtc(date: Date): string {
  return date.toISOString().replace('Z', '+00:00');
}
