// Silences (issue 18) with a webhook receiver on 127.0.0.1: an alert a silence covers is recorded and
// marked silenced, but its notification is held — and stays held after the silence ends; others go out.
// Managed by customer admins in their own tenant; operators see every tenant's. On both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { silenceWindow } from '../../src/api/customer/silences.js';
import { silenceMatches, type Silence } from '../../src/model/silences.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { seedAlert } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

describe('which events a silence holds', () => {
  const at = (iso: string) => new Date(iso);
  const silence: Silence = {
    silence_id: 's',
    tenant_id: 'acme',
    site_ids: ['plant-1'],
    device_ids: null,
    device_prefixes: ['pump-'],
    alert_types: null,
    selector: null,
    starts_at: at('2026-12-01T10:00:00Z'),
    ends_at: at('2026-12-01T12:00:00Z'),
    comment: 'maintenance',
    created_by: null,
    created_at: at('2026-12-01T09:00:00Z'),
  };
  const alert = {
    tenant_id: 'acme',
    site_id: 'plant-1',
    device_id: 'pump-7',
    alert_type: 'THRESHOLD',
    created_at: at('2026-12-01T11:00:00Z'),
    closed_at: null,
  };

  it('holds an event of its tenant that happened inside the window and matches every list it gives', () => {
    expect(silenceMatches(silence, alert, 'OPEN')).toBe(true);
    expect(silenceMatches(silence, { ...alert, tenant_id: 'other' }, 'OPEN')).toBe(false);
    expect(silenceMatches(silence, { ...alert, site_id: 'plant-2' }, 'OPEN')).toBe(false);
    expect(silenceMatches(silence, { ...alert, device_id: 'fan-1' }, 'OPEN')).toBe(false);
    expect(silenceMatches(silence, { ...alert, created_at: at('2026-12-01T12:00:00Z') }, 'OPEN')).toBe(false);
    expect(silenceMatches(silence, { ...alert, created_at: at('2026-12-01T09:59:59Z') }, 'OPEN')).toBe(false);
    // A CLOSED counts when it closed: after the window, it goes out.
    expect(silenceMatches(silence, { ...alert, closed_at: at('2026-12-01T13:00:00Z') }, 'CLOSED')).toBe(false);
    expect(silenceMatches({ ...silence, site_ids: null, device_prefixes: null }, alert, 'OPEN')).toBe(true);
  });

  it('takes a window as an end or a duration, in the future, at most 90 days', () => {
    const now = at('2026-12-01T10:00:00Z');
    expect(silenceWindow({ duration_minutes: 30 }, now)).toEqual({
      starts_at: now,
      ends_at: at('2026-12-01T10:30:00Z'),
    });
    expect(() => silenceWindow({}, now)).toThrow('Give either ends_at or duration_minutes');
    expect(() => silenceWindow({ ends_at: '2026-12-01T09:00:00Z' }, now)).toThrow('ends_at must be after starts_at');
    expect(() => silenceWindow({ starts_at: '2026-11-01T00:00:00Z', ends_at: '2026-11-02T00:00:00Z' }, now)).toThrow(
      'over already',
    );
    expect(() => silenceWindow({ duration_minutes: 91 * 1440 }, now)).toThrow('at most 90 days');
  });
});

describe.each<Engine>(['pglite', 'postgres'])('silences on %s', (engine) => {
  let pulse: TestPlatform;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  const tokens: Record<string, string> = {};
  const call = callerFor(() => pulse, tokens);
  const raise = async (deviceId: string) => {
    const alertId = await seedAlert(pulse.db, { tenantId: 'sl-a', deviceId });
    pulse.bus.publish('alert.changed', { event: 'OPENED', alert_id: alertId, tenant_id: 'sl-a', fingerprint: 'x' });
    return alertId;
  };
  const jobs = async (alertId: number) =>
    (
      await pulse.db.withService((tx) =>
        tx.query<{ status: string; silence_id: string | null }>(
          `SELECT status, silence_id FROM delivery_jobs WHERE alert_id = $1`,
          [alertId],
        ),
      )
    ).rows;

  beforeAll(async () => {
    webhook = await startWebhookReceiver();
    pulse = await startTestPlatform(
      engine,
      {
        SSRF_ALLOWLIST: '127.0.0.1',
        API_RATE_LIMIT: '100000',
        WORKER_POLL_SECONDS: '1',
        HEARTBEAT_STALE_SECONDS: '3600',
      },
      ['api', 'dispatcher', 'delivery'],
    );
    await pulse.db.withService((tx) =>
      tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ('sl-a', 'A'), ('sl-b', 'B') ON CONFLICT DO NOTHING`),
    );
    tokens.adminA = await tokenFor(pulse, { username: 'sl-admin-a', role: 'customer_admin', tenantId: 'sl-a' });
    tokens.viewerA = await tokenFor(pulse, { username: 'sl-viewer-a', role: 'customer_viewer', tenantId: 'sl-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'sl-admin-b', role: 'customer_admin', tenantId: 'sl-b' });
    tokens.operator = await tokenFor(pulse, { username: 'sl-operator', role: 'operator' });
    const integration = await call('adminA', '/customer/integrations', 'POST', {
      name: 'hook',
      webhook_url: `${webhook.url}/silences`,
    });
    expect(integration.status).toBe(200);
    const route = await call('adminA', '/customer/integration-routes', 'POST', {
      integration_id: integration.body.integration_id,
      name: 'all',
    });
    expect(route.status).toBe(200);
  }, 90_000);
  afterAll(async () => {
    await pulse?.close();
    await webhook?.close();
  });

  it("holds a silenced device's notification, marks the alert, and sends the others", async () => {
    const created = await call('adminA', '/customer/silences', 'POST', {
      device_prefixes: ['pump-'],
      duration_minutes: 60,
      comment: 'pump maintenance',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ tenant_id: 'sl-a', device_prefixes: ['pump-'], comment: 'pump maintenance' });

    const silenced = await raise('pump-1');
    const delivered = await raise('fan-1');
    await waitFor(() => webhook.received.some((r) => r.json?.device_id === 'fan-1'), 10_000);
    expect(await jobs(silenced)).toEqual([{ status: 'SILENCED', silence_id: created.body.silence_id }]);
    expect(webhook.received.some((r) => r.json?.device_id === 'pump-1')).toBe(false);
    const alert = await call('viewerA', `/customer/alerts/${silenced}`);
    expect(alert.body.alert.silenced_by).toBe(created.body.silence_id);
    expect((await call('viewerA', `/customer/alerts/${delivered}`)).body.alert.silenced_by).toBeNull();

    // Ended, the silence sends nothing after the fact; a new alert of that device goes out again.
    const ended = await call('adminA', `/customer/silences/${created.body.silence_id}`, 'DELETE');
    expect(ended.status).toBe(200);
    await raise('pump-2');
    await waitFor(() => webhook.received.some((r) => r.json?.device_id === 'pump-2'), 10_000);
    expect(webhook.received.some((r) => r.json?.device_id === 'pump-1')).toBe(false);
    expect((await jobs(silenced))[0]!.status).toBe('SILENCED');
  });

  it('keeps silences to their tenant and its admins; operators see all', async () => {
    const mine = await call('adminA', '/customer/silences', 'POST', {
      ends_at: new Date(Date.now() + 86_400_000).toISOString(),
      comment: 'c',
    });
    expect((await call('viewerA', '/customer/silences', 'POST', { duration_minutes: 5, comment: 'x' })).status).toBe(
      403,
    );
    expect((await call('adminB', '/customer/silences')).body.silences).toEqual([]);
    expect((await call('adminB', `/customer/silences/${mine.body.silence_id}`, 'DELETE')).status).toBe(404);
    const listed = await call('viewerA', '/customer/silences?include_ended=true');
    expect(listed.body.silences.map((s: { comment: string }) => s.comment)).toEqual(['c', 'pump maintenance']);
    const all = await call('operator', '/operator/silences?include_ended=true');
    expect(all.status).toBe(200);
    expect(all.body.silences.map((s: { tenant_id: string }) => s.tenant_id)).toEqual(['sl-a', 'sl-a']);
    expect((await call('adminA', '/customer/silences', 'POST', { comment: 'no end' })).body.detail).toBe(
      'Give either ends_at or duration_minutes',
    );
    // Every alert type a route can carry can be silenced, a failing integration's too; nothing else.
    const failing = { duration_minutes: 5, comment: 'hook migration', alert_types: ['INTEGRATION_FAILING'] };
    expect((await call('adminA', '/customer/silences', 'POST', failing)).status).toBe(201);
    const unknown = { ...failing, alert_types: ['NO_SUCH_TYPE'] };
    expect((await call('adminA', '/customer/silences', 'POST', unknown)).status).toBe(422);
  });
});
