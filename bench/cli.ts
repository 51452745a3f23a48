// How long the short CLI commands take from a shell: `pulse --help`, and `pulse user list` on an embedded
// database that already exists (the cost of every scripted `pulse user` / `pulse token` call). Runs the
// built CLI (`npm run bench:cli` builds it first) `--runs` times each and reports the median and the max.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchArgs, saveResult } from './results.js';

const runs = Number(benchArgs().get('runs') ?? 10);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'pulse-bench-cli-'));
const env: NodeJS.ProcessEnv = { ...process.env, PULSE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
delete env.DATABASE_URL; // the embedded database

function time(args: string[]): { medianMs: number; maxMs: number } {
  const samples: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    execFileSync(process.execPath, ['bin/pulse.js', ...args], { env, stdio: 'ignore' });
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { medianMs: Math.round(samples[Math.floor(runs / 2)]!), maxMs: Math.round(samples.at(-1)!) };
}

try {
  execFileSync(process.execPath, ['bin/pulse.js', 'migrate'], { env, stdio: 'ignore' }); // the database exists
  const result = { runs, help: time(['--help']), userList: time(['user', 'list']) };
  console.log(`pulse --help      median ${result.help.medianMs} ms, max ${result.help.maxMs} ms`);
  console.log(
    `pulse user list   median ${result.userList.medianMs} ms, max ${result.userList.maxMs} ms (embedded PGlite)`,
  );
  saveResult('cli', result);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
