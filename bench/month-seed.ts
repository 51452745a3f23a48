// A month of a fleet's telemetry for the benchmarks that read it (bench:api, bench:dashboards): one tenant's
// devices reporting every `interval` seconds for `days` days up to now, straight SQL into daily partitions,
// some alerts, and the rollups rebuilt by `pulse rollup rebuild` as the product would.
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
  cli: Cli;
}) {
  const { database, tenant: TENANT, devices: DEVICES, days: DAYS, interval: INTERVAL, now: NOW, cli } = month;
  const START = NOW - DAYS * 86_400_000;
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
    for (let day = 0; day <= DAYS; day += 1) {
      const from = START + day * 86_400_000;
      const to = Math.min(NOW, from + 86_400_000);
      if (from >= to) break;
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
                jsonb_build_object('temp_c', round((20 + 8 * sin(extract(epoch FROM t) / 5000 + d))::numeric, 2),
                                   'battery_pct', 100 - (d + extract(epoch FROM t)::bigint / 3600) % 100,
                                   'uplink_ok', (d + extract(epoch FROM t)::bigint / 300) % 7 <> 0)
         FROM generate_series(1, $2) AS d,
              generate_series($3::timestamptz + make_interval(secs => 0), $4::timestamptz - interval '1 microsecond',
                              make_interval(secs => $5::int)) AS t0,
              LATERAL (SELECT t0 + make_interval(secs => (d * 37) % $5::int) AS t) AS shifted
         WHERE t < $4::timestamptz`,
        [TENANT, DEVICES, new Date(from), new Date(to), INTERVAL],
      );
      process.stdout.write(`\r  day ${day + 1}/${DAYS + 1}`);
    }
    process.stdout.write('\n');
    await client.query(`ANALYZE`);
  }, database);
  const seedSeconds = Math.round((performance.now() - seeding) / 1000);
  console.log(`seeded in ${seedSeconds} s`);
  const rebuilding = performance.now();
  cli('rollup', 'rebuild', '--since', new Date(START).toISOString().slice(0, 10));
  const rebuildSeconds = (performance.now() - rebuilding) / 1000;
  // As autovacuum would leave them in steady state: statistics fresh, visibility maps and BRIN summaries built.
  await asSuperuser((client) => client.query(`VACUUM ANALYZE`), database);
  return { seedSeconds, rebuildSeconds };
}
