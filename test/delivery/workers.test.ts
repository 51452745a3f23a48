// Delivery workers on one PostgreSQL database: two workers never send a job twice, a noisy tenant
// cannot starve a quiet one, and a job a dead worker left PROCESSING is sent again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { urlFor } from '../helpers/databases.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { waitFor } from '../helpers/wait.js';

async function webhookRoute(db: Database, tenantId: string, url: string) {
  return db.withService(async (tx) => {
    await tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING`, [tenantId]);
    const integration = await tx.query<{ integration_id: string }>(
      `INSERT INTO integrations (tenant_id, name, type, config_json) VALUES ($1, 'hook', 'webhook', $2) RETURNING integration_id`,
      [tenantId, JSON.stringify({ url })],
    );
    const route = await tx.query<{ route_id: string }>(
      `INSERT INTO integration_routes (tenant_id, integration_id, name) VALUES ($1, $2, 'all') RETURNING route_id`,
      [tenantId, integration.rows[0]!.integration_id],
    );
    return { integrationId: integration.rows[0]!.integration_id, routeId: route.rows[0]!.route_id };
  });
}

async function queueJobs(
  db: Database,
  tenantId: string,
  target: { integrationId: string; routeId: string },
  count: number,
  firstAlertId: number,
) {
  await db.withService((tx) =>
    tx.query(
      `INSERT INTO delivery_jobs (tenant_id, alert_id, integration_id, route_id, deliver_on_event, payload_json)
       SELECT $1, n, $2, $3, 'OPEN', jsonb_build_object('alert_id', n, 'tenant_id', $1::text, 'event', 'OPEN')
       FROM generate_series($4::int, $4::int + $5::int - 1) AS n`,
      [tenantId, target.integrationId, target.routeId, firstAlertId, count],
    ),
  );
}

const statusCounts = async (db: Database, tenantId: string) =>
  (
    await db.withService((tx) =>
      tx.query<{ status: string; n: number }>(
        `SELECT status, count(*)::int AS n FROM delivery_jobs WHERE tenant_id = $1 GROUP BY status`,
        [tenantId],
      ),
    )
  ).rows.reduce<Record<string, number>>((all, row) => ({ ...all, [row.status]: row.n }), {});

describe('delivery workers', () => {
  let first: TestPlatform;
  let second: TestPlatform;
  const env = {
    SSRF_ALLOWLIST: '127.0.0.1',
    WORKER_POLL_SECONDS: '1',
    WORKER_CONCURRENCY: '8',
    WORKER_TENANT_CONCURRENCY: '8',
  };

  beforeAll(async () => {
    first = await startTestPlatform('postgres', env, ['delivery']);
    const url = urlFor(first.databaseLocation.split('/').pop()!);
    second = await startTestPlatform('postgres', { ...env, DATABASE_URL: url }, ['delivery']);
  }, 60_000);
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('two workers on one queue deliver each of 300 jobs exactly once', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const target = await webhookRoute(first.db, 'shared', `${receiver.url}/hook`);
      await queueJobs(first.db, 'shared', target, 300, 1);
      first.bus.publish('delivery.queued', { jobs: 300 });
      second.bus.publish('delivery.queued', { jobs: 300 });
      await waitFor(async () => (await statusCounts(first.db, 'shared')).COMPLETED === 300, 30_000);
      const alertIds = receiver.received.map((r) => r.json.alert_id as number);
      expect(alertIds).toHaveLength(300);
      expect(new Set(alertIds).size).toBe(300);
      const { rows } = await first.db.withService((tx) =>
        tx.query<{ attempts: number; max_no: number }>(
          `SELECT count(*)::int AS attempts, max(attempt_no)::int AS max_no FROM delivery_attempts WHERE tenant_id = 'shared'`,
        ),
      );
      expect(rows[0]).toEqual({ attempts: 300, max_no: 1 });
      // Both workers took part.
      const [a, b] = [first, second].map((p) => p.roles.find((r) => r.name === 'delivery')!.health() as Promise<any>);
      const processed = (await Promise.all([a, b])).map((h) => h.counters.jobs_processed as number);
      expect(processed[0]! + processed[1]!).toBe(300);
      expect(Math.min(...processed)).toBeGreaterThan(0);
    } finally {
      await receiver.close();
    }
  });

  it("keeps one tenant's backlog from starving another", async () => {
    const slow = await startWebhookReceiver(() => 200, 150);
    const quick = await startWebhookReceiver();
    const platform = await startTestPlatform(
      'postgres',
      { ...env, WORKER_CONCURRENCY: '4', WORKER_TENANT_CONCURRENCY: '2' },
      ['delivery'],
    );
    try {
      // The noisy tenant's receiver is slow and its 120 jobs are queued first.
      const noisy = await webhookRoute(platform.db, 'noisy', `${slow.url}/slow`);
      const quiet = await webhookRoute(platform.db, 'quiet', `${quick.url}/quick`);
      await queueJobs(platform.db, 'noisy', noisy, 120, 1000);
      await queueJobs(platform.db, 'quiet', quiet, 5, 5000);
      platform.bus.publish('delivery.queued', { jobs: 125 });
      await waitFor(async () => (await statusCounts(platform.db, 'quiet')).COMPLETED === 5, 20_000);
      expect((await statusCounts(platform.db, 'noisy')).COMPLETED ?? 0).toBeLessThan(60);
    } finally {
      await platform.close();
      await slow.close();
      await quick.close();
    }
  });

  it('sends again a job a dead worker left PROCESSING', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const target = await webhookRoute(first.db, 'stuck', `${receiver.url}/hook`);
      await queueJobs(first.db, 'stuck', target, 1, 9000);
      await first.db.withService((tx) =>
        tx.query(
          `UPDATE delivery_jobs SET status = 'PROCESSING', updated_at = now() - interval '10 minutes' WHERE tenant_id = 'stuck'`,
        ),
      );
      // A worker that starts now looks for stuck jobs first.
      const fresh = await startTestPlatform(
        'postgres',
        { ...env, DATABASE_URL: urlFor(first.databaseLocation.split('/').pop()!) },
        ['delivery'],
      );
      try {
        await waitFor(async () => (await statusCounts(first.db, 'stuck')).COMPLETED === 1, 10_000);
        expect(receiver.received.map((r) => r.json.alert_id)).toEqual([9000]);
      } finally {
        await fresh.close();
      }
    } finally {
      await receiver.close();
    }
  });
});
