// The embedded data dir is private: the database files (which hold the built-in issuer's signing key)
// and every directory above them are the running user's only. PGlite creates files 0666 whatever the
// umask; the ones it makes while running are out of reach behind 0700 directories.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connection.js';
import { migrate } from '../../src/db/migrate.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'pulse-private-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Every path under dir whose mode lets group or others in. */
function notPrivate(dir: string): string[] {
  const open: string[] = [];
  const visit = (entry: string) => {
    const stat = statSync(entry);
    if (stat.mode & 0o077) open.push(`${path.relative(dataDir, entry) || '.'} ${(stat.mode & 0o777).toString(8)}`);
    if (stat.isDirectory()) for (const name of readdirSync(entry)) visit(path.join(entry, name));
  };
  visit(dir);
  return open;
}

describe('embedded data dir', () => {
  it('closes the data dir and makes the database files private, existing or new', async () => {
    chmodSync(dataDir, 0o755);
    // A database file left by an earlier version, and a file of the user's own beside the database.
    mkdirSync(path.join(dataDir, 'pgdata', 'base'), { recursive: true, mode: 0o755 });
    writeFileSync(path.join(dataDir, 'pgdata', 'base', 'old-segment'), 'x');
    chmodSync(path.join(dataDir, 'pgdata', 'base', 'old-segment'), 0o666);
    writeFileSync(path.join(dataDir, 'notes.txt'), 'mine');
    chmodSync(path.join(dataDir, 'notes.txt'), 0o644);

    const first = await connect({ dataDir });
    expect(statSync(dataDir).mode & 0o777).toBe(0o700); // nobody else gets past this
    // A file the database creates while it runs is private from its first byte (the process umask).
    writeFileSync(path.join(dataDir, 'pgdata', 'created-while-running'), 'x');
    expect(statSync(path.join(dataDir, 'pgdata', 'created-while-running')).mode & 0o777).toBe(0o600);
    expect(notPrivate(path.join(dataDir, 'pgdata'))).toEqual([]);
    expect(statSync(path.join(dataDir, 'notes.txt')).mode & 0o777).toBe(0o644); // not ours to change
    try {
      await migrate(first); // files PGlite creates while it runs (0666, behind the closed directory)
    } finally {
      await first.close();
    }
    // The next start makes those 0600 too.
    await (await connect({ dataDir })).close();
    expect(notPrivate(path.join(dataDir, 'pgdata'))).toEqual([]);
  });
});
