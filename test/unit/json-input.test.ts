// Depth and text checks of parsed request bodies (src/lib/json-input.ts).
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonProblem, nestsDeeperThan } from '../../src/lib/json-input.js';

const nested = (depth: number) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown;

describe('json-input', () => {
  it('measures nesting without recursion, even 100,000 levels deep', () => {
    expect(nestsDeeperThan(nested(64), 64)).toBe(false);
    expect(nestsDeeperThan(nested(65), 64)).toBe(true);
    expect(nestsDeeperThan({ a: { b: [1, { c: 2 }] } }, 4)).toBe(false);
    expect(nestsDeeperThan({ a: { b: [1, { c: {} }] } }, 4)).toBe(true);
    expect(nestsDeeperThan(nested(100_000), 64)).toBe(true);
    expect(nestsDeeperThan('text', 0)).toBe(false);
  });

  it('names NUL and unpaired surrogates in values and keys, and lets paired ones through', () => {
    expect(jsonProblem({ name: 'a\u0000b' })).toMatch(/NUL/);
    expect(jsonProblem({ name: ['x', '\ud800'] })).toMatch(/unpaired surrogate/);
    expect(jsonProblem({ ['\udc00key']: 1 })).toMatch(/unpaired surrogate/);
    expect(jsonProblem({ name: '😀 café' })).toBeUndefined();
    // The text backslash-u-d-A is no escape (a counterexample fast-check once found for the old oracle).
    expect(jsonProblem({ '': ['\\udA'] })).toBeUndefined();
    expect(jsonProblem(nested(65))).toBe('nests deeper than 64 levels');
  });

  it('finds a problem wherever it is, and nothing in well-formed JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        // The oracle reads the strings themselves (the JSON text of a literal backslash-u is no escape).
        const wellFormed = texts(value).every((text) => isWellFormed(text) && !text.includes('\u0000'));
        expect(jsonProblem(value) === undefined).toBe(wellFormed);
      }),
      { numRuns: 2000 },
    );
  });
});

/** Every string and key in a JSON value. */
function texts(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(texts);
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([key, child]) => [key, ...texts(child)]);
  return [];
}

const isWellFormed = (text: string) => (text as string & { isWellFormed(): boolean }).isWellFormed();
