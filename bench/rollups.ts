// What keeping the rollups costs (issue 17): `npm run bench:rollups -- [--devices 10000] [--rate 30000]
// [--seconds 60] [--metrics 4]`. Stores `rate` × `seconds` messages of `devices` devices (each with
// `metrics` numeric metrics, spread evenly over the window) into a fresh PostgreSQL database as ingest
// would, then lets the rollup worker's transactions (rollUpSlice, as `pulse` runs them) fold them in and
// reports how many messages per second one worker rolls up — against the ingest rate, the share of a core
// it needs to keep up. Writes bench/results/rollups-*.json.
//
// `--mode rebuild [--devices 2000] [--days 30] [--interval 300]` times `pulse rollup rebuild` instead (issue
// 35): `days` of `devices` devices reporting every `interval` seconds, stored straight into daily partitions,
// then rebuilt a day at a time as the CLI does (rebuildRollups) — each day's rate printed, from the first to
// the last — and, side by side on the same rows, a plain `INSERT … SELECT … GROUP BY` of each day into a bare
// table (the same 1-minute per-device aggregate, no upsert, no index): the floor the rebuild is held to.
// `--keep yes` leaves the database for EXPLAIN.
import { connect } from '../src/db/connection.js';
import { createDatabase, type Database } from '../src/db/database.js';
import { rebuildRollups } from '../src/model/rollup-rebuild.js';
import { migrate } from '../src/db/migrate.js';
import { rollUpSlice, rollupHorizon } from '../src/model/rollups.js';
import { asSuperuser, dropDatabase, uniqueName, urlFor } from '../test/helpers/databases.js';
import { benchArgs, saveResult } from './results.js';

const args = benchArgs();
const DEVICES = Number(args.get('devices') ?? 10_000);
const RATE = Number(args.get('rate') ?? 30_000);
const SECONDS = Number(args.get('seconds') ?? 60);
const METRICS = Number(args.get('metrics') ?? 4);
const SLICE_SECONDS = Number(args.get('slice') ?? 60);
const MODE = args.get('mode') ?? 'worker';

const database = uniqueName('pulse_bench_rollups');
await asSuperuser((client) => client.query(`CREATE DATABASE ${database}`));
const connection = await connect({ databaseUrl: urlFor(database), dataDir: 'memory://', poolSize: 4 });
try {
  await migrate(connection);
  const db = createDatabase(connection);
  if (MODE === 'rebuild') await benchRebuild(db);
  else await benchWorker(db);
} finally {
  await connection.close();
  if (args.get('keep') === 'yes') console.log(`kept database ${database}`);
  else await dropDatabase(database);
}

async function benchWorker(db: Database) {
  const messages = RATE * SECONDS;
  const metrics = Array.from({ length: METRICS }, (_, i) => `'m${i}', round((random() * 100)::numeric, 2)`).join(', ');
  console.log(
    `storing ${messages} messages of ${DEVICES} devices (${RATE} msg/s for ${SECONDS} s, ${METRICS} metrics each)…`,
  );
  // Stored as ingest stores them, one ingest second per batch: ingested_at follows the clock.
  for (let second = 0; second < SECONDS; second += 1) {
    await asSuperuser(
      (client) =>
        client.query(
          `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
           SELECT now() - make_interval(secs => $3::int - $4::int - i::float8 / $1::int), 'bench', 'dev-' || (($4::int * $1::int + i) % $2::int), 's',
                  'telemetry', i, jsonb_build_object(${metrics})
           FROM generate_series(0, $1::int - 1) AS i`,
          [RATE, DEVICES, SECONDS, second],
        ),
      database,
    );
  }
  const started = performance.now();
  let rolled = 0;
  let slices = 0;
  for (;;) {
    const horizon = await db.withService((tx) => rollupHorizon(tx, 0));
    const slice = (await db.withService((tx) => rollUpSlice(tx, horizon, SLICE_SECONDS)))!;
    rolled += slice.messages;
    slices += 1;
    if (slice.caughtUp) break;
  }
  const seconds = (performance.now() - started) / 1000;
  const perSecond = Math.round(rolled / seconds);
  const result = {
    devices: DEVICES,
    rate: RATE,
    seconds: SECONDS,
    metrics: METRICS,
    messages_rolled_up: rolled,
    slices,
    worker_seconds: Math.round(seconds * 10) / 10,
    messages_per_second: perSecond,
    core_share_at_rate: Math.round((RATE / perSecond) * 100) / 100,
  };
  console.log(
    `rolled up ${rolled} messages in ${result.worker_seconds} s: ${perSecond} msg/s — at ${RATE} msg/s ingest the worker is busy ${Math.round((RATE / perSecond) * 100)} % of the time`,
  );
  saveResult('rollups', result);
}

async function benchRebuild(db: Database) {
  const days = Number(args.get('days') ?? 30);
  const devices = Number(args.get('devices') ?? 2000);
  const interval = Number(args.get('interval') ?? 300);
  const today = Date.parse(new Date().toISOString().slice(0, 10));
  const first = today - days * 86_400_000;
  const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  console.log(`seeding ${devices} devices × ${days} days at one message per ${interval} s (${METRICS} metrics)…`);
  const seeding = performance.now();
  const metrics = Array.from({ length: METRICS }, (_, i) => `'m${i}', round((random() * 100)::numeric, 2)`).join(', ');
  await asSuperuser(async (client) => {
    for (let day = first; day < today; day += 86_400_000) {
      await client.query(`SELECT telemetry_ensure_partition($1::date)`, [isoDay(day)]);
      // Each device on its own phase within the interval, as a fleet reports.
      await client.query(
        `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
         SELECT t, 'bench', 'dev-' || d, 's', 'telemetry', 0, jsonb_build_object(${metrics})
         FROM generate_series(1, $1::int) AS d,
              generate_series($2::timestamptz, $2::timestamptz + interval '1 day' - interval '1 microsecond',
                              make_interval(secs => $3::int)) AS t0,
              LATERAL (SELECT t0 + make_interval(secs => (d * 37) % $3::int) AS t) AS shifted
         WHERE t < $2::timestamptz + interval '1 day'`,
        [devices, new Date(day), interval],
      );
    }
    await client.query(`VACUUM ANALYZE telemetry`);
  }, database);
  console.log(`seeded in ${Math.round((performance.now() - seeding) / 1000)} s`);

  const perDay: { day: string; messages: number; seconds: number; per_second: number }[] = [];
  // Timed here from one day's progress to the next (not from the progress' own fields): the same numbers
  // from a checkout before they existed, for a side-by-side run.
  let dayStarted = performance.now();
  let messagesBefore = 0;
  const started = performance.now();
  const rebuilt = await rebuildRollups(db, isoDay(first), {
    now: new Date(today - 1),
    onProgress: ({ day, messages }) => {
      const seconds = (performance.now() - dayStarted) / 1000;
      const dayMessages = messages - messagesBefore;
      const perSecond = Math.round(dayMessages / seconds);
      perDay.push({ day, messages: dayMessages, seconds: round(seconds), per_second: perSecond });
      console.log(`rebuilt ${day}: ${dayMessages} messages in ${seconds.toFixed(2)} s, ${perSecond} msg/s`);
      messagesBefore = messages;
      dayStarted = performance.now();
    },
  });
  const rebuildSeconds = (performance.now() - started) / 1000;

  // The floor: the same aggregate of the same rows, a day at a time, into a bare table.
  const plain: typeof perDay = [];
  await asSuperuser(async (client) => {
    await client.query(`SET work_mem = '64MB'`);
    await client.query(
      `CREATE TABLE plain_1m (tenant_id text, device_id text, metric text, bucket timestamptz, min float8,
                             max float8, sum float8, count int)`,
    );
    for (let day = first; day < today; day += 86_400_000) {
      const dayStarted = performance.now();
      const { rows } = await client.query<{ messages: number }>(
        `WITH inserted AS (
           INSERT INTO plain_1m
           SELECT t.tenant_id, t.device_id, m.key, date_bin(interval '1 minute', t.time, timestamptz '1970-01-01'),
                  min(m.value::text::float8), max(m.value::text::float8), sum(m.value::text::float8), count(*)
           FROM telemetry t CROSS JOIN LATERAL jsonb_each(t.metrics) AS m(key, value)
           WHERE t.time >= $1::timestamptz AND t.time < $1::timestamptz + interval '1 day'
           GROUP BY 1, 2, 3, 4 RETURNING 1)
         SELECT (SELECT count(*)::int FROM telemetry WHERE time >= $1::timestamptz AND time < $1::timestamptz + interval '1 day') AS messages,
                (SELECT count(*) FROM inserted) AS buckets`,
        [new Date(day)],
      );
      const seconds = (performance.now() - dayStarted) / 1000;
      const messages = rows[0]!.messages;
      plain.push({ day: isoDay(day), messages, seconds: round(seconds), per_second: Math.round(messages / seconds) });
    }
  }, database);
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const rebuildRate = median(perDay.map((d) => d.per_second));
  const plainRate = median(plain.map((d) => d.per_second));
  const third = Math.max(1, Math.floor(perDay.length / 3));
  const firstThird = median(perDay.slice(0, third).map((d) => d.per_second));
  const lastThird = median(perDay.slice(-third).map((d) => d.per_second));
  console.log(
    `rebuild: ${rebuilt.messages} messages in ${rebuildSeconds.toFixed(1)} s; per day median ${rebuildRate} msg/s ` +
      `(first third ${firstThird}, last third ${lastThird}); plain GROUP BY per day median ${plainRate} msg/s: ` +
      `rebuild at ${Math.round((rebuildRate / plainRate) * 100)} % of it`,
  );
  saveResult('rollups-rebuild', {
    devices,
    days,
    interval_seconds: interval,
    metrics: METRICS,
    messages: rebuilt.messages,
    rebuild_seconds: round(rebuildSeconds),
    rebuild_median_per_second: rebuildRate,
    rebuild_first_third_per_second: firstThird,
    rebuild_last_third_per_second: lastThird,
    plain_group_by_median_per_second: plainRate,
    share_of_plain_pct: Math.round((rebuildRate / plainRate) * 100),
    per_day: perDay,
    plain_per_day: plain,
  });
}

function round(seconds: number) {
  return Math.round(seconds * 100) / 100;
}
