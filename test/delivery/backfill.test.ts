// A route created (or widened) while alerts are OPEN (issue 29 item 2): it gets each OPEN, unacknowledged,
// unsilenced alert it matches once, marked as a backfill; its repeats count from there; the CLOSED follows.
// Real receivers on 127.0.0.1, both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/databases.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { deliveriesSettled, pollNow, startDeliveryPlatform, type TestPlatform } from '../helpers/platform.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { seedAlert } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

describe.each(ENGINES)('backfill of a new route on %s', (engine) => {
  let pulse: TestPlatform;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  const tokens: Record<string, string> = {};
  const call = callerFor(() => pulse, tokens);
  const hourAgo = () => new Date(Date.now() - 3600_000);
  const of = (alertId: number) => receiver.received.filter((r) => r.json?.alert_id === alertId);
  const open = async (deviceId: string, status = 'OPEN') => {
    const alertId = await seedAlert(pulse.db, { tenantId: 'bf', deviceId, status, createdAt: hourAgo() });
    // Dispatched while no route matched it: nothing is queued then.
    pulse.bus.publish('alert.changed', { event: 'OPENED', alert_id: alertId, tenant_id: 'bf', fingerprint: 'x' });
    return alertId;
  };

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    pulse = await startDeliveryPlatform(engine, ['bf'], { RENOTIFY_CHECK_SECONDS: '1' });
    tokens.admin = await tokenFor(pulse, { username: 'bf-admin', role: 'customer_admin', tenantId: 'bf' });
  }, 90_000);
  afterAll(async () => {
    await pulse?.close();
    await receiver?.close();
  });

  it('sends a new route the OPEN alerts it matches once, repeats from there, then their CLOSED', async () => {
    const openAlert = await open('bf-1');
    const acknowledged = await open('bf-2', 'ACKNOWLEDGED');
    const elsewhere = await open('wd-1');
    const integration = await call('admin', '/customer/integrations', 'POST', { name: 'r', webhook_url: receiver.url });
    const route = await call('admin', '/customer/integration-routes', 'POST', {
      integration_id: integration.body.integration_id,
      deliver_on: ['OPEN', 'CLOSED'],
      device_prefixes: ['bf-'],
      renotify_minutes: 1,
    });
    expect(route.status).toBe(200);

    await waitFor(() => of(openAlert).length === 1, 15_000);
    expect(of(openAlert)[0]!.json).toMatchObject({ event: 'OPEN', notice: { kind: 'backfill' }, alert_status: 'OPEN' });
    // Open for an hour, but repeats count from the backfill: none yet at the next check.
    await pollNow(pulse, 'dispatcher');
    await deliveriesSettled(pulse);
    expect(of(openAlert)).toHaveLength(1);
    expect(of(acknowledged)).toEqual([]);
    expect(of(elsewhere)).toEqual([]);

    await pulse.db.withService((tx) =>
      tx.query(`UPDATE delivery_jobs SET created_at = created_at - interval '70 seconds' WHERE alert_id = $1`, [
        openAlert,
      ]),
    );
    await waitFor(() => of(openAlert).length === 2, 15_000);
    expect(of(openAlert)[1]!.json).toMatchObject({ event: 'OPEN', notice: { kind: 'repeat', number: 1 } });

    expect((await call('admin', `/customer/alerts/${openAlert}/close`, 'POST')).status).toBe(200);
    await waitFor(() => of(openAlert).length === 3, 15_000);
    expect(of(openAlert)[2]!.json).toMatchObject({ event: 'CLOSED', alert_status: 'CLOSED' });

    // Widened to another prefix: that alert now, once.
    const widened = await call('admin', `/customer/integration-routes/${route.body.route_id}`, 'PATCH', {
      device_prefixes: ['bf-', 'wd-'],
      renotify_minutes: null,
    });
    expect(widened.status).toBe(200);
    await waitFor(() => of(elsewhere).length === 1, 15_000);
    expect(of(elsewhere)[0]!.json.notice).toEqual({ kind: 'backfill' });
    await pollNow(pulse, 'dispatcher');
    await deliveriesSettled(pulse);
    expect(of(elsewhere)).toHaveLength(1);
    expect(of(openAlert)).toHaveLength(3);
  }, 90_000);
});
