// Every benchmark prints its numbers and keeps them as JSON under bench/results/, with the machine it ran on.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type pg from 'pg';

export function saveResult(name: string, result: Record<string, unknown>): string {
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/${name}-${new Date().toISOString().replaceAll(':', '-')}.json`;
  const record = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, ...result };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`wrote ${file}`);
  return file;
}

/** `--name value` pairs of the command line. */
export function benchArgs(): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 2; i < process.argv.length; i += 2)
    args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
  return args;
}

/** Telemetry rows once they stop coming (unchanged for 5 s), or as soon as `expected` are there. */
export async function storedWhenSettled(sql: pg.Pool, expected: number): Promise<number> {
  const count = async () => Number((await sql.query(`SELECT count(*) AS n FROM telemetry`)).rows[0].n);
  let stored = await count();
  for (let still = 0; still < 5 && stored < expected;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const next = await count();
    still = next === stored ? still + 1 : 0;
    stored = next;
  }
  return stored;
}
