// Browsers compile an input's `pattern` with the `v` flag, where some characters must be escaped inside a
// class: a pattern that does not compile is ignored (Chromium only logs it), so the form checks nothing.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(path.join(dir, entry.name))
      : /\.tsx$/.test(entry.name)
        ? [path.join(dir, entry.name)]
        : [],
  );
}

describe('input patterns', () => {
  const patterns = sources(path.resolve('web/src')).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/\spattern="([^"]*)"/g)].map((match) => ({ file, pattern: match[1]! })),
  );

  it('are found', () => expect(patterns.length).toBeGreaterThan(0));

  it('compile as the browser compiles them', () => {
    for (const { file, pattern } of patterns) {
      expect(() => new RegExp(`^(?:${pattern})$`, 'v'), `${file}: ${pattern}`).not.toThrow();
    }
  });
});
