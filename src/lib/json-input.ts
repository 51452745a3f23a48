// Checks of parsed JSON that no schema expresses: how deep it nests (JSON.stringify and every recursive
// walk overflow the stack on a few thousand levels), and text PostgreSQL cannot store (NUL, an unpaired
// surrogate). Iterative, so the check itself cannot overflow.

export const MAX_JSON_DEPTH = 64;

/** Whether arrays and objects in `value` nest deeper than `maxDepth`. */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > maxDepth) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

// eslint-disable-next-line no-control-regex -- NUL is exactly what is looked for
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with a request body for the database, in words for a 400; undefined when nothing. */
export function jsonProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  // One walk for both checks: this runs on every JSON request body.
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item === 'string') {
      if (UNSTORABLE.test(item)) return 'holds a NUL character or an unpaired surrogate (\\u0000, \\ud800…)';
    } else if (typeof item === 'object' && item !== null) {
      if (depth > maxDepth) return `nests deeper than ${maxDepth} levels`;
      if (!Array.isArray(item)) for (const key of Object.keys(item)) stack.push([key, depth]);
      for (const child of Array.isArray(item) ? item : Object.values(item)) stack.push([child, depth + 1]);
    }
  }
  return undefined;
}
