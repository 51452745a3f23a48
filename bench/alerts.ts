// Evaluator benchmark: `npm run bench:alerts -- [--devices N] [--rate R] [--seconds S] [--stale-devices M]`.
// Runs Pulse's evaluator on a fresh PostgreSQL database and feeds it stored-message events at a steady rate
// (the bus is what ingest would drive), with one rule per device and 1 % of readings violating it. Reports
// p50/p99 from a violating message to its OPEN row, from a stale deadline to its NO_HEARTBEAT row, and the
// evaluator's memory with M silent devices. Writes bench/results/alerts-*.json.

import { asSuperuser, dropDatabase, uniqueName, urlFor } from '../test/helpers/databases.js';
import { startTestPlatform } from '../test/helpers/platform.js';
import { saveResult } from './results.js';
import type { AcceptedMessage } from '../src/contracts/messages.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const DEVICES = Number(args.get('devices') ?? 10_000);
const RATE = Number(args.get('rate') ?? 10_000);
const SECONDS = Number(args.get('seconds') ?? 10);
const STALE_DEVICES = Number(args.get('stale-devices') ?? 100_000);
const STALE_SECONDS = 5;

const database = uniqueName('pulse_bench_alerts');
await asSuperuser((client) => client.query(`CREATE DATABASE ${database}`));
const pulse = await startTestPlatform(
  'pglite',
  { DATABASE_URL: urlFor(database), HEARTBEAT_STALE_SECONDS: String(STALE_SECONDS) },
  ['evaluator'],
);
const percentile = (values: number[], p: number) =>
  values.sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? NaN;
const result: Record<string, number | string> = {
  devices: DEVICES,
  rate: RATE,
  seconds: SECONDS,
  stale_devices: STALE_DEVICES,
};
try {
  // One rule per device: rule r-N watches device d-N (through a site filter on the device's own site).
  await pulse.db.withOperator((tx) =>
    tx.query(
      `INSERT INTO alert_rules (tenant_id, rule_id, name, metric_name, operator, threshold, severity, site_ids)
       SELECT 'bench', 'r-' || i, 'rule ' || i, 'temp_c', 'GT', 50, 3, ARRAY['site-' || i] FROM generate_series(0, $1 - 1) AS i`,
      [DEVICES],
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 1500)); // rules poll

  // 1. Threshold alerts at a steady rate.
  const violatedAt = new Map<string, number>();
  const started = Date.now();
  let sent = 0;
  while (sent < RATE * SECONDS) {
    const due = Math.min(RATE * SECONDS, Math.floor(((Date.now() - started) / 1000) * RATE));
    const batch: AcceptedMessage[] = [];
    for (; sent < due; sent++) {
      const device = sent % DEVICES;
      const violating = sent % 100 === 0 && !violatedAt.has(`d-${device}`);
      if (violating) violatedAt.set(`d-${device}`, Date.now());
      batch.push({
        time: new Date(),
        tenant_id: 'bench',
        device_id: `d-${device}`,
        site_id: `site-${device}`,
        msg_type: 'telemetry',
        seq: sent,
        metrics: { temp_c: violating ? 60 : 20 },
      });
    }
    if (batch.length > 0) pulse.bus.publish('telemetry.stored', batch);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const opened = await pulse.db.withOperator((tx) =>
    tx.query<{ device_id: string; created_at: Date }>(
      `SELECT device_id, created_at FROM fleet_alert WHERE tenant_id = 'bench' AND alert_type = 'THRESHOLD'`,
    ),
  );
  const ruleLatency = opened.rows.map((row) => row.created_at.getTime() - violatedAt.get(row.device_id)!);
  Object.assign(result, {
    threshold_alerts_expected: violatedAt.size,
    threshold_alerts_opened: opened.rows.length,
    threshold_p50_ms: percentile(ruleLatency, 0.5),
    threshold_p99_ms: percentile(ruleLatency, 0.99),
  });

  // 2. Stale deadlines for many silent devices: one heartbeat each, then silence.
  const heapBefore = process.memoryUsage().heapUsed;
  const heartbeatAt = new Date();
  for (let i = 0; i < STALE_DEVICES; i += 5000) {
    pulse.bus.publish(
      'telemetry.stored',
      Array.from({ length: Math.min(5000, STALE_DEVICES - i) }, (_, j) => ({
        time: heartbeatAt,
        tenant_id: 'stale',
        device_id: `s-${i + j}`,
        site_id: 's',
        msg_type: 'heartbeat',
        seq: 0,
        metrics: {},
      })),
    );
  }
  await new Promise((resolve) => setTimeout(resolve, STALE_SECONDS * 1000 + 10_000));
  const heapAfter = process.memoryUsage().heapUsed;
  const stale = await pulse.db.withOperator((tx) =>
    tx.query<{ created_at: Date }>(
      `SELECT created_at FROM fleet_alert WHERE tenant_id = 'stale' AND alert_type = 'NO_HEARTBEAT'`,
    ),
  );
  const deadline = heartbeatAt.getTime() + STALE_SECONDS * 1000;
  const staleLatency = stale.rows.map((row) => row.created_at.getTime() - deadline);
  Object.assign(result, {
    stale_alerts_expected: STALE_DEVICES,
    stale_alerts_opened: stale.rows.length,
    stale_p50_ms: percentile(staleLatency, 0.5),
    stale_p99_ms: percentile(staleLatency, 0.99),
    evaluator_heap_growth_mb: Math.round((heapAfter - heapBefore) / 1048576),
    process_rss_mb: Math.round(process.memoryUsage().rss / 1048576),
  });
} finally {
  await pulse.stop();
  await dropDatabase(database);
}
console.table(result);
saveResult('alerts', result);
