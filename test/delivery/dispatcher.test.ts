// The dispatcher at start catches up on alert events it missed that are still due, without duplicating jobs; the admin
// delivery endpoints (X-Admin-Key) create webhooks and routes; a redirect is not followed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { urlFor } from '../helpers/databases.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { seedAlert } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

describe('dispatcher and admin delivery endpoints', () => {
  let pulse: TestPlatform;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  beforeAll(async () => {
    receiver = await startWebhookReceiver((request) => (request.json?.alert_type === 'REDIRECT' ? 302 : 200));
    pulse = await startTestPlatform('postgres', { SSRF_ALLOWLIST: '127.0.0.1', WORKER_MAX_ATTEMPTS: '1' }, [
      'provision',
    ]);
  }, 60_000);
  afterAll(async () => {
    await pulse?.close();
    await receiver?.close();
  });

  it('creates webhooks and routes through /api/admin with the admin key, checking destinations', async () => {
    expect(
      (
        await pulse.call('/api/admin/integrations', {
          admin: false,
          json: { tenant_id: 't', name: 'x', url: receiver.url },
        })
      ).status,
    ).toBe(401);
    const created = await pulse.call('/api/admin/integrations', {
      json: { tenant_id: 'acme', name: 'ops', url: `${receiver.url}/hook` },
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      tenant_id: 'acme',
      type: 'webhook',
      url: `${receiver.url}/hook`,
      enabled: true,
    });
    expect(created.body.signing_secret).toBeTruthy();
    expect(
      (await pulse.call('/api/admin/integrations', { json: { tenant_id: 'acme', name: 'x', url: 'http://10.0.0.8/' } }))
        .body,
    ).toEqual({
      detail: 'Invalid webhook URL: Private IP addresses are not allowed',
    });
    const route = await pulse.call('/api/admin/integration-routes', {
      json: {
        tenant_id: 'acme',
        integration_id: created.body.integration_id,
        name: 'all',
        deliver_on: ['open', 'closed'],
      },
    });
    expect(route.body).toMatchObject({ tenant_id: 'acme', name: 'all', deliver_on: ['OPEN', 'CLOSED'], priority: 100 });
    expect((await pulse.call('/api/admin/integrations?tenant_id=acme')).body).toHaveLength(1);
    expect((await pulse.call('/api/admin/integration-routes?tenant_id=other')).body).toEqual([]);
    expect(
      (
        await pulse.call('/api/admin/integration-routes', {
          json: { tenant_id: 'other', integration_id: created.body.integration_id, name: 'steal' },
        })
      ).body,
    ).toEqual({ detail: 'Integration not found or belongs to different tenant' });
  });

  it('queues at start the deliveries of alert events it missed that are still due, once, and does not follow redirects', async () => {
    const opened = await seedAlert(pulse.db, { tenantId: 'acme', deviceId: 'd-1', alertType: 'THRESHOLD' });
    // Opened before the route existed: a restart does not page for it.
    await seedAlert(pulse.db, { tenantId: 'acme', deviceId: 'd-0', createdAt: new Date(Date.now() - 5 * 60_000) });
    const redirected = await seedAlert(pulse.db, { tenantId: 'acme', deviceId: 'd-2', alertType: 'REDIRECT' });
    const closed = await seedAlert(pulse.db, { tenantId: 'acme', deviceId: 'd-3', status: 'CLOSED' });
    const url = urlFor(pulse.databaseLocation.split('/').pop()!);
    for (let run = 0; run < 2; run += 1) {
      const late = await startTestPlatform(
        'postgres',
        { DATABASE_URL: url, SSRF_ALLOWLIST: '127.0.0.1', WORKER_MAX_ATTEMPTS: '1' },
        ['dispatcher', 'delivery'],
      );
      try {
        await waitFor(async () => {
          const { rows } = await pulse.db.withService((tx) =>
            tx.query(`SELECT 1 FROM delivery_jobs WHERE status IN ('COMPLETED', 'FAILED', 'SUPERSEDED')`),
          );
          return rows.length === 3;
        }, 10_000);
      } finally {
        await late.close();
      }
    }
    const { rows } = await pulse.db.withService((tx) =>
      tx.query<{ alert_id: number; deliver_on_event: string; status: string; last_error: string | null }>(
        `SELECT alert_id, deliver_on_event, status, last_error FROM delivery_jobs ORDER BY alert_id, deliver_on_event`,
      ),
    );
    expect(rows).toEqual([
      { alert_id: opened, deliver_on_event: 'OPEN', status: 'COMPLETED', last_error: null },
      { alert_id: redirected, deliver_on_event: 'OPEN', status: 'FAILED', last_error: 'http_302' },
      // Closed by now: its OPEN (no longer true) is not queued, and its CLOSED is set aside since this
      // route never sent the OPEN: the receiver could not place it (ADR 025).
      { alert_id: closed, deliver_on_event: 'CLOSED', status: 'SUPERSEDED', last_error: 'open_not_sent' },
    ]);
    expect(receiver.received.filter((r) => r.json.alert_type !== 'REDIRECT')).toHaveLength(1);
  });
});
