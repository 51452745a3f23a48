// Telemetry export throughput and memory (issue 17): `npm run bench:export -- [--devices 10] [--days 30]
// [--interval 60]`, up to today (retention keeps 30 days). A fresh PostgreSQL database gets `devices` × a month of rows at one per `interval`
// seconds (straight SQL), then a `pulse up` process answers one device's month and the whole fleet's as CSV
// over HTTP. Reports rows/s, MB/s, and the server's resident memory before and at its peak during each
// export (sampled from /proc every 50 ms): constant memory means the peak does not grow with the rows.
// Side by side in the same run, the floor: `COPY (SELECT … ORDER BY …) TO STDOUT` of the same ordered rows
// (as CSV, straight from PostgreSQL, bytes counted and thrown away), and Pulse's rows/s as a share of it.
// Writes bench/results/export-*.json.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { asSuperuser, dropDatabase, uniqueName, urlFor } from '../test/helpers/databases.js';
import { pulseCli, startPulseServer, createViewer } from './pulse-process.js';
import { benchArgs, saveResult } from './results.js';

const args = benchArgs();
const DEVICES = Number(args.get('devices') ?? 10);
const DAYS = Number(args.get('days') ?? 29);
const INTERVAL = Number(args.get('interval') ?? 60);
const TENANT = 'bench-export';
// Up to the start of today, so that retention (TELEMETRY_RETENTION_DAYS, 30) keeps every row.
const END = new Date(new Date().toISOString().slice(0, 10)).getTime();
const START = END - DAYS * 86_400_000;

const rssMb = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return line ? Math.round(Number(line[1]) / 1024) : 0;
};

const database = uniqueName('pulse_bench_export');
await asSuperuser((client) => client.query(`CREATE DATABASE ${database}`));
const env = { ...process.env, DATABASE_URL: urlFor(database), LOG_LEVEL: 'warn', HOST: '127.0.0.1' };
const cli = pulseCli(env);
let server: Awaited<ReturnType<typeof startPulseServer>> | undefined;
try {
  cli('migrate');
  const perDevice = Math.floor((DAYS * 86_400) / INTERVAL);
  console.log(`seeding ${DEVICES} devices × ${perDevice} rows (${DAYS} days at one per ${INTERVAL} s)…`);
  await asSuperuser(async (client) => {
    await client.query(`INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)`, [TENANT]);
    await client.query(
      `INSERT INTO device_registry (tenant_id, device_id, site_id, status)
       SELECT $1, 'dev-' || d, 'site-1', 'ACTIVE' FROM generate_series(1, $2) AS d`,
      [TENANT, DEVICES],
    );
    await client.query(
      `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
       SELECT to_timestamp($3 / 1000.0) + i * make_interval(secs => $4), $1, 'dev-' || d, 'site-1', 'telemetry', i,
              jsonb_build_object('temp_c', 20 + (i % 50) * 0.1, 'battery_pct', 100 - (i % 100), 'uplink_ok', i % 7 <> 0)
       FROM generate_series(1, $2) AS d, generate_series(0, $5 - 1) AS i`,
      [TENANT, DEVICES, START, INTERVAL, perDevice],
    );
    await client.query(`ANALYZE telemetry`);
  }, database);
  server = await startPulseServer(['up'], env);
  // The rollup worker of `pulse up` first rolls up the month just stored: measured after it, not beside it.
  await asSuperuser(async (client) => {
    for (let i = 0; i < 600; i += 1) {
      const { rows } = await client.query(
        `SELECT ingested_through >= (SELECT max(ingested_at) FROM telemetry) AS done FROM rollup_state`,
      );
      if (rows[0].done) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }, database);
  const { base } = server;
  const { token } = createViewer(cli, TENANT);
  const window = `start=${new Date(START).toISOString()}&end=${new Date(END).toISOString()}`;

  const measure = async (name: string, path: string, header = true) => {
    const before = rssMb(server!.pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(server!.pid))), 50);
    const started = performance.now();
    const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
    let bytes = 0;
    let lines = 0;
    for await (const chunk of response.body!) {
      bytes += chunk.length;
      for (const byte of chunk) if (byte === 10) lines += 1;
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const rows = header ? lines - 1 : lines;
    const result = {
      rows,
      seconds: Math.round(seconds * 100) / 100,
      rows_per_second: Math.round(rows / seconds),
      mb_per_second: Math.round((bytes / 1e6 / seconds) * 10) / 10,
      rss_before_mb: before,
      rss_peak_mb: peak,
    };
    console.log(
      `${name.padEnd(14)} ${rows} rows in ${result.seconds} s: ${result.rows_per_second} rows/s, ${result.mb_per_second} MB/s; server RSS ${before} → peak ${peak} MB`,
    );
    return result;
  };
  const device = await measure('device month', `/api/v2/devices/dev-1/telemetry/export?${window}`);
  const fleet = await measure('fleet month', `/api/v2/telemetry/export?${window}`);
  const ndjson = await measure('fleet ndjson', `/api/v2/telemetry/export?${window}&format=ndjson`, false);
  const copy = await copyFloor();
  const share = (rowsPerSecond: number) => Math.round((rowsPerSecond / copy.rows_per_second) * 100);
  console.log(
    `COPY floor     ${copy.rows} rows in ${copy.seconds} s: ${copy.rows_per_second} rows/s; fleet CSV ${share(fleet.rows_per_second)} %, NDJSON ${share(ndjson.rows_per_second)} % of it`,
  );
  saveResult('export', {
    devices: DEVICES,
    days: DAYS,
    interval_seconds: INTERVAL,
    device,
    fleet,
    ndjson,
    copy,
    fleet_csv_share_of_copy_pct: share(fleet.rows_per_second),
    fleet_ndjson_share_of_copy_pct: share(ndjson.rows_per_second),
  });
} finally {
  await server?.stop();
  await dropDatabase(database);
}

/** The fleet month as `COPY (… ORDER BY …) TO STDOUT` CSV, as a superuser over one connection: the floor. */
async function copyFloor() {
  const client = new pg.Client({ connectionString: urlFor(database) });
  await client.connect();
  try {
    const started = performance.now();
    const stream = client.query(
      copyTo(
        `COPY (SELECT time, device_id, site_id, msg_type, seq, metrics FROM telemetry
               WHERE tenant_id = '${TENANT}' AND time >= '${new Date(START).toISOString()}' AND time < '${new Date(END).toISOString()}'
               ORDER BY time, device_id, seq, msg_type) TO STDOUT (FORMAT csv)`,
      ),
    );
    let rows = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) for (const byte of chunk) if (byte === 10) rows += 1;
    const seconds = (performance.now() - started) / 1000;
    return { rows, seconds: Math.round(seconds * 100) / 100, rows_per_second: Math.round(rows / seconds) };
  } finally {
    await client.end();
  }
}
