// The device selector as the scope of a rule, a route and a silence (issue 31), on both engines: a
// `door == "open"` rule watches the devices tagged cold only, follows tags as they change (and closes the
// alert of a device it no longer watches); a route sends the alerts of one model only; a silence holds a
// tag's; tenant B's devices with the same tag are never picked; a status is refused as a scope.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { provisionDevices } from '../helpers/provision.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { seedAlert } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

const A = 'sc-a';
const B = 'sc-b';

describe.each<Engine>(['pglite', 'postgres'])('selectors as scopes on %s', (engine) => {
  let pulse: TestPlatform;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let tokens: Map<string, string>;
  const users: Record<string, string> = {};
  const call = callerFor(() => pulse, users);
  const publish = (tenant: string, device: string, metrics: object) =>
    fetch(`${pulse.base}/ingest/v1/tenant/${tenant}/device/${device}/telemetry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-provision-token': tokens.get(`${tenant}/${device}`)! },
      body: JSON.stringify({ site_id: 'plant', metrics }),
    }).then((response) => expect(response.status).toBe(202));
  const alertsOf = async (who: string, status = 'ALL') =>
    ((await call(who, `/customer/alerts?status=${status}&limit=100`)).body.alerts ?? []) as {
      alert_id: number;
      device_id: string;
      status: string;
      alert_type: string;
    }[];
  const thresholdAlert = async (who: string, device: string, status = 'OPEN') =>
    (await alertsOf(who, status)).find((alert) => alert.device_id === device && alert.alert_type === 'THRESHOLD');
  // Tenant A's only integration: everything the receiver gets went through its route.
  const delivered = (device: string) => webhook.received.some((request) => request.json?.device_id === device);

  beforeAll(async () => {
    webhook = await startWebhookReceiver();
    pulse = await startTestPlatform(engine, {
      API_RATE_LIMIT: '100000',
      SSRF_ALLOWLIST: '127.0.0.1',
      FLUSH_INTERVAL_MS: '50',
      WORKER_POLL_SECONDS: '1',
      RENOTIFY_CHECK_SECONDS: '1',
      HEARTBEAT_STALE_SECONDS: '3600',
    });
    tokens = await provisionDevices(pulse.base, TEST_ADMIN_KEY, [
      { tenant_id: A, device_id: 'fr-1', site_id: 'plant' },
      { tenant_id: A, device_id: 'fr-2', site_id: 'plant' },
      { tenant_id: A, device_id: 'fr-3', site_id: 'plant' },
      { tenant_id: B, device_id: 'fr-1', site_id: 'plant' },
    ]);
    users.adminA = await tokenFor(pulse, { username: `sc-admin-a-${engine}`, role: 'customer_admin', tenantId: A });
    users.adminB = await tokenFor(pulse, { username: `sc-admin-b-${engine}`, role: 'customer_admin', tenantId: B });
    for (const [who, device, body] of [
      ['adminA', 'fr-1', { tags: ['cold'] }],
      ['adminA', 'fr-3', { tags: ['cold'], attributes: { model: 'X1' } }],
      ['adminB', 'fr-1', { tags: ['cold'], attributes: { model: 'X1' } }],
    ] as const)
      expect((await call(who, `/customer/devices/${device}`, 'PATCH', body)).status).toBe(200);
  }, 90_000);
  afterAll(async () => {
    await pulse?.close();
    await webhook?.close();
  });

  it('watches the devices a rule’s selector picks, and follows their tags as they change', async () => {
    const doorRule = (who: string, selector: object) =>
      call(who, '/customer/alert-rules', 'POST', {
        name: 'door open',
        metric_name: 'door',
        operator: 'EQ',
        values: ['open'],
        selector,
      });
    const refused = await doorRule('adminA', { status: ['ONLINE'] });
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toMatch(/cannot pick devices by status/);
    // Criteria that name nothing are a mistake, never "every device".
    const empty = await doorRule('adminA', { tags_any: [] });
    expect(empty.status).toBe(400);
    expect(empty.body.detail).toMatch(/names no devices/);
    const rule = await doorRule('adminA', { tags_any: ['cold'] });
    expect(rule.status).toBe(201);
    expect(rule.body.selector).toEqual({ tags_any: ['cold'] });
    // Tenant B's rule names the same tag: it sees B's device only.
    const theirs = await doorRule('adminB', { tags_any: ['cold'] });
    expect(theirs.status).toBe(201);
    // The evaluator reloads rules within half a second.
    await waitFor(async () => {
      await publish(A, 'fr-1', { door: 'open' });
      return !!(await thresholdAlert('adminA', 'fr-1'));
    }, 15_000);

    await publish(A, 'fr-2', { door: 'open' });
    await publish(A, 'fr-3', { door: 'open' });
    await waitFor(async () => !!(await thresholdAlert('adminA', 'fr-3')), 10_000);
    expect(await thresholdAlert('adminA', 'fr-2', 'ALL')).toBeUndefined();
    // B's rule was created after A's: a reload between the two may not hold it yet, so B sends until it is.
    await waitFor(async () => {
      await publish(B, 'fr-1', { door: 'open' });
      return !!(await thresholdAlert('adminB', 'fr-1'));
    }, 15_000);
    expect((await alertsOf('adminB')).every((alert) => alert.device_id === 'fr-1')).toBe(true);

    // fr-2 tagged: the rule watches it from then on. fr-1 untagged: its alert closes.
    expect((await call('adminA', '/customer/devices/fr-2', 'PATCH', { add_tags: ['cold'] })).status).toBe(200);
    expect((await call('adminA', '/customer/devices/fr-1', 'PATCH', { remove_tags: ['cold'] })).status).toBe(200);
    await waitFor(async () => (await thresholdAlert('adminA', 'fr-1', 'CLOSED')) !== undefined, 10_000);
    await waitFor(async () => {
      await publish(A, 'fr-2', { door: 'open' });
      return !!(await thresholdAlert('adminA', 'fr-2'));
    }, 10_000);
    // Tenant B's alert stays: A's tags never reach B's rule.
    expect(await thresholdAlert('adminB', 'fr-1')).toBeDefined();
  });

  it('sends through a route only the alerts its selector picks, and holds a silence’s', async () => {
    const integration = await call('adminA', '/customer/integrations', 'POST', {
      name: 'hook',
      webhook_url: `${webhook.url}/x1`,
    });
    expect(integration.status).toBe(200);
    const route = await call('adminA', '/customer/integration-routes', 'POST', {
      integration_id: integration.body.integration_id,
      name: 'model X1 only',
      selector: { attributes: [{ key: 'model', op: 'eq', value: 'X1' }] },
      deliver_on: ['OPEN', 'CLOSED'],
    });
    expect(route.status).toBe(200);
    expect(route.body.selector).toEqual({ attributes: [{ key: 'model', op: 'eq', value: 'X1' }] });
    // The new route backfills the open alerts it picks: fr-3's (model X1), never fr-2's.
    await waitFor(() => delivered('fr-3'), 15_000);
    expect(delivered('fr-2')).toBe(false);

    // fr-3 leaves the route's scope, then its door shuts: the CLOSED of the OPEN the route sent still goes out.
    const opened = (await thresholdAlert('adminA', 'fr-3'))!;
    expect((await call('adminA', '/customer/devices/fr-3', 'PATCH', { attributes: { model: 'X2' } })).status).toBe(200);
    await publish(A, 'fr-3', { door: 'closed' });
    await waitFor(
      () =>
        webhook.received.some(
          (request) => request.json?.alert_id === opened.alert_id && request.json?.status === 'CLOSED',
        ),
      15_000,
    );
    expect((await call('adminA', '/customer/devices/fr-3', 'PATCH', { attributes: { model: 'X1' } })).status).toBe(200);

    // A silence of the devices tagged both cold and night holds fr-3's next alert, not fr-2's.
    expect((await call('adminA', '/customer/devices/fr-2', 'PATCH', { attributes: { model: 'X1' } })).status).toBe(200);
    expect((await call('adminA', '/customer/devices/fr-3', 'PATCH', { add_tags: ['night'] })).status).toBe(200);
    const silence = await call('adminA', '/customer/silences', 'POST', {
      selector: { tags_all: ['cold', 'night'] },
      duration_minutes: 30,
      comment: 'night shift',
    });
    expect(silence.status).toBe(201);
    expect(silence.body.selector).toEqual({ tags_all: ['cold', 'night'] });
    const held = await seedAlert(pulse.db, { tenantId: A, deviceId: 'fr-3' });
    const sent = await seedAlert(pulse.db, { tenantId: A, deviceId: 'fr-2' });
    for (const alert_id of [held, sent])
      pulse.bus.publish('alert.changed', { event: 'OPENED', alert_id, tenant_id: A, fingerprint: 'x' });
    await waitFor(() => webhook.received.some((request) => request.json?.alert_id === sent), 10_000);
    const jobs = await pulse.db.withService((tx) =>
      tx.query<{ status: string }>(`SELECT status FROM delivery_jobs WHERE alert_id = $1`, [held]),
    );
    expect(jobs.rows).toEqual([{ status: 'SILENCED' }]);

    // Tenant B sees none of it, and its own silences list is empty.
    expect((await call('adminB', '/customer/silences')).body.silences).toEqual([]);
    expect((await call('adminB', '/customer/integration-routes')).body.routes).toEqual([]);
  });
});
