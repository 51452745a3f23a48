// Checks of what a request names in its URL that hold for every route, so a route added later is covered
// without doing anything: no control characters in path parameters and query values, and no integer
// beyond what JavaScript holds exactly (the database's bigint goes further, and an id rounded on the way
// would name another row). Pure; src/http/server.ts applies them.
import { firstControlCharacter } from '../lib/control-characters.js';

/** What to fix when a name or value of path parameters or a parsed query string holds a control character. */
export function controlCharacterProblem(
  where: 'path parameter' | 'query parameter',
  values: unknown,
): string | undefined {
  if (typeof values !== 'object' || values === null) return undefined;
  for (const [name, value] of Object.entries(values)) {
    for (const text of [name, ...(Array.isArray(value) ? value : [value])]) {
      const found = typeof text === 'string' ? firstControlCharacter(text) : undefined;
      if (found) return `The ${where} ${JSON.stringify(name)} holds a control character (${found}); remove it`;
    }
  }
  return undefined;
}

/**
 * Gives every integer in a request schema (params, querystring, body) bounds of ±(2^53 − 1) where it
 * declares none, so a value beyond them is a 422 naming the bound, not a rounded number or a 500 from
 * the database. Changes the schema in place; schemas shared between routes are visited once each.
 */
export function boundIntegers(schema: unknown, seen = new Set<object>()): void {
  if (typeof schema !== 'object' || schema === null || seen.has(schema)) return;
  seen.add(schema);
  const node = schema as Record<string, unknown>;
  const types = Array.isArray(node.type) ? (node.type as unknown[]) : [node.type];
  if (types.includes('integer')) {
    if (node.maximum === undefined && node.exclusiveMaximum === undefined) node.maximum = Number.MAX_SAFE_INTEGER;
    if (node.minimum === undefined && node.exclusiveMinimum === undefined) node.minimum = Number.MIN_SAFE_INTEGER;
  }
  for (const child of Object.values(node)) boundIntegers(child, seen);
}
