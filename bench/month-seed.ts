// A month of a fleet's telemetry for the benchmarks that read it (bench:api, bench:dashboards): one tenant's
// devices reporting every `interval` seconds for `days` days up to now, straight SQL into daily partitions,
// some alerts, and the rollups rebuilt by `pulse rollup rebuild` as the product would. With `rawDays`, only
// the last UTC days from that many days ago on are stored as raw rows and rebuilt; the days before get
// their 1-hour rollups (device, site and fleet) and 1-day ones (device) computed in SQL from the same
// readings: what a long-running Pulse holds for reads of a month, at a fraction of the seeding time (no
// 1-minute rollups for those days).
import { asSuperuser } from '../test/helpers/databases.js';
import type { Cli } from './pulse-process.js';

/** The tenant, its devices and alerts, `days` of telemetry up to `now`, and the rollups rebuilt from it. */
export async function seedMonth(month: {
  database: string;
  tenant: string;
  devices: number;
  days: number;
  /** Seconds between two readings of a device. */
  interval: number;
  now: number;
  /** Days stored as raw rows (from the UTC midnight that many days ago); all of them when undefined. */
  rawDays?: number | undefined;
  cli: Cli;
}) {
  const { database, tenant: TENANT, devices: DEVICES, days: DAYS, interval: INTERVAL, now: NOW, cli } = month;
  const START = NOW - DAYS * 86_400_000;
  const RAW_START =
    month.rawDays === undefined
      ? START
      : Math.max(START, Math.floor((NOW - month.rawDays * 86_400_000) / 86_400_000) * 86_400_000);
  const perDevice = Math.floor((DAYS * 86_400) / INTERVAL);
  const seeding = performance.now();
  console.log(`seeding ${DEVICES} devices × ${perDevice} rows (${DAYS} days at one per ${INTERVAL} s)…`);
  await asSuperuser(async (client) => {
    await client.query(`INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)`, [TENANT]);
    await client.query(
      `INSERT INTO device_registry (tenant_id, device_id, site_id, status)
       SELECT $1, 'dev-' || d, 'site-' || (d % 20), 'ACTIVE' FROM generate_series(1, $2) AS d`,
      [TENANT, DEVICES],
    );
    await client.query(
      `INSERT INTO device_state (tenant_id, site_id, device_id, status, last_seen_at, last_telemetry_at, state)
       SELECT $1, 'site-' || (d % 20), 'dev-' || d, 'ONLINE', now(), now(), '{"temp_c": 21.5, "battery_pct": 80}'
       FROM generate_series(1, $2) AS d`,
      [TENANT, DEVICES],
    );
    await client.query(
      `INSERT INTO fleet_alert (tenant_id, site_id, device_id, alert_type, fingerprint, status, severity, confidence, summary, created_at)
       SELECT $1, 'site-1', 'dev-' || (i % $2 + 1), 'THRESHOLD', 'f-' || i, CASE WHEN i % 10 = 0 THEN 'OPEN' ELSE 'CLOSED' END,
              3, 0.9, 'temp_c above 30', now() - make_interval(mins => i)
       FROM generate_series(1, 5000) AS i`,
      [TENANT, DEVICES],
    );
    await client.query(
      `INSERT INTO alert_rules (tenant_id, name, metric_name, operator, threshold)
       SELECT $1, 'temp ' || i, 'temp_c', 'GT', 25 + i FROM generate_series(1, 20) AS i`,
      [TENANT],
    );
    // By UTC day, so no hour is split between two of them.
    for (let from = START, to = 0; from < RAW_START; from = to) {
      to = Math.min(RAW_START, (Math.floor(from / 86_400_000) + 1) * 86_400_000);
      await client.query(
        `WITH readings AS (${READINGS}),
         samples AS (
           SELECT r.d, r.t, s.metric, s.v, s.bool FROM readings r CROSS JOIN LATERAL (VALUES
             ('temp_c', r.temp_c, false), ('battery_pct', r.battery_pct, false),
             ('uplink_ok', CASE WHEN r.uplink_ok THEN 1 ELSE 0 END, true), ('#messages', 1, false)) AS s(metric, v, bool))
         INSERT INTO telemetry_rollup_1h (tenant_id, device_id, metric, bucket, min, max, sum, count, last, last_time, bool)
         SELECT $1, 'dev-' || d, metric, date_bin(interval '1 hour', t, timestamptz '1970-01-01 00:00:00+00'),
                min(v), max(v), sum(v), count(*), (array_agg(v ORDER BY t DESC))[1], max(t), bool_and(bool)
         FROM samples GROUP BY d, metric, 4`,
        [TENANT, DEVICES, new Date(from), new Date(to), INTERVAL],
      );
      await client.query(
        `INSERT INTO telemetry_fleet_1h (tenant_id, metric, bucket, min, max, sum, count, bool)
         SELECT tenant_id, metric, bucket, min(min), max(max), sum(sum), sum(count), bool_and(bool)
         FROM telemetry_rollup_1h WHERE tenant_id = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1, 2, 3`,
        [TENANT, new Date(from), new Date(to)],
      );
      // Each device's site is 'site-' || (d % 20), as the registry's.
      await client.query(
        `INSERT INTO telemetry_site_1h (tenant_id, site_id, metric, bucket, min, max, sum, count, bool)
         SELECT tenant_id, 'site-' || (substring(device_id FROM 5)::int % 20), metric, bucket, min(min), max(max),
                sum(sum), sum(count), bool_and(bool)
         FROM telemetry_rollup_1h WHERE tenant_id = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1, 2, 3, 4`,
        [TENANT, new Date(from), new Date(to)],
      );
      await client.query(
        `INSERT INTO telemetry_rollup_1d (tenant_id, device_id, metric, bucket, min, max, sum, count, last, last_time, bool)
         SELECT tenant_id, device_id, metric, date_trunc('day', bucket AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', min(min),
                max(max), sum(sum), sum(count), (array_agg(last ORDER BY last_time DESC))[1], max(last_time), bool_and(bool)
         FROM telemetry_rollup_1h WHERE tenant_id = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1, 2, 3, 4`,
        [TENANT, new Date(from), new Date(to)],
      );
      process.stdout.write(`\r  rollups of ${new Date(from).toISOString().slice(0, 10)}`);
    }
    for (let from = RAW_START; from < NOW; from += 86_400_000) {
      const to = Math.min(NOW, from + 86_400_000);
      await client.query(`SELECT telemetry_ensure_partition(($1::timestamptz AT TIME ZONE 'UTC')::date)`, [
        new Date(from),
      ]);
      await client.query(`SELECT telemetry_ensure_partition(($1::timestamptz AT TIME ZONE 'UTC')::date)`, [
        new Date(to),
      ]);
      // Each device reports on its own phase within the interval.
      await client.query(
        `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
         SELECT t, $1, 'dev-' || d, 'site-' || (d % 20), 'telemetry', 0,
                jsonb_build_object('temp_c', temp_c, 'battery_pct', battery_pct, 'uplink_ok', uplink_ok)
         FROM (${READINGS}) AS readings`,
        [TENANT, DEVICES, new Date(from), new Date(to), INTERVAL],
      );
      process.stdout.write(`\r  raw rows of ${new Date(from).toISOString().slice(0, 10)}`);
    }
    process.stdout.write('\n');
    await client.query(`ANALYZE`);
  }, database);
  const seedSeconds = Math.round((performance.now() - seeding) / 1000);
  console.log(`seeded in ${seedSeconds} s`);
  const rebuilding = performance.now();
  cli('rollup', 'rebuild', '--since', new Date(RAW_START).toISOString().slice(0, 10));
  const rebuildSeconds = (performance.now() - rebuilding) / 1000;
  // As autovacuum would leave them in steady state: statistics fresh, visibility maps and BRIN summaries built.
  await asSuperuser((client) => client.query(`VACUUM ANALYZE`), database);
  return { seedSeconds, rebuildSeconds };
}

/**
 * Every device's readings from $3 to $4 ($2 devices, one per $5 seconds, each on its own phase):
 * (d, t, temp_c, battery_pct, uplink_ok).
 */
const READINGS = `
  SELECT d, t, round((20 + 8 * sin(extract(epoch FROM t) / 5000 + d))::numeric, 2)::float8 AS temp_c,
         (100 - (d + extract(epoch FROM t)::bigint / 3600) % 100)::float8 AS battery_pct,
         (d + extract(epoch FROM t)::bigint / 300) % 7 <> 0 AS uplink_ok
  FROM generate_series(1, $2) AS d,
       generate_series($3::timestamptz, $4::timestamptz - interval '1 microsecond', make_interval(secs => $5::int)) AS t0,
       LATERAL (SELECT t0 + make_interval(secs => (d * 37) % $5::int) AS t) AS shifted
  WHERE t < $4::timestamptz`;
