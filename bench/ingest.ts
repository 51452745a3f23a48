// Ingest benchmark: `npm run bench:ingest -- [--devices N] [--messages M] [--rate R|max] [--qos 0|1]`.
// Starts its own Mosquitto (deploy/mosquitto.conf on a free port), a fresh PostgreSQL database and Pulse
// (`pulse run ingest provision` in a child process), provisions N devices through the API, publishes M
// messages with the simulator's metrics from a cheap raw-socket generator (bench/mqtt-load.ts), then reports sent / stored /
// rejected / lost, sustained msg/s and p50/p99 publish→row latency, and the PostgreSQL CPU (from /proc) its
// backends spent per stored message. Writes bench/results/ingest-*.json.
//   --rollups worker|after   worker (default): the rollup worker runs as deployed, its cost inside Pulse's
//                            backends; after: it is off while publishing, then the bench rolls everything up
//                            in ROLLUP_INTERVAL_SECONDS slices on a connection of its own, so the split shows
//   --telemetry-index btree|brin|none   idx_telemetry_tenant_time as migrated, as BRIN on time, or dropped
//   --payload numbers|mixed   the simulator's numbers (default), or with a text state and a position added
//                            to every message (issue 31); bench:ingest-payloads runs both side by side
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { connect } from '../src/db/connection.js';
import { createDatabase } from '../src/db/database.js';
import { rollUpSlice, rollupHorizon } from '../src/model/rollups.js';
import { asSuperuser, dropDatabase, uniqueName, urlFor } from '../test/helpers/databases.js';
import { freePort, startMosquitto } from '../test/helpers/mosquitto.js';
import { provisionDevices } from '../test/helpers/provision.js';
import { RawPublisher, sendAll, simulatedTelemetry } from './mqtt-load.js';
import { benchArgs, saveResult, storedWhenSettled } from './results.js';
import { processCpuSeconds, samplePostgresCpu } from './cpu.js';

const args = benchArgs();
const DEVICES = Number(args.get('devices') ?? 1000);
const MESSAGES = Number(args.get('messages') ?? 300_000);
const RATE = args.get('rate') === undefined || args.get('rate') === 'max' ? Infinity : Number(args.get('rate'));
const QOS = Number(args.get('qos') ?? 0) as 0 | 1;
const PUBLISHERS = Number(args.get('publishers') ?? 4);
// Ingest processes sharing the subscription, as a scaled-out deployment would run them.
const INSTANCES = Number(args.get('instances') ?? 1);
// --drain: publish everything while Pulse is stopped (the broker queues it for Pulse's persistent
// session), then start Pulse and time how fast it drains: ingest capacity without the load generator.
const DRAIN = args.has('drain');
const ROLLUPS = (args.get('rollups') ?? 'worker') as 'worker' | 'after';
const TELEMETRY_INDEX = (args.get('telemetry-index') ?? 'btree') as 'btree' | 'brin' | 'none';
const PAYLOAD = (args.get('payload') ?? 'numbers') as 'numbers' | 'mixed';
const MODES = ['AUTO', 'DEFROST', 'COOLING', 'IDLE'];
/** A text state and a position with every message: a state that changes now and then, a device that moves. */
const mixed = (metrics: Record<string, number | boolean>, sent: number, device: number) => ({
  ...metrics,
  mode: MODES[Math.floor(sent / 7_919 + device) % MODES.length],
  position: { lat: 52 + ((device * 37 + sent) % 1000) / 10_000, lon: 5 + (device % 100) / 1000, acc: 8 },
});
const ROLLUP_SLICE_SECONDS = 5; // what the worker folds per run at its default interval
const ADMIN_KEY = 'bench-admin-key-0123456789';

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const children: ChildProcess[] = [];
const stopChildren = () => children.forEach((child) => child.kill('SIGTERM'));
process.on('exit', stopChildren);

// 1. Mosquitto with our shipped configuration on a port of its own.
const mosquitto = await startMosquitto();
const mqttPort = mosquitto.port;
const mqttUrl = mosquitto.url;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'pulse-bench-'));

// 2. A fresh database and Pulse in its own process.
const database = uniqueName('pulse_bench');
await asSuperuser((client) => client.query(`CREATE DATABASE ${database}`));
const httpPort = await freePort();
const env = {
  ...process.env,
  DATABASE_URL: urlFor(database),
  MQTT_URL: mqttUrl,
  MQTT_CLIENT_ID: `pulse-bench-${process.pid}`,
  PORT: String(httpPort),
  HOST: '127.0.0.1',
  ADMIN_KEY,
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
  PULSE_DATA_DIR: dataDir,
  ...(ROLLUPS === 'after' && { ROLLUP_INTERVAL_SECONDS: '3600' }),
};
// The compiled program, as users run it (`npm run bench:ingest` builds it first).
const cli = ['--max-semi-space-size=64', 'dist/app/cli.js']; // the flags bin/pulse.js runs with
await new Promise<void>((resolve, reject) =>
  spawn(process.execPath, [...cli, 'migrate'], { env, stdio: 'ignore' }).on('exit', (code) =>
    code === 0 ? resolve() : reject(new Error('migrate failed')),
  ),
);
const api = `http://127.0.0.1:${httpPort}`;
const startPulse = async () => {
  const started: ChildProcess[] = [];
  for (let instance = 0; instance < INSTANCES; instance++) {
    const port = instance === 0 ? httpPort : await freePort();
    const child = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []),
        ...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : []),
        ...cli,
        'run',
        'ingest',
        ...(instance === 0 ? ['provision'] : []),
      ],
      {
        env: { ...env, PORT: String(port), MQTT_CLIENT_ID: `${env.MQTT_CLIENT_ID}-${instance}` },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    children.push(child);
    started.push(child);
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, 30_000, 'pulse');
  }
  return started;
};
const stopPulse = async (processes: ChildProcess[]) => {
  for (const child of processes) child.kill('SIGTERM');
  await Promise.all(processes.map((child) => new Promise((resolve) => child.once('exit', resolve))));
};
let pulse = await startPulse();

const rows = new pg.Pool({ connectionString: urlFor(database), application_name: 'pulse-bench' });
const result: Record<string, unknown> = {};
try {
  if (TELEMETRY_INDEX !== 'btree') await rows.query(`DROP INDEX idx_telemetry_tenant_time`);
  if (TELEMETRY_INDEX === 'brin')
    await rows.query(`CREATE INDEX idx_telemetry_time_brin ON telemetry USING brin (time)`);
  await rows.query(
    `INSERT INTO app_settings (key, value) VALUES ('RATE_LIMIT_RPS', '100000'), ('RATE_LIMIT_BURST', '100000')`,
  );

  // 3. Devices, provisioned and activated through the API.
  const plan = Array.from({ length: DEVICES }, (_, i) => ({
    tenant_id: 'bench',
    device_id: `dev-${i}`,
    site_id: 'lab-1',
  }));
  const byKey = await provisionDevices(api, ADMIN_KEY, plan);
  const tokens = plan.map((device) => byKey.get(`bench/${device.device_id}`)!);
  await new Promise((resolve) => setTimeout(resolve, 6000)); // app_settings poll
  if (DRAIN) await stopPulse(pulse);

  // 4. Publish: every message encoded before the clock starts (bench/mqtt-load.ts), spread round-robin
  // over devices, sent in ticks over PUBLISHERS connections.
  const messages = simulatedTelemetry({
    tokens,
    count: MESSAGES,
    qos: QOS,
    siteId: 'lab-1',
    seed: 42,
    ...(PAYLOAD === 'mixed' && { adjust: mixed }),
  });
  const publishers = await Promise.all(
    Array.from({ length: PUBLISHERS }, (_, i) =>
      RawPublisher.connect('127.0.0.1', mqttPort, `bench-pub-${i}-${process.pid}`),
    ),
  );
  const postgresCpu = samplePostgresCpu(rows, database);
  await postgresCpu.start();
  const pulseCpu = () => pulse.reduce((sum, child) => sum + (processCpuSeconds(child.pid!) ?? 0), 0);
  const pulseCpuBefore = pulseCpu();
  const publishSeconds = await sendAll(publishers, messages, { rate: RATE });
  const sent = messages.length;
  if (DRAIN) pulse = await startPulse();

  // 5. Wait until the rows stop coming.
  const stored = await storedWhenSettled(rows, MESSAGES);
  // The worker's share counts only once it has rolled up the last row (it stays ROLLUP_LAG_SECONDS behind).
  if (ROLLUPS === 'worker') {
    await waitUntil(
      async () =>
        (
          await rows.query<{ done: boolean }>(
            `SELECT ingested_through >= (SELECT max(ingested_at) FROM telemetry) AS done FROM rollup_state`,
          )
        ).rows[0]!.done,
      60_000,
      'the rollups',
    );
  }
  const cpuByKind = await postgresCpu.stop();
  const pulseCpuSeconds = DRAIN ? undefined : pulseCpu() - pulseCpuBefore;
  const rollupCpu = ROLLUPS === 'after' ? await rollUpMeasured() : undefined;
  const perMessage = (seconds: number) => Math.round((seconds / stored) * 1e7) / 10; // µs, one decimal
  const ingestCpu = Object.values(cpuByKind).reduce((sum, seconds) => sum + seconds, 0);
  // What Pulse itself counted, next to what the database holds.
  const health = (await (await fetch(`${api}/health`)).json()) as {
    components: { ingest?: { counters?: Record<string, number>; rejected_by_reason?: Record<string, number> } };
  };
  const stats = (
    await rows.query(`
      SELECT extract(epoch FROM max(ingested_at) - ${DRAIN ? 'min(ingested_at)' : 'min(time)'}) AS span_s,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ingested_at - time)) AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM ingested_at - time)) AS p99,
             percentile_cont(0.999) WITHIN GROUP (ORDER BY extract(epoch FROM ingested_at - time)) AS p999,
             max(extract(epoch FROM ingested_at - time)) AS max
      FROM telemetry`)
  ).rows[0];
  // Steady state: the first two seconds hold JIT warm-up and connection set-up. The write rate while
  // publishing is what was stored between then and the last publish: it equals the offered rate when
  // Pulse keeps up and falls below it when it does not (the span to the last row would also count the
  // final partial batch's FLUSH_INTERVAL_MS linger).
  const steady = (
    await rows.query(`
      WITH bounds AS (SELECT min(time) + interval '2 seconds' AS lo, max(time) AS hi FROM telemetry)
      SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM ingested_at - time))
               FILTER (WHERE time >= lo) AS p99,
             count(*) FILTER (WHERE ingested_at BETWEEN lo AND hi) / nullif(extract(epoch FROM hi - lo), 0) AS rate,
             extract(epoch FROM max(ingested_at) - hi) AS tail_s
      FROM telemetry, bounds GROUP BY lo, hi`)
  ).rows[0];
  const rejected = Number(
    (await rows.query(`SELECT coalesce(sum(cnt), 0) AS n FROM quarantine_counters_minute`)).rows[0].n,
  );
  Object.assign(result, {
    devices: DEVICES,
    messages: MESSAGES,
    mode: DRAIN ? 'drain' : 'live',
    offered_rate: RATE === Infinity ? 'max' : RATE,
    qos: QOS,
    publishers: PUBLISHERS,
    ingest_instances: INSTANCES,
    sent,
    stored,
    rejected,
    lost: sent - stored - rejected,
    publish_seconds: Math.round(publishSeconds * 100) / 100,
    offered_msg_per_s: Math.round(sent / publishSeconds),
    sustained_msg_per_s: Math.round(DRAIN ? stored / Number(stats.span_s) : Number(steady.rate)),
    ...(!DRAIN && { stored_within_s_of_last_publish: Math.round(Number(steady.tail_s) * 100) / 100 }),
    latency_p50_ms: Math.round(Number(stats.p50) * 1000),
    latency_p99_ms: Math.round(Number(stats.p99) * 1000),
    latency_p999_ms: Math.round(Number(stats.p999) * 1000),
    latency_max_ms: Math.round(Number(stats.max) * 1000),
    latency_p99_after_2s_ms: Math.round(Number(steady.p99) * 1000),
    rollups: ROLLUPS,
    telemetry_index: TELEMETRY_INDEX,
    payload: PAYLOAD,
    // Pulse's own processes while ingesting (not with --drain: they start after the publishing).
    ...(pulseCpuSeconds !== undefined && { pulse_cpu_us_per_msg: perMessage(pulseCpuSeconds) }),
    // PostgreSQL CPU per stored message: Pulse's backends (and autovacuum) while ingesting, plus — with
    // --rollups after — the bench's roll-up of the same rows.
    pg_cpu_us_per_msg: perMessage(ingestCpu + (rollupCpu ?? 0)),
    ...Object.fromEntries(
      Object.entries(cpuByKind).map(([kind, seconds]) => [`pg_cpu_us_${kind}`, perMessage(seconds)]),
    ),
    ...(rollupCpu !== undefined && { pg_cpu_us_rollups_after: perMessage(rollupCpu) }),
    ...Object.fromEntries(
      Object.entries(health.components.ingest?.counters ?? {}).map(([name, value]) => [`pulse_${name}`, value]),
    ),
    ...Object.fromEntries(
      Object.entries(health.components.ingest?.rejected_by_reason ?? {}).map(([reason, n]) => [
        `pulse_rejected_${reason}`,
        n,
      ]),
    ),
  });
  await Promise.all(publishers.map((publisher) => publisher.close()));
} finally {
  await rows.end();
  await stopPulse(pulse);
  stopChildren();
  await mosquitto.close();
  await dropDatabase(database);
}

/**
 * Rolls up everything stored, in slices of ROLLUP_SLICE_SECONDS of ingest as the worker would have,
 * on one connection; returns the CPU seconds its backend used.
 */
async function rollUpMeasured(): Promise<number> {
  const connection = await connect({
    databaseUrl: urlFor(database),
    dataDir: 'memory://',
    poolSize: 1,
    applicationName: 'bench rollups',
  });
  try {
    const db = createDatabase(connection);
    const pid = (await db.withService((tx) => tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))).rows[0]!
      .pid;
    const before = processCpuSeconds(pid)!;
    for (;;) {
      const horizon = await db.withService((tx) => rollupHorizon(tx, 0));
      const slice = (await db.withService((tx) => rollUpSlice(tx, horizon, ROLLUP_SLICE_SECONDS)))!;
      if (slice.caughtUp) break;
    }
    return processCpuSeconds(pid)! - before;
  } finally {
    await connection.close();
  }
}

console.table(result);
saveResult('ingest', result);
