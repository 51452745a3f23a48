// One owner per embedded database: PGlite is a single-process database with no lock of its own, and two
// processes on one data dir fork it (each sees only its own writes) or leave it unreadable. The process
// that opens it holds `pulse.lock` (its pid and, on Linux, its start time, so a recycled pid is not taken
// for the owner). A lock left by a dead process is taken over.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class DataDirInUse extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `the embedded database in ${dataDir} is in use by Pulse (pid ${pid}): stop that process first (pulse user, device and token commands go through it)`,
    );
  }
}

interface LockContent {
  pid: number;
  started?: string | undefined;
}

const lockFile = (dataDir: string) => path.resolve(dataDir, 'pulse.lock');

/** Takes the data dir for this process; throws DataDirInUse while another live process holds it. */
export function claimDataDir(dataDir: string): { release(): void } {
  const file = lockFile(dataDir);
  const mine: LockContent = { pid: process.pid, started: startTime(process.pid) };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(mine), { flag: 'wx', mode: 0o600 });
      return {
        release: () => {
          if (readLock(file)?.pid === process.pid) rmSync(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const held = readLock(file);
    if (held && isAlive(held)) throw new DataDirInUse(dataDir, held.pid);
    // Stale: move it aside (only one claimant's rename succeeds) and try again.
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
      rmSync(aside, { force: true });
    } catch {
      // another claimant moved it first
    }
  }
  throw new Error(`could not take ${file}: other processes keep claiming it`);
}

/** The pid of the live process holding the data dir, if any. */
export function dataDirOwner(dataDir: string): number | undefined {
  const held = readLock(lockFile(dataDir));
  return held && isAlive(held) ? held.pid : undefined;
}

function readLock(file: string): LockContent | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as LockContent;
    return Number.isInteger(parsed.pid) ? parsed : undefined;
  } catch {
    return undefined; // absent, or torn by a crash mid-write: nobody holds it
  }
}

function isAlive(lock: LockContent): boolean {
  if (lock.pid === process.pid) return true;
  try {
    process.kill(lock.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return lock.started === undefined || startTime(lock.pid) === lock.started;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined off Linux. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
