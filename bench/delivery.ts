// Delivery benchmark: `npm run bench:delivery -- [--alerts N] [--receivers R]`. Runs the dispatcher and a
// delivery worker on a fresh PostgreSQL database, opens N alerts over R tenants (each routed to its own
// webhook receiver on 127.0.0.1; one receiver in ten answers 500 to every first attempt) the way the
// evaluator announces them, and reports alert-open → webhook-received p50/p99 for first attempts, jobs/s,
// duplicates and how every job ended. Writes bench/results/delivery-*.json.
import { startTestPlatform } from '../test/helpers/platform.js';
import { startWebhookReceiver } from '../test/helpers/receivers.js';
import { saveResult } from './results.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const ALERTS = Number(args.get('alerts') ?? 1000);
const RECEIVERS = Number(args.get('receivers') ?? 10);

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? NaN;

const seen = new Map<number, number>();
const receivers = await Promise.all(
  Array.from({ length: RECEIVERS }, (_, i) =>
    startWebhookReceiver((request) => {
      const alertId = request.json.alert_id as number;
      const times = (seen.get(alertId) ?? 0) + 1;
      seen.set(alertId, times);
      // Receiver 0 (one in ten) fails every first attempt.
      return i === 0 && times === 1 ? 500 : 200;
    }),
  ),
);
const pulse = await startTestPlatform(
  'postgres',
  {
    SSRF_ALLOWLIST: '127.0.0.1',
    WORKER_BACKOFF_BASE_SECONDS: '1',
    WORKER_BACKOFF_MAX_SECONDS: '2',
    WORKER_CONCURRENCY: '32',
    WORKER_TENANT_CONCURRENCY: '8',
  },
  ['dispatcher', 'delivery'],
);
const result: Record<string, number | string> = { alerts: ALERTS, receivers: RECEIVERS };
try {
  await pulse.db.withService(async (tx) => {
    for (let i = 0; i < RECEIVERS; i += 1) {
      const tenant = `bench-${i}`;
      await tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)`, [tenant]);
      const integration = await tx.query<{ integration_id: string }>(
        `INSERT INTO integrations (tenant_id, name, type, config_json) VALUES ($1, 'hook', 'webhook', $2) RETURNING integration_id`,
        [tenant, JSON.stringify({ url: `${receivers[i]!.url}/hook` })],
      );
      await tx.query(`INSERT INTO integration_routes (tenant_id, integration_id, name) VALUES ($1, $2, 'all')`, [
        tenant,
        integration.rows[0]!.integration_id,
      ]);
    }
  });

  // Alerts are committed in batches of 100 and announced on the bus, as the evaluator's store does.
  const openedAt = new Map<number, number>();
  const started = Date.now();
  for (let i = 0; i < ALERTS; i += 100) {
    const rows = await pulse.db.withService(
      async (tx) =>
        (
          await tx.query<{ id: number; tenant_id: string }>(
            `INSERT INTO fleet_alert (tenant_id, site_id, device_id, alert_type, fingerprint, severity, summary)
             SELECT 'bench-' || (n % $2), 's', 'd-' || n, 'THRESHOLD', 'RULE:r:d-' || n, 3, 'bench alert ' || n
             FROM generate_series($1::int, $1::int + 99) AS n RETURNING id, tenant_id`,
            [i, RECEIVERS],
          )
        ).rows,
    );
    const now = Date.now();
    for (const row of rows) {
      openedAt.set(row.id, now);
      pulse.bus.publish('alert.changed', {
        event: 'OPENED',
        alert_id: row.id,
        tenant_id: row.tenant_id,
        fingerprint: '',
      });
    }
  }

  const settled = async () =>
    (
      await pulse.db.withService((tx) =>
        tx.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM delivery_jobs GROUP BY status`),
      )
    ).rows.reduce<Record<string, number>>((all, row) => ({ ...all, [row.status]: row.n }), {});
  let counts = await settled();
  const deadline = Date.now() + 120_000;
  while ((counts.COMPLETED ?? 0) + (counts.FAILED ?? 0) < ALERTS && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    counts = await settled();
  }
  const elapsed = (Date.now() - started) / 1000;

  const firstAttempt = receivers
    .slice(1)
    .flatMap((r) => r.received.map((request) => request.at - openedAt.get(request.json.alert_id as number)!));
  const delivered = new Map<number, number>();
  for (const receiver of receivers) {
    for (const request of receiver.received) {
      const id = request.json.alert_id as number;
      delivered.set(id, (delivered.get(id) ?? 0) + 1);
    }
  }
  const duplicates = [...delivered.entries()].filter(
    ([id, n]) => n > (receivers[0]!.received.some((r) => r.json.alert_id === id) ? 2 : 1),
  ).length;
  Object.assign(result, {
    jobs: Object.values(counts).reduce((a, b) => a + b, 0),
    completed: counts.COMPLETED ?? 0,
    failed: counts.FAILED ?? 0,
    unaccounted: ALERTS - (counts.COMPLETED ?? 0) - (counts.FAILED ?? 0),
    duplicate_deliveries: duplicates,
    first_attempt_p50_ms: percentile(firstAttempt, 0.5),
    first_attempt_p99_ms: percentile(firstAttempt, 0.99),
    retried_jobs: receivers[0]!.received.filter((r) => seen.get(r.json.alert_id as number)! > 1).length / 2,
    seconds_to_settle: Math.round(elapsed * 10) / 10,
    jobs_per_second: Math.round((counts.COMPLETED ?? 0) / elapsed),
  });
} finally {
  await pulse.close();
  await Promise.all(receivers.map((r) => r.close()));
}
console.table(result);
saveResult('delivery', result);
