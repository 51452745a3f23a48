// Delivery failures are seen (issue 29 item 4): an integration whose receiver refuses every connection
// turns failing — logged once, shown in the customer's list and the operators' listing, and announced as
// an INTEGRATION_FAILING alert routed like any other, never to the failing integration itself — and
// healthy again on its next success, logged once. Real receivers on 127.0.0.1 (a refused one is a closed
// port), both engines; several workers on one PostgreSQL database log the change once between them.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthAfter, healthChange, type HealthState } from '../../src/model/integration-health.js';
import { ENGINES, urlFor } from '../helpers/databases.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startDeliveryPlatform, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { refusingUrl, startWebhookReceiver } from '../helpers/receivers.js';
import { seedAlert } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

/** A logger at info whose JSON lines the test reads. */
function capturedLog() {
  const lines: { level: number; msg: string; [field: string]: unknown }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const WARN = 40;
  const INFO = 30;
  const about = (integrationId: string, level: number, words: string) =>
    lines.filter((line) => line.integration_id === integrationId && line.level === level && line.msg.includes(words));
  return {
    log: pino({ level: 'info', base: undefined }, stream),
    failing: (integrationId: string) => about(integrationId, WARN, 'integration failing'),
    recovered: (integrationId: string) => about(integrationId, INFO, 'integration recovered'),
  };
}

describe('integration health', () => {
  const failed = { ok: false, jobFailed: false };
  it.each<[string, HealthState, number, { ok: boolean; jobFailed: boolean }, HealthState, number]>([
    ['a success makes it healthy', 'unknown', 0, { ok: true, jobFailed: false }, 'healthy', 0],
    ['a success after failures makes it healthy', 'failing', 7, { ok: true, jobFailed: false }, 'healthy', 0],
    ['two failures in a row are not yet failing', 'healthy', 1, failed, 'healthy', 2],
    ['the third failure in a row is failing', 'healthy', 2, failed, 'failing', 3],
    ['never tried and failing twice stays unknown', 'unknown', 1, failed, 'unknown', 2],
    ['a job ending FAILED is failing at once', 'healthy', 0, { ok: false, jobFailed: true }, 'failing', 1],
    ['failing stays failing', 'failing', 5, failed, 'failing', 6],
  ])('%s', (_name, state, consecutive, attempt, expectedState, expectedConsecutive) => {
    expect(healthAfter({ state, consecutive_failures: consecutive }, attempt, 3)).toEqual({
      state: expectedState,
      consecutive_failures: expectedConsecutive,
    });
  });

  it.each<[HealthState, HealthState, string | undefined]>([
    ['healthy', 'failing', 'failing'],
    ['unknown', 'failing', 'failing'],
    ['failing', 'healthy', 'recovered'],
    ['unknown', 'healthy', undefined],
    ['failing', 'failing', undefined],
  ])('%s → %s is %s', (before, after, change) => {
    expect(healthChange(before, after)).toBe(change);
  });
});

describe.each(ENGINES)('delivery failures are seen on %s', (engine) => {
  let pulse: TestPlatform;
  const captured = capturedLog();
  const tokens: Record<string, string> = {};
  const call = callerFor(() => pulse, tokens);
  let pager: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let later: Awaited<ReturnType<typeof startWebhookReceiver>>;

  beforeAll(async () => {
    pager = await startWebhookReceiver();
    later = await startWebhookReceiver();
    pulse = await startDeliveryPlatform(
      engine,
      ['ih-a', 'ih-b'],
      {
        WORKER_BACKOFF_BASE_SECONDS: '1',
        WORKER_BACKOFF_MAX_SECONDS: '1',
        WORKER_MAX_ATTEMPTS: '5',
        INTEGRATION_FAILING_AFTER: '3',
      },
      { log: captured.log },
    );
    tokens.a = await tokenFor(pulse, { username: 'ih-a-admin', role: 'customer_admin', tenantId: 'ih-a' });
    tokens.b = await tokenFor(pulse, { username: 'ih-b-admin', role: 'customer_admin', tenantId: 'ih-b' });
    tokens.operator = await tokenFor(pulse, { username: 'ih-operator', role: 'operator' });
  }, 90_000);
  afterAll(async () => {
    await pulse?.close();
    await pager?.close();
    await later?.close();
  });

  const integrate = async (name: string, url: string) => {
    const created = await call('a', '/customer/integrations', 'POST', { name, webhook_url: url });
    expect(created.status).toBe(200);
    return created.body.integration_id as string;
  };
  const route = async (integrationId: string, filter: Record<string, unknown> = {}) =>
    expect(
      (
        await call('a', '/customer/integration-routes', 'POST', {
          integration_id: integrationId,
          deliver_on: ['OPEN', 'CLOSED'],
          ...filter,
        })
      ).status,
    ).toBe(200);
  const healthIn = async (tenant: string, integrationId: string) =>
    (await call(tenant, '/customer/integrations')).body.integrations.find(
      (i: { integration_id: string }) => i.integration_id === integrationId,
    )?.health;
  const jobsOf = async (alertId: number) =>
    (
      await pulse.db.withService((tx) =>
        tx.query<{ job_id: number; integration_id: string; event: string; status: string }>(
          `SELECT job_id, integration_id, deliver_on_event AS event, status FROM delivery_jobs WHERE alert_id = $1
           ORDER BY job_id`,
          [alertId],
        ),
      )
    ).rows;
  const failingAlert = async (integrationId: string) =>
    (
      await pulse.db.withService((tx) =>
        tx.query<{ id: number; status: string; device_id: string }>(
          `SELECT id, status, device_id FROM fleet_alert WHERE alert_type = 'INTEGRATION_FAILING' AND integration_id = $1`,
          [integrationId],
        ),
      )
    ).rows;

  it('an integration refusing every connection turns failing once, pages through another, and recovers once', async () => {
    // Every alert goes to the dead webhook; INTEGRATION_FAILING alerts also go to the pager.
    const dead = await integrate('dead', await refusingUrl());
    const paging = await integrate('pager', `${pager.url}/page`);
    await route(dead);
    await route(paging, { alert_types: ['INTEGRATION_FAILING'] });
    expect(await healthIn('a', dead)).toMatchObject({ state: 'unknown', consecutive_failures: 0 });

    const alertId = await seedAlert(pulse.db, { tenantId: 'ih-a', deviceId: 'pump-1' });
    pulse.bus.publish('alert.changed', { event: 'OPENED', alert_id: alertId, tenant_id: 'ih-a', fingerprint: 'x' });
    await waitFor(async () => (await jobsOf(alertId))[0]?.status === 'FAILED', 30_000);

    // Five refused attempts, one warning: at the third.
    expect(captured.failing(dead)).toHaveLength(1);
    expect(captured.failing(dead)[0]).toMatchObject({
      tenant_id: 'ih-a',
      integration_name: 'dead',
      consecutive_failures: 3,
    });
    expect(String(captured.failing(dead)[0]!.error)).toMatch(/ECONNREFUSED/);
    const health = await healthIn('a', dead);
    expect(health).toMatchObject({ state: 'failing', consecutive_failures: 5, last_success_at: null });
    expect(health.last_error).toMatch(/ECONNREFUSED/);
    expect(Date.parse(health.last_failure_at)).not.toBeNaN();

    // The alert about it went to the pager and never to the dead webhook, though its route takes every alert.
    await waitFor(() => pager.received.length === 1, 15_000);
    const [opened] = await failingAlert(dead);
    expect(opened).toMatchObject({ status: 'OPEN', device_id: '' });
    expect(pager.received[0]!.json).toMatchObject({
      alert_type: 'INTEGRATION_FAILING',
      event: 'OPEN',
      tenant_id: 'ih-a',
      details: { integration_id: dead, integration_name: 'dead' },
    });
    expect((await jobsOf(opened!.id)).map((job) => job.integration_id)).toEqual([paging]);

    // Operators see it among every tenant's failing integrations.
    const fleet = await call('operator', '/operator/integrations?state=failing');
    expect(fleet.status).toBe(200);
    expect(fleet.body.integrations.map((i: { integration_id: string }) => i.integration_id)).toEqual([dead]);
    expect(fleet.body.integrations[0]).toMatchObject({ tenant_id: 'ih-a', health: { state: 'failing' } });

    // Pointed at a receiver that answers, its failed job retried: healthy, said once, the alert closed.
    const moved = await call('a', `/customer/integrations/${dead}`, 'PATCH', { webhook_url: `${later.url}/hook` });
    expect(moved.status).toBe(200);
    const [job] = await jobsOf(alertId);
    expect((await call('a', `/customer/deliveries/${job!.job_id}/retry`, 'POST')).status).toBe(202);
    await waitFor(async () => (await healthIn('a', dead))?.state === 'healthy', 15_000);
    expect(captured.recovered(dead)).toHaveLength(1);
    expect(captured.failing(dead)).toHaveLength(1);
    expect(await healthIn('a', dead)).toMatchObject({ consecutive_failures: 0 });
    expect((await failingAlert(dead))[0]).toMatchObject({ status: 'CLOSED' });
    await waitFor(() => pager.received.length === 2, 15_000);
    expect(pager.received[1]!.json).toMatchObject({ alert_type: 'INTEGRATION_FAILING', event: 'CLOSED' });
    expect(later.received.every((request) => request.json.alert_type !== 'INTEGRATION_FAILING')).toBe(true);
    expect((await call('operator', '/operator/integrations?state=failing')).body.integrations).toEqual([]);
  }, 60_000);

  it('a failing integration deleted takes its alert with it: closed, and the pager told', async () => {
    const doomed = await integrate('doomed', await refusingUrl());
    await route(doomed);
    const alertId = await seedAlert(pulse.db, { tenantId: 'ih-a', deviceId: 'pump-2' });
    pulse.bus.publish('alert.changed', { event: 'OPENED', alert_id: alertId, tenant_id: 'ih-a', fingerprint: 'z' });
    await waitFor(async () => (await failingAlert(doomed))[0]?.status === 'OPEN', 30_000);
    // The pager's route (the test above) takes every INTEGRATION_FAILING alert.
    const closedToPager = () =>
      pager.received.filter((r) => r.json?.event === 'CLOSED' && r.json?.details?.integration_id === doomed);

    // Another tenant cannot delete it.
    expect((await call('b', `/customer/integrations/${doomed}`, 'DELETE')).status).toBe(404);
    expect((await failingAlert(doomed))[0]).toMatchObject({ status: 'OPEN' });
    expect((await call('a', `/customer/integrations/${doomed}`, 'DELETE')).status).toBe(204);
    expect((await failingAlert(doomed))[0]).toMatchObject({ status: 'CLOSED' });
    await waitFor(() => closedToPager().length === 1, 15_000);
  }, 60_000);

  it("another tenant sees none of an integration's health", async () => {
    const listedToB = await call('b', '/customer/integrations');
    expect(listedToB.status).toBe(200);
    expect(listedToB.body.integrations).toEqual([]);
    const listedToA = await call('a', '/customer/integrations');
    expect(listedToA.body.integrations.length).toBeGreaterThan(0);
    const rowsSeenByB = await pulse.db.withTenant('ih-b', (tx) =>
      tx.query(`SELECT * FROM integration_health WHERE tenant_id = 'ih-a'`),
    );
    expect(rowsSeenByB.rows).toEqual([]);
  });
});

describe('two workers on one PostgreSQL database', () => {
  const env = {
    SSRF_ALLOWLIST: '127.0.0.1',
    WORKER_POLL_SECONDS: '1',
    WORKER_CONCURRENCY: '8',
    WORKER_TENANT_CONCURRENCY: '8',
    WORKER_MAX_ATTEMPTS: '1',
  };
  const firstLog = capturedLog();
  const secondLog = capturedLog();
  let first: TestPlatform;
  let second: TestPlatform;

  beforeAll(async () => {
    first = await startTestPlatform('postgres', env, ['delivery'], { log: firstLog.log });
    const url = urlFor(first.databaseLocation.split('/').pop()!);
    second = await startTestPlatform('postgres', { ...env, DATABASE_URL: url }, ['delivery'], { log: secondLog.log });
  }, 60_000);
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('log an integration turning failing once between them', async () => {
    const url = await refusingUrl();
    const integrationId = await first.db.withService(async (tx) => {
      await tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ('shared', 'S') ON CONFLICT DO NOTHING`);
      const integration = await tx.query<{ integration_id: string }>(
        `INSERT INTO integrations (tenant_id, name, type, config_json) VALUES ('shared', 'dead', 'webhook', $1)
         RETURNING integration_id`,
        [JSON.stringify({ url })],
      );
      const id = integration.rows[0]!.integration_id;
      // Healthy until now: no first insert of its health row to put the workers in line.
      await tx.query(
        `INSERT INTO integration_health (tenant_id, integration_id, state, last_success_at) VALUES ('shared', $1, 'healthy', now())`,
        [id],
      );
      const route = await tx.query<{ route_id: string }>(
        `INSERT INTO integration_routes (tenant_id, integration_id, name) VALUES ('shared', $1, 'all') RETURNING route_id`,
        [id],
      );
      // 40 jobs of 40 alerts: each fails once for good, and each failure alone would make it failing.
      await tx.query(
        `INSERT INTO delivery_jobs (tenant_id, alert_id, integration_id, route_id, deliver_on_event, payload_json)
         SELECT 'shared', n, $1, $2, 'OPEN', jsonb_build_object('alert_id', n, 'tenant_id', 'shared', 'event', 'OPEN')
         FROM generate_series(1, 40) AS n`,
        [id, route.rows[0]!.route_id],
      );
      return id;
    });
    first.bus.publish('delivery.queued', { jobs: 40 });
    second.bus.publish('delivery.queued', { jobs: 40 });
    await waitFor(async () => {
      const { rows } = await first.db.withService((tx) =>
        tx.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM delivery_jobs WHERE tenant_id = 'shared' AND status = 'FAILED'`,
        ),
      );
      return rows[0]!.n === 40;
    }, 30_000);
    const processed = await Promise.all(
      [first, second].map(async (p) => ((await p.roles.find((r) => r.name === 'delivery')!.health()) as any).counters),
    );
    expect(processed.every((counters) => counters.jobs_processed > 0)).toBe(true);
    expect(firstLog.failing(integrationId).length + secondLog.failing(integrationId).length).toBe(1);
    const { rows } = await first.db.withService((tx) =>
      tx.query(`SELECT count(*)::int AS n FROM fleet_alert WHERE integration_id = $1`, [integrationId]),
    );
    expect(rows[0]).toEqual({ n: 1 });
  }, 60_000);
});
