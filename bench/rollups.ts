// What keeping the rollups costs (issue 17): `npm run bench:rollups -- [--devices 10000] [--rate 30000]
// [--seconds 60] [--metrics 4]`. Stores `rate` × `seconds` messages of `devices` devices (each with
// `metrics` numeric metrics, spread evenly over the window) into a fresh PostgreSQL database as ingest
// would, then lets the rollup worker's transactions (rollUpSlice, as `pulse` runs them) fold them in and
// reports how many messages per second one worker rolls up — against the ingest rate, the share of a core
// it needs to keep up. Writes bench/results/rollups-*.json.
import { connect } from '../src/db/connection.js';
import { createDatabase } from '../src/db/database.js';
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

const database = uniqueName('pulse_bench_rollups');
await asSuperuser((client) => client.query(`CREATE DATABASE ${database}`));
const connection = await connect({ databaseUrl: urlFor(database), dataDir: 'memory://', poolSize: 4 });
try {
  await migrate(connection);
  const db = createDatabase(connection);
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
} finally {
  await connection.close();
  await dropDatabase(database);
}
