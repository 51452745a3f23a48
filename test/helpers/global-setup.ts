// Once per run: builds the server when a source is newer than its build (tests run `pulse` as users do, from
// dist/: no transpiling in every process they start) and the migrated databases every test file copies
// (databases.ts) before the files start, so files starting in parallel do not each build them; at the end
// drops the databases the helpers released, several at a time.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DROP_LIST_VARIABLE, dropDatabase, migratedPgliteDump, migratedTemplate, uniqueName } from './databases.js';

const PARALLEL_DROPS = 8;

/** The newest modification time of a file under `dir`, in ms. */
function newestUnder(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** `npm run build:server` unless dist/ is newer than every file of src/ (`npm install` built it in CI). */
function buildServerIfStale(): void {
  const built = 'dist/app/cli.js';
  if (existsSync(built) && statSync(built).mtimeMs >= newestUnder('src')) return;
  console.log('tests: src/ is newer than dist/, building the server (npm run build:server)');
  execFileSync('npm', ['run', 'build:server'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export default async function prepare(): Promise<() => Promise<void>> {
  buildServerIfStale();
  await Promise.all([migratedTemplate(), migratedPgliteDump()]);
  const dropList = path.join(tmpdir(), `${uniqueName('pulse-test-drops')}.txt`);
  process.env[DROP_LIST_VARIABLE] = dropList;
  return async () => {
    if (!existsSync(dropList)) return;
    const names = readFileSync(dropList, 'utf8').split('\n').filter(Boolean);
    rmSync(dropList);
    for (let start = 0; start < names.length; start += PARALLEL_DROPS) {
      await Promise.all(names.slice(start, start + PARALLEL_DROPS).map(dropDatabase));
    }
  };
}
