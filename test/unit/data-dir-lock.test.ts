// One owner per embedded data dir: a live owner is refused, a dead one's lock (or a recycled pid's, or a
// torn one) is taken over, and release leaves no lock behind. (Another live process refused: test/cli.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimDataDir, dataDirOwner, DataDirInUse } from '../../src/lib/data-dir-lock.js';

describe('the data dir lock', () => {
  let dir: string;
  const lock = () => path.join(dir, 'pulse.lock');
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pulse-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is held by one process until released, and is private', () => {
    const held = claimDataDir(dir);
    expect(dataDirOwner(dir)).toBe(process.pid);
    expect(() => claimDataDir(dir)).toThrow(DataDirInUse);
    expect(() => claimDataDir(dir)).toThrow(`is in use by Pulse (pid ${process.pid})`);
    held.release();
    expect(existsSync(lock())).toBe(false);
    expect(dataDirOwner(dir)).toBeUndefined();
    claimDataDir(dir).release();
  });

  it('takes over a lock whose process is gone', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid!;
    writeFileSync(lock(), JSON.stringify({ pid: dead }));
    expect(dataDirOwner(dir)).toBeUndefined();
    const held = claimDataDir(dir);
    expect(JSON.parse(readFileSync(lock(), 'utf8')).pid).toBe(process.pid);
    held.release();
  });

  it('takes over a lock whose pid now belongs to another process, and a torn one', () => {
    // The parent is alive, but it started at another time than the lock says: not the owner.
    writeFileSync(lock(), JSON.stringify({ pid: process.ppid, started: '1' }));
    claimDataDir(dir).release();
    writeFileSync(lock(), '{"pid":');
    claimDataDir(dir).release();
  });

  it('takes over the lock a process left behind when it died without releasing it', () => {
    const other = spawnSync(process.execPath, [
      '--import',
      'tsx',
      '-e',
      `import('${path.resolve('src/lib/data-dir-lock.ts')}').then(({ claimDataDir }) => { claimDataDir(${JSON.stringify(dir)}); console.log('held') })`,
    ]);
    // It exited holding the lock, as after kill -9: the lock is stale, so ours.
    expect(other.stdout.toString()).toContain('held');
    expect(existsSync(lock())).toBe(true);
    claimDataDir(dir).release();
  });
});
