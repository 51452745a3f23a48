// One device selector, its tags and attributes set by a customer's CSV import (issue 31), picks the same
// devices everywhere on both engines: the devices list, a rule (alerts open for those devices only), a
// route (deliveries for those only), a silence (holds those only) and a telemetry export.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { rulesInForce, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { seedAlert } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

const A = 'se-a';
/** Tagged cold and of model X1: fr-1 and fr-4; fr-2 is another model, fr-3 untagged. */
const SELECTOR = { tags_all: ['cold'], attributes: [{ key: 'model', op: 'eq', value: 'X1' }] };
const AS_QUERY = 'tags_all=cold&attr=model:eq:X1';
const SELECTED = ['fr-1', 'fr-4'];
const OTHERS = ['fr-2', 'fr-3'];

describe.each<Engine>(['pglite', 'postgres'])('one selector from a CSV import, everywhere, on %s', (engine) => {
  let pulse: TestPlatform;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  const tokens = new Map<string, string>();
  const users: Record<string, string> = {};
  const call = callerFor(() => pulse, users);
  const started = new Date().toISOString();
  const send = (device: string, metrics: object) =>
    fetch(`${pulse.base}/ingest/v1/tenant/${A}/device/${device}/telemetry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-provision-token': tokens.get(device)! },
      body: JSON.stringify({ site_id: 'plant', metrics }),
    }).then((response) => expect(response.status).toBe(202));
  const openRuleAlerts = async () =>
    ((await call('admin', '/customer/alerts?status=OPEN&limit=100')).body.alerts as Record<string, any>[])
      .filter((alert) => alert.alert_type === 'THRESHOLD')
      .map((alert) => alert.device_id)
      .sort();
  /** The routes (by name) an alert's notifications were queued for, and how each job stands. */
  const jobsOf = async (alertId: number) =>
    (
      await pulse.db.withService((tx) =>
        tx.query<{ route: string; status: string }>(
          `SELECT r.name AS route, j.status FROM delivery_jobs j JOIN integration_routes r USING (tenant_id, route_id)
           WHERE j.alert_id = $1 ORDER BY 1`,
          [alertId],
        ),
      )
    ).rows;
  const deliveredTo = (path: string) =>
    [...new Set(webhook.received.filter((r) => r.url === path).map((r) => r.json?.device_id as string))].sort();
  const announce = (alert_id: number) =>
    pulse.bus.publish('alert.changed', { event: 'OPENED', alert_id, tenant_id: A, fingerprint: 'x' });

  beforeAll(async () => {
    webhook = await startWebhookReceiver();
    pulse = await startTestPlatform(engine, {
      API_RATE_LIMIT: '100000',
      SSRF_ALLOWLIST: '127.0.0.1',
      FLUSH_INTERVAL_MS: '50',
      WORKER_POLL_SECONDS: '1',
      HEARTBEAT_STALE_SECONDS: '3600',
    });
    users.admin = await tokenFor(pulse, { username: `se-admin-${engine}`, role: 'customer_admin', tenantId: A });
    const imported = await pulse.call('/customer/devices/bulk', {
      admin: false,
      method: 'POST',
      headers: { authorization: `Bearer ${users.admin}`, 'content-type': 'text/csv' },
      body: [
        'device_id,site_id,tags,attr.model',
        'fr-1,plant,cold,X1',
        'fr-2,plant,cold,X2',
        'fr-3,plant,,X1',
        'fr-4,plant,cold; night,X1',
      ].join('\n'),
    });
    expect(imported.body, JSON.stringify(imported.body)).toMatchObject({ created: 4, failed: 0 });
    for (const device of imported.body.devices as { device_id: string; activation_code: string }[]) {
      const activated = await pulse.call('/api/device/activate', {
        admin: false,
        json: { tenant_id: A, device_id: device.device_id, activation_code: device.activation_code },
      });
      tokens.set(device.device_id, activated.body.provision_token);
    }
    for (const scope of ['scoped', 'all']) {
      const integration = await call('admin', '/customer/integrations', 'POST', {
        name: scope,
        webhook_url: `${webhook.url}/${scope}`,
      });
      expect(integration.status, JSON.stringify(integration.body)).toBe(200);
      const route = await call('admin', '/customer/integration-routes', 'POST', {
        integration_id: integration.body.integration_id,
        name: scope,
        ...(scope === 'scoped' && { selector: SELECTOR }),
        deliver_on: ['OPEN'],
      });
      expect(route.status, JSON.stringify(route.body)).toBe(200);
    }
  }, 90_000);
  afterAll(async () => {
    await pulse?.close();
    await webhook?.close();
  });

  it('lists the devices the imported tags and attributes select', async () => {
    const listed = await call('admin', `/customer/devices?${AS_QUERY}&sort=device_id`);
    expect(listed.body.devices.map((d: { device_id: string }) => d.device_id)).toEqual(SELECTED);
    expect((await call('admin', '/customer/devices/selection', 'POST', { selector: SELECTOR })).body.count).toBe(2);
  });

  it('opens a scoped rule’s alerts for the selected devices only, and routes them through the scoped route', async () => {
    const rule = await call('admin', '/customer/alert-rules', 'POST', {
      name: 'door open',
      metric_name: 'door',
      operator: 'EQ',
      values: ['open'],
      selector: SELECTOR,
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    await rulesInForce(pulse);
    await waitFor(async () => {
      for (const device of [...SELECTED, ...OTHERS]) await send(device, { door: 'open' });
      return (await openRuleAlerts()).length === SELECTED.length;
    }, 15_000);
    // The others' doors are open too, and the evaluator has taken it (their state shows the reading).
    for (const device of OTHERS) await send(device, { door: 'open', round: 2 });
    await waitFor(async () => {
      const states = await Promise.all(
        OTHERS.map(async (device) => (await call('admin', `/customer/devices/${device}`)).body.device.state.round),
      );
      return states.every((round) => round === 2);
    }, 10_000);
    expect(await openRuleAlerts()).toEqual(SELECTED);
    await waitFor(() => deliveredTo('/scoped').length === SELECTED.length && deliveredTo('/all').length === 2, 15_000);
    expect(deliveredTo('/scoped')).toEqual(SELECTED);
  });

  it('queues an alert through the scoped route only for a selected device', async () => {
    const other = await seedAlert(pulse.db, { tenantId: A, deviceId: 'fr-3' });
    const selected = await seedAlert(pulse.db, { tenantId: A, deviceId: 'fr-4' });
    announce(other);
    announce(selected);
    await waitFor(async () => (await jobsOf(other)).length > 0 && (await jobsOf(selected)).length === 2, 10_000);
    expect((await jobsOf(other)).map((job) => job.route)).toEqual(['all']);
    expect((await jobsOf(selected)).map((job) => job.route)).toEqual(['all', 'scoped']);
  });

  it('holds the notifications of the selected devices under a silence scoped by the selector, not the others’', async () => {
    const silence = await call('admin', '/customer/silences', 'POST', {
      selector: SELECTOR,
      duration_minutes: 30,
      comment: 'maintenance',
    });
    expect(silence.status, JSON.stringify(silence.body)).toBe(201);
    expect(silence.body.selector).toEqual(SELECTOR);
    const held = await seedAlert(pulse.db, { tenantId: A, deviceId: 'fr-1' });
    const sent = await seedAlert(pulse.db, { tenantId: A, deviceId: 'fr-2' });
    announce(held);
    announce(sent);
    await waitFor(() => webhook.received.some((request) => request.json?.alert_id === sent), 10_000);
    await waitFor(async () => (await jobsOf(held)).length === 2, 10_000);
    expect((await jobsOf(held)).map((job) => job.status)).toEqual(['SILENCED', 'SILENCED']);
    expect(webhook.received.some((request) => request.json?.alert_id === held)).toBe(false);
  });

  it('exports the telemetry of the selected devices only', async () => {
    const csv = await call('admin', `/api/v2/telemetry/export?start=${encodeURIComponent(started)}&${AS_QUERY}`);
    expect(csv.status).toBe(200);
    const lines = (csv.body as string).split('\r\n').filter(Boolean);
    expect([...new Set(lines.slice(1).map((line) => line.split(',')[1]))].sort()).toEqual(SELECTED);
    const everything = await call('admin', `/api/v2/telemetry/export?start=${encodeURIComponent(started)}`);
    const devices = (everything.body as string)
      .split('\r\n')
      .filter(Boolean)
      .slice(1)
      .map((line) => line.split(',')[1]);
    expect([...new Set(devices)].sort()).toEqual([...SELECTED, ...OTHERS].sort());
  });
});
