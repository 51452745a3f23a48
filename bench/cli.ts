// How long the short CLI commands take from a shell: `pulse --help`, and `pulse user list` on an embedded
// database that already exists (the cost of every scripted `pulse user` / `pulse token` call) — each run
// straight (`node bin/pulse.js`) and as the README writes it (`npx pulse …`), beside `npx -c true`, what npm
// itself takes to start, the floor of any `npx` call. Runs each `--runs` times (`npm run bench:cli` builds
// the CLI first) and reports the median, the range and the max.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchArgs, saveResult } from './results.js';

const runs = Number(benchArgs().get('runs') ?? 10);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'pulse-bench-cli-'));
const env: NodeJS.ProcessEnv = { ...process.env, PULSE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
delete env.DATABASE_URL; // the embedded database

function time(command: string, args: string[]): { medianMs: number; minMs: number; maxMs: number } {
  const samples: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    execFileSync(command, args, { env, stdio: 'ignore' });
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const ms = (value: number) => Math.round(value);
  return { medianMs: ms(samples[Math.floor(runs / 2)]!), minMs: ms(samples[0]!), maxMs: ms(samples.at(-1)!) };
}

try {
  execFileSync(process.execPath, ['bin/pulse.js', 'migrate'], { env, stdio: 'ignore' }); // the database exists
  const node = (...args: string[]) => time(process.execPath, ['bin/pulse.js', ...args]);
  // Without the workspace's bin link, npx would look `pulse` up in the registry: not what is measured here.
  const linked = existsSync('node_modules/.bin/pulse');
  const npx = (...args: string[]) => (linked ? time('npx', ['--no-install', ...args]) : undefined);
  const result = {
    runs,
    help: node('--help'),
    userList: node('user', 'list'),
    npmFloor: npx('-c', 'true'),
    npxHelp: npx('pulse', '--help'),
    npxUserList: npx('pulse', 'user', 'list'),
  };
  const line = (name: string, t: ReturnType<typeof time> | undefined) =>
    console.log(
      `${name.padEnd(22)} ${t ? `median ${t.medianMs} ms (${t.minMs}–${t.maxMs})` : 'not measured: node_modules/.bin/pulse is missing, run `npm install`'}`,
    );
  line('pulse --help', result.help);
  line('pulse user list', result.userList);
  line('npx -c true (npm)', result.npmFloor);
  line('npx pulse --help', result.npxHelp);
  line('npx pulse user list', result.npxUserList);
  saveResult('cli', result);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
