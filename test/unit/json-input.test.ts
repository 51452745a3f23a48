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
    expect(jsonProblem(nested(65))).toBe('nests deeper than 64 levels');
  });

  it('finds a problem wherever it is, and nothing in well-formed JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        const text = JSON.stringify(value);
        const wellFormed = !/\\u0000|\\ud[89a-f]/i.test(text) && !text.includes('\u0000');
        expect(jsonProblem(value) === undefined).toBe(wellFormed);
      }),
      { numRuns: 2000 },
    );
  });
});
