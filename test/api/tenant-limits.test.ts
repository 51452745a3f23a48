// Per-tenant limits (issue 36): caps on silences (count and size), alert rules, integrations, routes and
// notes per alert answer 409 naming the cap, taken atomically under concurrent requests; another tenant is
// unaffected. A long timeline comes in pages; test notifications and delivery retries keep their budgets
// under concurrent calls. On both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedAlert } from '../helpers/seed.js';

const CAP = 3;

describe.each<Engine>(['pglite', 'postgres'])('tenant limits on %s', (engine) => {
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};
  const call = callerFor(() => pulse, tokens);
  const statuses = (answers: { status: number }[]) => answers.map((answer) => answer.status).sort();

  beforeAll(async () => {
    pulse = await startTestPlatform(
      engine,
      {
        API_RATE_LIMIT: '100000',
        SSRF_ALLOWLIST: '127.0.0.1',
        TENANT_MAX_SILENCES: String(CAP),
        TENANT_MAX_RULES: String(CAP),
        TENANT_MAX_INTEGRATIONS: String(CAP),
        TENANT_MAX_ROUTES: String(CAP),
        ALERT_MAX_NOTES: String(CAP),
        DELIVERY_RETRIES_PER_MINUTE: String(CAP),
      },
      ['api'],
    );
    await pulse.db.withService((tx) =>
      tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ('tl-a', 'A'), ('tl-b', 'B') ON CONFLICT DO NOTHING`),
    );
    tokens.adminA = await tokenFor(pulse, { username: 'tl-admin-a', role: 'customer_admin', tenantId: 'tl-a' });
    tokens.viewerA = await tokenFor(pulse, { username: 'tl-viewer-a', role: 'customer_viewer', tenantId: 'tl-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'tl-admin-b', role: 'customer_admin', tenantId: 'tl-b' });
  }, 90_000);
  afterAll(() => pulse?.close());

  const silence = (device: string) => ({ device_ids: [device], duration_minutes: 60, comment: 'maintenance' });

  it('takes exactly the cap of silences asked for at once, refuses the rest with 409 naming it; B is unaffected', async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => call('adminA', '/customer/silences', 'POST', silence(`d-${i}`))),
    );
    expect(statuses(answers)).toEqual([201, 201, 201, 409, 409, 409, 409, 409]);
    expect(answers.find((answer) => answer.status === 409)!.body).toEqual({
      detail: 'Limit reached: 3 running or coming silences, at most 3 (TENANT_MAX_SILENCES); end one first',
      limit: 'TENANT_MAX_SILENCES',
      max: CAP,
    });
    expect((await call('adminB', '/customer/silences', 'POST', silence('b-1'))).status).toBe(201);

    // An ended silence no longer counts.
    const running = (await call('adminA', '/customer/silences')).body.silences as { silence_id: string }[];
    expect(running).toHaveLength(CAP);
    expect((await call('adminA', `/customer/silences/${running[0]!.silence_id}`, 'DELETE')).status).toBe(200);
    expect((await call('adminA', '/customer/silences', 'POST', silence('d-again'))).status).toBe(201);
  });

  it('refuses a silence whose lists hold more than 4096 characters, saying how to cover many devices', async () => {
    const devices = Array.from({ length: 30 }, (_, i) => `${String(i).padStart(3, '0')}${'x'.repeat(197)}`);
    const answer = await call('adminB', '/customer/silences', 'POST', { ...silence('b'), device_ids: devices });
    expect(answer.status).toBe(400);
    expect(answer.body.detail).toBe(
      'site_ids, device_ids, device_prefixes and the selector hold 6000 characters together, at most 4096; cover many devices with a site, a device prefix or a tag',
    );
  });

  it.each([
    [
      'alert rules',
      '/customer/alert-rules',
      'TENANT_MAX_RULES',
      (i: number) => ({
        name: `hot-${i}`,
        metric_name: 'temp_c',
        operator: 'GT',
        threshold: 80,
      }),
    ],
    [
      'integrations',
      '/customer/integrations',
      'TENANT_MAX_INTEGRATIONS',
      (i: number) => ({
        name: `hook-${i}`,
        webhook_url: `http://127.0.0.1:9/hook-${i}`,
      }),
    ],
  ])('caps %s per tenant, at once and one by one; B is unaffected', async (what, path, variable, body) => {
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => call('adminA', path, 'POST', body(i))));
    expect(answers.filter((answer) => answer.status < 300)).toHaveLength(CAP);
    const refused = answers.filter((answer) => answer.status === 409);
    expect(refused).toHaveLength(6 - CAP);
    expect(refused[0]!.body.detail).toBe(`Limit reached: 3 ${what}, at most 3 (${variable}); delete one first`);
    expect((await call('adminA', path, 'POST', body(9))).status).toBe(409);
    expect((await call('adminB', path, 'POST', body(0))).status).toBeLessThan(300);
  });

  it('caps routes per tenant; B is unaffected', async () => {
    const integrations = (await call('adminA', '/customer/integrations')).body.integrations as {
      integration_id: string;
    }[];
    const route = { integration_id: integrations[0]!.integration_id, name: 'all' };
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => call('adminA', '/customer/integration-routes', 'POST', route)),
    );
    expect(statuses(answers)).toEqual([200, 200, 200, 409, 409]);
    expect(answers.find((answer) => answer.status === 409)!.body.detail).toBe(
      'Limit reached: 3 integration routes, at most 3 (TENANT_MAX_ROUTES); delete one first',
    );
    const hook = await call('adminB', '/customer/integrations', 'POST', {
      name: 'b',
      webhook_url: 'http://127.0.0.1:9/b',
    });
    expect(
      (await call('adminB', '/customer/integration-routes', 'POST', { integration_id: hook.body.integration_id }))
        .status,
    ).toBe(200);
  });

  it('caps notes per alert (any user), and pages the timeline with a cursor', async () => {
    const alertId = await seedAlert(pulse.db, { tenantId: 'tl-a', deviceId: 'noted' });
    const notes = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        call('viewerA', `/customer/alerts/${alertId}/notes`, 'POST', { text: `note ${i}` }),
      ),
    );
    expect(statuses(notes)).toEqual([201, 201, 201, 409, 409]);
    expect(notes.find((answer) => answer.status === 409)!.body.detail).toBe(
      'Limit reached: 3 notes on this alert, at most 3 (ALERT_MAX_NOTES); no more can be added',
    );
    const other = await seedAlert(pulse.db, { tenantId: 'tl-a', deviceId: 'other' });
    expect((await call('viewerA', `/customer/alerts/${other}/notes`, 'POST', { text: 'fine' })).status).toBe(201);

    // Opened and three notes: the whole timeline at once, or two pages of two that add up to it.
    const whole = (await call('viewerA', `/api/v2/alerts/${alertId}`)).body;
    expect(whole.timeline.map((entry: { kind: string }) => entry.kind)).toEqual(['OPENED', 'NOTE', 'NOTE', 'NOTE']);
    expect(whole.next_cursor).toBeNull();
    const first = (await call('viewerA', `/api/v2/alerts/${alertId}?limit=2`)).body;
    expect(first.timeline).toHaveLength(2);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = (await call('viewerA', `/customer/alerts/${alertId}?limit=2&cursor=${first.next_cursor}`)).body;
    expect(second.next_cursor).toBeNull();
    expect([...first.timeline, ...second.timeline]).toEqual(whole.timeline);
    const bad = await call('viewerA', `/api/v2/alerts/${alertId}?cursor=nonsense`);
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toBe("cursor is not a timeline cursor: pass a previous answer's next_cursor");
  });

  it('gives an integration exactly 5 test notifications a minute however many are asked for at once', async () => {
    const hook = await call('adminB', '/customer/integrations', 'POST', {
      name: 'tested',
      webhook_url: 'http://127.0.0.1:9/tested',
    });
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        call('adminB', `/customer/integrations/${hook.body.integration_id}/test`, 'POST'),
      ),
    );
    expect(statuses(answers)).toEqual([200, 200, 200, 200, 200, 429, 429, 429, 429, 429]);
  });

  it('refuses a retry of a queued delivery (409) and more than the tenant’s retries a minute (429); B is unaffected', async () => {
    const failedJobs = async (tenantId: string, count: number) => {
      const { integration_id, route_id } = (
        await pulse.db.withService((tx) =>
          tx.query<{ integration_id: string; route_id: string }>(
            `SELECT integration_id, route_id FROM integration_routes WHERE tenant_id = $1 LIMIT 1`,
            [tenantId],
          ),
        )
      ).rows[0]!;
      const ids: number[] = [];
      for (let i = 0; i < count; i += 1) {
        const alertId = await seedAlert(pulse.db, { tenantId, deviceId: `retried-${i}` });
        const { rows } = await pulse.db.withService((tx) =>
          tx.query<{ job_id: number }>(
            `INSERT INTO delivery_jobs (tenant_id, alert_id, integration_id, route_id, deliver_on_event, status, attempts, payload_json)
             VALUES ($1, $2, $3, $4, 'OPEN', 'FAILED', 5, '{}') RETURNING job_id`,
            [tenantId, alertId, integration_id, route_id],
          ),
        );
        ids.push(Number(rows[0]!.job_id));
      }
      return ids;
    };
    const jobsA = await failedJobs('tl-a', 5);
    const answers = await Promise.all(jobsA.map((id) => call('adminA', `/customer/deliveries/${id}/retry`, 'POST')));
    expect(statuses(answers)).toEqual([202, 202, 202, 429, 429]);
    const limited = answers.find((answer) => answer.status === 429)!;
    expect(limited.body.detail).toMatch(
      /^Rate limit exceeded: at most 3 delivery retries \(DELIVERY_RETRIES_PER_MINUTE\) per 60 s; retry in \d+ s$/,
    );
    const retried = jobsA[answers.findIndex((answer) => answer.status === 202)]!;
    const again = await call('adminA', `/customer/deliveries/${retried}/retry`, 'POST');
    expect(again.status).toBe(409);
    expect(again.body.detail).toBe('Only a FAILED delivery can be retried; this one is queued, in flight or done');
    const [jobB] = await failedJobs('tl-b', 1);
    expect((await call('adminB', `/customer/deliveries/${jobB}/retry`, 'POST')).status).toBe(202);
  });
});
