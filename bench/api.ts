// The /api/v2 read endpoints over a month of data (issue 17): `npm run bench:api -- [--devices 2000]
// [--days 30] [--interval 300] [--calls 20]`. A fresh PostgreSQL database gets `devices` devices of one
// tenant reporting every `interval` seconds for `days` days up to now (straight SQL into daily partitions),
// `pulse rollup rebuild` builds the rollups as the product would, then `pulse run api` alone (over a private
// nats-server) answers every endpoint `calls` times per window — fleet-wide and per device, 1 h, 24 h, 7 d
// and 30 d — every other /api/v2 read (device states, track, fleet positions and summary, one alert, one rule,
// UI settings), and a device-month CSV export. Each call of an endpoint asks for another device, so its
// pages are cold in PostgreSQL's buffers unless an earlier endpoint read them; the first call's time is kept
// apart (`first_ms`) and counted in p95 too. Prints p50/p95 per endpoint and writes bench/results/api-*.json.
import { asSuperuser, dropDatabase, uniqueName, urlFor } from '../test/helpers/databases.js';
import { startNatsCluster } from '../test/helpers/nats.js';
import { pulseCli, startPulseServer, createViewer } from './pulse-process.js';
import { seedMonth } from './month-seed.js';
import { benchArgs, saveResult } from './results.js';

const args = benchArgs();
const DEVICES = Number(args.get('devices') ?? 2000);
const DAYS = Number(args.get('days') ?? 30);
const INTERVAL = Number(args.get('interval') ?? 300);
const CALLS = Number(args.get('calls') ?? 20);
/** `--keep yes` leaves the database for a closer look (EXPLAIN), and prints its name. */
const KEEP = args.get('keep') === 'yes' || args.has('reuse');
/**
 * `--reuse <database>` times the endpoints again on a kept database (migrated first) without seeding it;
 * give it the same --devices.
 */
const REUSE = args.get('reuse');
const TENANT = 'bench-api';
const NOW = Date.now();
const START = NOW - DAYS * 86_400_000;

const percentile = (samples: number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! * 10) / 10;
};

const database = REUSE ?? uniqueName('pulse_bench_api');
if (!REUSE) await asSuperuser((client) => client.query(`CREATE DATABASE ${database}`));
const nats = await startNatsCluster(1);
const env = {
  ...process.env,
  DATABASE_URL: urlFor(database),
  LOG_LEVEL: 'warn',
  HOST: '127.0.0.1',
  NATS_URL: nats.urls,
  API_RATE_LIMIT: '1000000',
};
const cli = pulseCli(env);
let server: Awaited<ReturnType<typeof startPulseServer>> | undefined;
try {
  cli('migrate');
  let seedSeconds = 0;
  let rebuildSeconds = 0;
  if (!REUSE)
    ({ seedSeconds, rebuildSeconds } = await seedMonth({
      database,
      tenant: TENANT,
      devices: DEVICES,
      days: DAYS,
      interval: INTERVAL,
      now: NOW,
      cli,
    }));
  const rawRows = Number(
    await asSuperuser(
      async (client) => (await client.query(`SELECT count(*) AS n FROM telemetry`)).rows[0].n,
      database,
    ),
  );
  const rollupRows = await asSuperuser(
    async (client) =>
      (
        await client.query<{ table: string; rows: string }>(
          `SELECT relname AS table, n_live_tup AS rows FROM pg_stat_user_tables
           WHERE relname LIKE 'telemetry_rollup_%' OR relname LIKE 'telemetry_fleet_%' ORDER BY 1`,
        )
      ).rows,
    database,
  );
  console.log(
    `${rawRows} raw rows; rollups${rebuildSeconds ? ` rebuilt in ${Math.round(rebuildSeconds)} s (${Math.round(rawRows / rebuildSeconds)} raw rows/s)` : ''}:`,
    Object.fromEntries(rollupRows.map((r) => [r.table, Number(r.rows)])),
  );

  server = await startPulseServer(['run', 'api'], env);
  const { base } = server;
  const { token } = createViewer(cli, TENANT);
  const get = async (path: string) => {
    const started = performance.now();
    const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const body = await response.text();
    if (!response.ok) throw new Error(`${path} answered ${response.status}: ${body}`);
    return { ms: performance.now() - started, body };
  };
  const device = (i: number) => `dev-${((i * 7919) % DEVICES) + 1}`;
  const [alertId, ruleId] = await asSuperuser(async (client) => {
    const alert = await client.query(`SELECT id FROM fleet_alert WHERE tenant_id = $1 ORDER BY id LIMIT 1`, [TENANT]);
    const rule = await client.query(`SELECT rule_id FROM alert_rules WHERE tenant_id = $1 LIMIT 1`, [TENANT]);
    return [alert.rows[0]?.id, rule.rows[0]?.rule_id];
  }, database);
  const windows = [
    ['1h', 1],
    ['24h', 24],
    ['7d', 168],
    ['30d', 720],
  ] as const;
  const endpoints: [string, (i: number) => string][] = [
    ['devices (page of 100)', () => '/api/v2/devices?limit=100'],
    ['device', (i) => `/api/v2/devices/${device(i)}`],
    ['device latest', (i) => `/api/v2/devices/${device(i)}/telemetry/latest`],
    ['device telemetry 24h (raw rows)', (i) => `/api/v2/devices/${device(i)}/telemetry?hours=24&limit=500`],
    ['alerts', () => '/api/v2/alerts?status=ALL&limit=100'],
    ['alert trend 7d', () => '/api/v2/alerts/trend?hours=168'],
    ['alert', () => `/api/v2/alerts/${alertId}`],
    ['alert rules', () => '/api/v2/alert-rules'],
    ['alert rule', () => `/api/v2/alert-rules/${ruleId}`],
    ['device states 24h', (i) => `/api/v2/devices/${device(i)}/states?metric=uplink_ok&hours=24`],
    ['device track 24h', (i) => `/api/v2/devices/${device(i)}/track?metric=position&hours=24`],
    ['fleet positions', () => '/api/v2/fleet/positions?metric=position'],
    ['fleet summary (statuses)', () => '/api/v2/fleet/summary'],
    ['ui settings', () => '/api/v2/ui-settings'],
    ...windows.flatMap(([name, hours]): [string, (i: number) => string][] => [
      [`fleet summary ${name}`, () => `/api/v2/telemetry/summary?hours=${hours}`],
      [`fleet chart ${name}`, () => `/api/v2/telemetry/chart?metric=temp_c&hours=${hours}`],
      [`device chart ${name}`, (i) => `/api/v2/telemetry/chart?metric=temp_c&device_id=${device(i)}&hours=${hours}`],
      [`device series ${name}`, (i) => `/api/v2/devices/${device(i)}/telemetry/series?hours=${hours}`],
    ]),
  ];
  const timings: Record<string, { p50_ms: number; p95_ms: number; first_ms: number; resolution?: string }> = {};
  for (const [name, path] of endpoints) {
    const first = (await get(path(0))).ms;
    const samples: number[] = [first];
    let resolution: string | undefined;
    for (let i = 1; i <= CALLS; i += 1) {
      const { ms, body } = await get(path(i));
      samples.push(ms);
      resolution ??= (JSON.parse(body) as { resolution?: string }).resolution;
    }
    timings[name] = {
      p50_ms: percentile(samples, 50),
      p95_ms: percentile(samples, 95),
      first_ms: Math.round(first * 10) / 10,
      ...(resolution && { resolution }),
    };
    console.log(
      `${name.padEnd(34)} p50 ${String(timings[name]!.p50_ms).padStart(7)} ms   p95 ${String(timings[name]!.p95_ms).padStart(7)} ms   first ${String(timings[name]!.first_ms).padStart(7)} ms  ${resolution ?? ''}`,
    );
  }

  const exportStarted = performance.now();
  const exported = await get(
    `/api/v2/devices/${device(1)}/telemetry/export?start=${new Date(START).toISOString()}&end=${new Date(NOW).toISOString()}`,
  );
  const exportSeconds = (performance.now() - exportStarted) / 1000;
  const exportRows = exported.body.split('\r\n').filter(Boolean).length - 1;
  console.log(
    `device-month CSV export: ${exportRows} rows in ${exportSeconds.toFixed(2)} s (${Math.round(exportRows / exportSeconds)} rows/s)`,
  );

  saveResult('api', {
    devices: DEVICES,
    days: DAYS,
    interval_seconds: INTERVAL,
    calls: CALLS,
    raw_rows: rawRows,
    ...(REUSE
      ? { reused_database: REUSE }
      : {
          seed_seconds: seedSeconds,
          rollup_rebuild_seconds: Math.round(rebuildSeconds * 10) / 10,
          rollup_rebuild_raw_rows_per_second: Math.round(rawRows / rebuildSeconds),
        }),
    rollup_rows: Object.fromEntries(rollupRows.map((r) => [r.table, Number(r.rows)])),
    endpoints: timings,
    slowest_p95_ms: Math.max(...Object.values(timings).map((t) => t.p95_ms)),
    slowest_endpoint: Object.entries(timings).sort((a, b) => b[1].p95_ms - a[1].p95_ms)[0]![0],
    export: {
      rows: exportRows,
      seconds: Math.round(exportSeconds * 100) / 100,
      rows_per_second: Math.round(exportRows / exportSeconds),
    },
  });
} finally {
  await server?.stop();
  await nats.close();
  if (KEEP) console.log(`kept database ${database}`);
  else await dropDatabase(database);
}
