// Dispatch cost of silences: `npm run bench:silences -- [--engine postgres|pglite] [--silences 1000]
// [--alerts 20]`. One tenant holds N running silences that match nothing (each ~60 KB of device ids, the
// largest the API once took; inserted directly, past the API's cap), and the dispatcher turns alert events
// into jobs one at a time. Reports alert-announced → job-stored p50/max and the process's peak RSS, so the
// dispatcher's cost per event can be compared with and without the silences (`--silences 0`).
import { startTestPlatform } from '../test/helpers/platform.js';
import { benchArgs, saveResult } from './results.js';

const args = benchArgs();
const ENGINE = (args.get('engine') ?? 'postgres') as 'postgres' | 'pglite';
const SILENCES = Number(args.get('silences') ?? 1000);
const ALERTS = Number(args.get('alerts') ?? 20);

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? NaN;

const pulse = await startTestPlatform(ENGINE, { HEARTBEAT_STALE_SECONDS: '3600' }, ['dispatcher']);
const result: Record<string, number | string> = { engine: ENGINE, silences: SILENCES, alerts: ALERTS };
try {
  await pulse.db.withService(async (tx) => {
    await tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ('bench', 'bench')`);
    const integration = await tx.query<{ integration_id: string }>(
      `INSERT INTO integrations (tenant_id, name, type, config_json)
       VALUES ('bench', 'hook', 'webhook', '{"url": "http://127.0.0.1:9/hook"}') RETURNING integration_id`,
    );
    await tx.query(`INSERT INTO integration_routes (tenant_id, integration_id, name) VALUES ('bench', $1, 'all')`, [
      integration.rows[0]!.integration_id,
    ]);
  });
  // 300 device ids of 200 characters each: ~60 KB per silence, none of them a device that alerts.
  for (let i = 0; i < SILENCES; i += 100) {
    await pulse.db.withTenant('bench', async (tx) => {
      await tx.query(
        `INSERT INTO silences (tenant_id, device_ids, starts_at, ends_at, comment)
         SELECT 'bench', ARRAY(SELECT 'other-' || n || '-' || d || repeat('x', 190) FROM generate_series(1, 300) AS d),
                now() - interval '1 hour', now() + interval '1 day', 'bench'
         FROM generate_series($1::int, LEAST($1::int + 99, $2::int - 1)) AS n`,
        [i, SILENCES],
      );
    });
  }

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  const latencies: number[] = [];
  for (let i = 0; i < ALERTS; i += 1) {
    const alertId = await pulse.db.withService(
      async (tx) =>
        (
          await tx.query<{ id: number }>(
            `INSERT INTO fleet_alert (tenant_id, site_id, device_id, alert_type, fingerprint, severity, summary)
             VALUES ('bench', 's', $1, 'THRESHOLD', $1, 3, 'bench alert') RETURNING id`,
            [`d-${i}`],
          )
        ).rows[0]!.id,
    );
    const announced = performance.now();
    pulse.bus.publish('alert.changed', { event: 'OPENED', alert_id: alertId, tenant_id: 'bench', fingerprint: '' });
    for (;;) {
      const { rows } = await pulse.db.withService((tx) =>
        tx.query(`SELECT 1 FROM delivery_jobs WHERE alert_id = $1`, [alertId]),
      );
      if (rows.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    latencies.push(performance.now() - announced);
  }
  clearInterval(sampler);
  Object.assign(result, {
    alert_to_job_p50_ms: Math.round(percentile(latencies, 0.5)),
    alert_to_job_max_ms: Math.round(Math.max(...latencies)),
    peak_rss_mb: Math.round(peakRss / 1048576),
  });
} finally {
  await pulse.close();
}
console.table(result);
saveResult('silences', result);
