// Every benchmark prints its numbers and keeps them as JSON under bench/results/, with the machine it ran on.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';

export function saveResult(name: string, result: Record<string, unknown>): string {
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/${name}-${new Date().toISOString().replaceAll(':', '-')}.json`;
  const record = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, ...result };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`wrote ${file}`);
  return file;
}
