// Alert history, notes and bulk actions (issue 18), with a webhook receiver on 127.0.0.1: an alert's
// timeline says when it opened, was updated, notified (each attempt), noted, acknowledged and closed, by
// whom; bulk acknowledge and close change only the caller's tenant's alerts. On both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startDeliveryPlatform, type TestPlatform } from '../helpers/platform.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { seedAlert } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

describe.each<Engine>(['pglite', 'postgres'])('alert history on %s', (engine) => {
  let pulse: TestPlatform;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  const tokens: Record<string, string> = {};
  const call = callerFor(() => pulse, tokens);

  beforeAll(async () => {
    webhook = await startWebhookReceiver((_request, index) => (index === 0 ? 503 : 200));
    pulse = await startDeliveryPlatform(engine, ['ah-a', 'ah-b'], {
      WORKER_BACKOFF_BASE_SECONDS: '1',
      WORKER_BACKOFF_MAX_SECONDS: '1',
    });
    tokens.adminA = await tokenFor(pulse, { username: 'ah-admin-a', role: 'customer_admin', tenantId: 'ah-a' });
    tokens.viewerA = await tokenFor(pulse, { username: 'ah-viewer-a', role: 'customer_viewer', tenantId: 'ah-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'ah-admin-b', role: 'customer_admin', tenantId: 'ah-b' });
    const integration = await call('adminA', '/customer/integrations', 'POST', {
      name: 'hook',
      webhook_url: webhook.url,
    });
    await call('adminA', '/customer/integration-routes', 'POST', {
      integration_id: integration.body.integration_id,
      name: 'all',
      deliver_on: ['OPEN', 'CLOSED'],
    });
  }, 90_000);
  afterAll(async () => {
    await pulse?.close();
    await webhook?.close();
  });

  it('tells an alert’s story: opened, notified (each attempt), updated, noted, acknowledged and closed by whom', async () => {
    const alertId = await seedAlert(pulse.db, { tenantId: 'ah-a', deviceId: 'pump-1' });
    pulse.bus.publish('alert.changed', { event: 'OPENED', alert_id: alertId, tenant_id: 'ah-a', fingerprint: 'x' });
    // The receiver refuses the first attempt: the retry succeeds (and is recorded before the alert changes).
    const sent = async () =>
      (await call('viewerA', `/customer/alerts/${alertId}`)).body.timeline.filter(
        (entry: { kind: string }) => entry.kind === 'NOTIFIED',
      );
    await waitFor(async () => (await sent()).length === 1, 15_000);
    await pulse.db.withService((tx) =>
      tx.query(`UPDATE fleet_alert SET severity = 5, summary = 'worse', details = '{"value": 99}' WHERE id = $1`, [
        alertId,
      ]),
    );
    const note = await call('viewerA', `/customer/alerts/${alertId}/notes`, 'POST', { text: ' crew on site ' });
    expect(note.status).toBe(201);
    expect(note.body).toMatchObject({ kind: 'NOTE', actor: 'ah-viewer-a', detail: { text: 'crew on site' } });
    expect((await call('adminA', `/customer/alerts/${alertId}/acknowledge`, 'POST')).status).toBe(200);
    expect((await call('adminA', `/customer/alerts/${alertId}/close`, 'POST')).body.alert.closed_by).toBe('ah-admin-a');

    const answer = await call('viewerA', `/api/v2/alerts/${alertId}`);
    expect(answer.status).toBe(200);
    // The CLOSED notification may have gone out already: it is checked below.
    const timeline = (answer.body.timeline as { kind: string; actor: string | null; detail: any }[]).filter(
      (entry) => !(entry.kind === 'NOTIFIED' && entry.detail.event === 'CLOSED'),
    );
    expect(timeline.map((entry) => entry.kind)).toEqual([
      'OPENED',
      'NOTIFY_FAILED',
      'NOTIFIED',
      'UPDATED',
      'NOTE',
      'ACKNOWLEDGED',
      'CLOSED',
    ]);
    expect(timeline[1]!.detail).toMatchObject({
      integration_name: 'hook',
      event: 'OPEN',
      attempt: 1,
      http_status: 503,
    });
    expect(timeline[2]!.detail).toMatchObject({ attempt: 2, http_status: 200 });
    expect(timeline[3]!.detail).toMatchObject({ severity: 5, summary: 'worse', details: { value: 99 } });
    expect(timeline[5]!.actor).toBe('ah-admin-a');
    expect(timeline[6]!.actor).toBe('ah-admin-a');
    // The CLOSED notification goes out too, and joins the timeline.
    await waitFor(async () => {
      const again = await call('viewerA', `/customer/alerts/${alertId}`);
      return again.body.timeline.some((e: any) => e.kind === 'NOTIFIED' && e.detail.event === 'CLOSED');
    }, 15_000);

    // Another tenant sees nothing of it, and cannot add to it.
    expect((await call('adminB', `/api/v2/alerts/${alertId}`)).status).toBe(404);
    expect((await call('adminB', `/customer/alerts/${alertId}/notes`, 'POST', { text: 'x' })).status).toBe(404);
    const leaked = await pulse.db.withTenant('ah-b', (tx) =>
      tx.query(`SELECT count(*)::int AS n FROM alert_events WHERE alert_id = $1`, [alertId]),
    );
    expect(leaked.rows[0]).toEqual({ n: 0 });
    expect((await call('viewerA', `/customer/alerts/${alertId}/notes`, 'POST', { text: '' })).status).toBe(422);
  }, 60_000);

  it('acknowledges and closes many alerts at once, only its own tenant’s, admins only', async () => {
    const ids = [];
    for (const device of ['b-1', 'b-2', 'b-3'])
      ids.push(await seedAlert(pulse.db, { tenantId: 'ah-a', deviceId: device }));
    const theirs = await seedAlert(pulse.db, { tenantId: 'ah-b', deviceId: 'b-9' });
    expect((await call('viewerA', '/customer/alerts/bulk', 'POST', { action: 'close', alert_ids: ids })).status).toBe(
      403,
    );
    const acknowledged = await call('adminA', '/customer/alerts/bulk', 'POST', {
      action: 'acknowledge',
      alert_ids: [ids[0], ids[1], theirs],
    });
    expect(acknowledged.body).toEqual({ action: 'acknowledge', changed: [ids[0], ids[1]], unchanged: [theirs] });
    const closed = await call('adminA', '/customer/alerts/bulk', 'POST', {
      action: 'close',
      alert_ids: [...ids, theirs],
    });
    expect(closed.body).toEqual({ action: 'close', changed: ids, unchanged: [theirs] });
    expect((await call('adminB', `/customer/alerts/${theirs}`)).body.alert.status).toBe('OPEN');
    const listed = await call('viewerA', '/customer/alerts?status=CLOSED&device_id=b-2');
    expect(listed.body.alerts[0]).toMatchObject({
      status: 'CLOSED',
      closed_by: 'ah-admin-a',
      acknowledged_by: 'ah-admin-a',
    });
    const bad = await call('adminA', '/customer/alerts/bulk', 'POST', { action: 'delete', alert_ids: ids });
    expect(bad.status).toBe(422);
  });
});
