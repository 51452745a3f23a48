// Re-notify and escalation (issue 18) with two webhook receivers on 127.0.0.1: an OPEN alert nobody
// acknowledges is repeated at the route's interval (marked as a repeat) and escalated to a second
// integration after the step's delay; acknowledging stops both. Time is moved by back-dating the alert
// (and the route, which must be older than what it notifies). On both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { dueFollowUps } from '../../src/delivery/follow-ups.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { deliveriesSettled, pollNow, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { seedAlert } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

describe('which follow-ups an open alert is due', () => {
  const opened = new Date('2026-12-01T10:00:00Z');
  const at = (minutes: number) => new Date(opened.getTime() + minutes * 60_000);
  const route = {
    integration_id: 'main',
    renotify_minutes: 15,
    escalations: [
      { after_minutes: 30, integration_id: 'on-call' },
      { after_minutes: 60, integration_id: 'manager' },
    ],
  };

  it('repeats only the latest due repeat and every escalation step reached', () => {
    expect(dueFollowUps(route, opened, at(14.9))).toEqual([]);
    expect(dueFollowUps(route, opened, at(15)).map((f) => f.key)).toEqual(['repeat:1']);
    // Away for an hour: one repeat (the fourth), not four.
    expect(dueFollowUps(route, opened, at(61))).toEqual([
      { key: 'repeat:4', integration_id: 'main', notice: { kind: 'repeat', number: 4 } },
      { key: 'escalation:on-call:30', integration_id: 'on-call', notice: { kind: 'escalation', after_minutes: 30 } },
      { key: 'escalation:manager:60', integration_id: 'manager', notice: { kind: 'escalation', after_minutes: 60 } },
    ]);
    expect(dueFollowUps({ ...route, renotify_minutes: null, escalations: [] }, opened, at(600))).toEqual([]);
  });
});

describe.each<Engine>(['pglite', 'postgres'])('re-notify and escalation on %s', (engine) => {
  let pulse: TestPlatform;
  let primary: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let onCall: Awaited<ReturnType<typeof startWebhookReceiver>>;
  const tokens: Record<string, string> = {};
  const call = callerFor(() => pulse, tokens);
  const age = (alertId: number, seconds: number) =>
    pulse.db.withService((tx) =>
      tx.query(`UPDATE fleet_alert SET created_at = created_at - make_interval(secs => $2) WHERE id = $1`, [
        alertId,
        seconds,
      ]),
    );
  const of = (receiver: typeof primary, alertId: number) =>
    receiver.received.filter((r) => r.json?.alert_id === alertId);

  beforeAll(async () => {
    primary = await startWebhookReceiver();
    onCall = await startWebhookReceiver();
    pulse = await startTestPlatform(
      engine,
      {
        SSRF_ALLOWLIST: '127.0.0.1',
        API_RATE_LIMIT: '100000',
        WORKER_POLL_SECONDS: '1',
        RENOTIFY_CHECK_SECONDS: '1',
        HEARTBEAT_STALE_SECONDS: '3600',
      },
      ['api', 'dispatcher', 'delivery'],
    );
    await pulse.db.withService((tx) =>
      tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ('fu-a', 'A'), ('fu-b', 'B') ON CONFLICT DO NOTHING`),
    );
    tokens.adminA = await tokenFor(pulse, { username: 'fu-admin-a', role: 'customer_admin', tenantId: 'fu-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'fu-admin-b', role: 'customer_admin', tenantId: 'fu-b' });
  }, 90_000);
  afterAll(async () => {
    await pulse?.close();
    await primary?.close();
    await onCall?.close();
  });

  it('repeats an unacknowledged alert, escalates it, and stops both once it is acknowledged', async () => {
    const main = await call('adminA', '/customer/integrations', 'POST', { name: 'main', webhook_url: primary.url });
    const escalation = await call('adminA', '/customer/integrations', 'POST', {
      name: 'on-call',
      webhook_url: onCall.url,
    });
    const route = await call('adminA', '/customer/integration-routes', 'POST', {
      integration_id: main.body.integration_id,
      name: 'page',
      renotify_minutes: 1,
      escalations: [{ after_minutes: 2, integration_id: escalation.body.integration_id }],
    });
    expect(route.status).toBe(200);
    expect(route.body).toMatchObject({
      renotify_minutes: 1,
      escalations: [{ after_minutes: 2, integration_id: escalation.body.integration_id }],
    });
    await pulse.db.withService((tx) =>
      tx.query(`UPDATE integration_routes SET created_at = now() - interval '1 hour' WHERE route_id = $1`, [
        route.body.route_id,
      ]),
    );

    const alertId = await seedAlert(pulse.db, { tenantId: 'fu-a', deviceId: 'pump-1' });
    pulse.bus.publish('alert.changed', { event: 'OPENED', alert_id: alertId, tenant_id: 'fu-a', fingerprint: 'x' });
    await waitFor(() => of(primary, alertId).length === 1, 10_000);
    expect(of(primary, alertId)[0]!.json).not.toHaveProperty('notice');

    // A minute and a bit open: the first repeat, not yet the escalation.
    await age(alertId, 70);
    await waitFor(() => of(primary, alertId).length === 2, 10_000);
    expect(of(primary, alertId)[1]!.json).toMatchObject({ event: 'OPEN', notice: { kind: 'repeat', number: 1 } });
    expect(of(onCall, alertId)).toEqual([]);

    // Past two minutes: the second repeat and the escalation to the other integration, each once.
    await age(alertId, 60);
    await waitFor(() => of(primary, alertId).length === 3 && of(onCall, alertId).length === 1, 10_000);
    expect(of(primary, alertId)[2]!.json.notice).toEqual({ kind: 'repeat', number: 2 });
    expect(of(onCall, alertId)[0]!.json).toMatchObject({
      alert_id: alertId,
      notice: { kind: 'escalation', after_minutes: 2 },
    });
    // Checked again at once: nothing more is due yet.
    await pollNow(pulse, 'dispatcher');
    await deliveriesSettled(pulse);
    expect(of(primary, alertId)).toHaveLength(3);
    expect(of(onCall, alertId)).toHaveLength(1);

    // Acknowledged: nothing more, however long it stays open.
    expect((await call('adminA', `/customer/alerts/${alertId}/acknowledge`, 'POST')).status).toBe(200);
    await age(alertId, 600);
    await pollNow(pulse, 'dispatcher');
    await deliveriesSettled(pulse);
    expect(of(primary, alertId)).toHaveLength(3);
    expect(of(onCall, alertId)).toHaveLength(1);
  }, 60_000);

  it("refuses an escalation to another tenant's integration", async () => {
    const theirs = await call('adminB', '/customer/integrations', 'POST', { name: 'b', webhook_url: primary.url });
    const mine = await call('adminA', '/customer/integrations', 'POST', { name: 'a2', webhook_url: primary.url });
    const refused = await call('adminA', '/customer/integration-routes', 'POST', {
      integration_id: mine.body.integration_id,
      escalations: [{ after_minutes: 5, integration_id: theirs.body.integration_id }],
    });
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toBe(
      `Escalation integration ${theirs.body.integration_id} not found or belongs to different tenant`,
    );
    const repeated = await call('adminA', '/customer/integration-routes', 'POST', {
      integration_id: mine.body.integration_id,
      escalations: [
        { after_minutes: 5, integration_id: mine.body.integration_id },
        { after_minutes: 5, integration_id: mine.body.integration_id },
      ],
    });
    expect(repeated.status).toBe(400);
  });
});
