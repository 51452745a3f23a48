// Ingest while exports run: `npm run bench:export-ingest -- [--engine pglite|postgres] [--tenants 20]
// [--rows 5000]`. Each tenant has `rows` rows; one device posts telemetry over HTTP every 250 ms (within its rate limit), first alone,
// then while every tenant runs two exports at once (read to the end as fast as the client can). Reports the
// HTTP ingest latency (202 answered) p50/p99/max alone and during the exports, and how long they took.
import { startTestPlatform } from '../test/helpers/platform.js';
import { bearer, tokenFor } from '../test/helpers/identity.js';
import { provisionDevices } from '../test/helpers/provision.js';
import { benchArgs, saveResult } from './results.js';

const args = benchArgs();
const ENGINE = (args.get('engine') ?? 'pglite') as 'postgres' | 'pglite';
const TENANTS = Number(args.get('tenants') ?? 20);
const ROWS = Number(args.get('rows') ?? 5000);
const START = Date.UTC(2026, 10, 20);

const percentile = (values: number[], p: number) =>
  Math.round([...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? NaN);

const pulse = await startTestPlatform(ENGINE, { API_RATE_LIMIT: '100000' }, ['api', 'provision', 'ingest']);
const result: Record<string, number | string> = { engine: ENGINE, tenants: TENANTS, rows_per_tenant: ROWS };
try {
  const tokens = await provisionDevices(pulse.base, 'test-admin-key-0123456789', [
    { tenant_id: 'probe', device_id: 'probe-1', site_id: 's' },
  ]);
  const probeToken = tokens.get('probe/probe-1')!;
  const viewers: string[] = [];
  for (let t = 0; t < TENANTS; t += 1) {
    const tenant = `bx-${t}`;
    await pulse.db.withService(async (tx) => {
      await tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING`, [tenant]);
      await tx.query(
        `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
         SELECT to_timestamp($2 / 1000.0) + i * interval '10 seconds', $1, 'd-' || (i % 10), 's', 'telemetry', i,
                jsonb_build_object('temp_c', i, 'humidity_pct', 50)
         FROM generate_series(1, $3::int) AS i`,
        [tenant, START, ROWS],
      );
    });
    viewers.push(await tokenFor(pulse, { username: `bx-viewer-${t}`, role: 'customer_viewer', tenantId: tenant }));
  }

  let seq = 0;
  const ingestOnce = async () => {
    seq += 1;
    const started = performance.now();
    const answer = await fetch(`${pulse.base}/ingest/v1/tenant/probe/device/probe-1/telemetry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-provision-token': probeToken },
      body: JSON.stringify({ site_id: 's', seq, metrics: { temp_c: 20 } }),
    });
    await answer.text();
    if (answer.status !== 202) throw new Error(`ingest answered ${answer.status}`);
    return performance.now() - started;
  };
  const probe = async (until: () => boolean) => {
    const latencies: number[] = [];
    while (!until()) {
      latencies.push(await ingestOnce());
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return latencies;
  };

  let count = 0;
  const alone = await probe(() => ++count > 20);

  const window = `start=${new Date(START).toISOString()}&end=${new Date(START + 30 * 86_400_000).toISOString()}`;
  let exportsDone = false;
  const exportsStarted = performance.now();
  const exports = Promise.all(
    viewers.flatMap((token) =>
      [0, 1].map(async () => {
        const answer = await fetch(`${pulse.base}/api/v2/telemetry/export?${window}`, {
          headers: bearer(token) as Record<string, string>,
        });
        const text = await answer.text();
        return { status: answer.status, lines: text.split('\n').length };
      }),
    ),
  ).finally(() => (exportsDone = true));
  const during = await probe(() => exportsDone);
  const finished = await exports;
  Object.assign(result, {
    ingest_alone_p50_ms: percentile(alone, 0.5),
    ingest_alone_max_ms: percentile(alone, 1),
    exports: finished.length,
    exports_ok: finished.filter((e) => e.status === 200).length,
    exports_seconds: Math.round((performance.now() - exportsStarted) / 100) / 10,
    ingest_during_exports_samples: during.length,
    ingest_during_exports_p50_ms: percentile(during, 0.5),
    ingest_during_exports_p99_ms: percentile(during, 0.99),
    ingest_during_exports_max_ms: percentile(during, 1),
  });
} finally {
  await pulse.close();
}
console.table(result);
saveResult('export-ingest', result);
