// Comments cite docs/wire-contract.md by section: every cited section must exist, and no comment may cite
// the sections of a document outside the repository again (applied migrations excepted: they are checksummed).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CONTRACT = 'docs/wire-contract.md';
const MIGRATIONS = path.join('src', 'db', 'migrations');

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.(ts|tsx|sql)$/.test(file))
    .map((file) => path.join(dir, file));
}

const files = ['src', 'test', 'web/src', 'scripts'].flatMap(sourceFiles);

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchorOf = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replaceAll(' ', '-');

describe('citations of the wire contract', () => {
  it('name sections that exist', () => {
    const anchors = new Set(
      readFileSync(path.join(ROOT, CONTRACT), 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('## '))
        .map((line) => anchorOf(line.slice(3))),
    );
    const cited = files.flatMap((file) =>
      [...readFileSync(path.join(ROOT, file), 'utf8').matchAll(/docs\/wire-contract\.md#([\w-]+)/g)].map(
        ([, anchor]) => `${file}#${anchor}`,
      ),
    );
    expect(cited.length).toBeGreaterThan(30);
    expect(cited.filter((citation) => !anchors.has(citation.split('#')[1]!))).toEqual([]);
  });

  it('replace the sections of the outside reference', () => {
    const outside = files
      .filter((file) => !file.startsWith(MIGRATIONS))
      .filter((file) => /\breference\b[^\n]*§\s*\d/i.test(readFileSync(path.join(ROOT, file), 'utf8')));
    expect(outside).toEqual([]);
  });
});
