// Once per run: builds the migrated databases every test file copies (databases.ts) before the files start,
// so files starting in parallel do not each build them; at the end drops the databases the helpers
// released, several at a time.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DROP_LIST_VARIABLE, dropDatabase, migratedPgliteDump, migratedTemplate, uniqueName } from './databases.js';

const PARALLEL_DROPS = 8;

export default async function prepareDatabases(): Promise<() => Promise<void>> {
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
