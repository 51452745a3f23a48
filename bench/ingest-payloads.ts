// Ingest CPU per message, numbers only against numbers + a text state + a position (issue 31), side by
// side in one run: `npm run bench:ingest-payloads -- [--rounds 3] [--devices N] [--messages M] [--rate R]`.
// Runs bench/ingest.ts for each payload in turn, `rounds` times (alternating, so drifts of a shared
// machine fall on both), and prints medians and ranges of Pulse's and PostgreSQL's CPU per stored message.
// Writes bench/results/ingest-payloads-*.json.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { benchArgs, saveResult } from './results.js';

const args = benchArgs();
const ROUNDS = Number(args.get('rounds') ?? 3);
const passed = ['devices', 'messages', 'rate', 'qos'].flatMap((name) =>
  args.has(name) ? [`--${name}`, args.get(name)!] : [],
);
const PAYLOADS = ['numbers', 'mixed'] as const;
const FIELDS = ['pulse_cpu_us_per_msg', 'pg_cpu_us_per_msg', 'sustained_msg_per_s', 'lost'] as const;

const runs: Record<(typeof PAYLOADS)[number], Record<string, number>[]> = { numbers: [], mixed: [] };
for (let round = 1; round <= ROUNDS; round++) {
  for (const payload of PAYLOADS) {
    console.log(`round ${round}/${ROUNDS}: ${payload}`);
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/ingest.ts', ...passed, '--payload', payload], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const written = /wrote (\S+\.json)/.exec(child.stdout)?.[1];
    if (child.status !== 0 || !written) throw new Error(`bench:ingest --payload ${payload} failed:\n${child.stdout}`);
    runs[payload].push(JSON.parse(readFileSync(written, 'utf8')) as Record<string, number>);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const summary = Object.fromEntries(
  PAYLOADS.map((payload) => [
    payload,
    Object.fromEntries(
      FIELDS.map((field) => {
        const values = runs[payload].map((run) => Number(run[field]));
        return [field, `${median(values)} (${Math.min(...values)}–${Math.max(...values)})`];
      }),
    ),
  ]),
);
console.table(summary);
saveResult('ingest-payloads', { rounds: ROUNDS, summary, runs });
