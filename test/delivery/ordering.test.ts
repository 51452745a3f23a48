// Notifications receivers can trust (issue 29): with a receiver that is down at first, one alert's
// notifications to one integration go out in event order, an OPEN still being retried when its alert is
// closed is set aside (unless the route asks for it), and every payload carries the alert's current status,
// its place in the alert's sequence and a delivery id that retries keep. Real receivers on 127.0.0.1, both
// engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertJobs, numberNotifications, type NewJob } from '../../src/model/deliveries.js';
import { ENGINES } from '../helpers/databases.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startDeliveryPlatform, type TestPlatform } from '../helpers/platform.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { seedAlert } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

describe('numbering notifications', () => {
  it("gives each alert's notifications its reserved numbers in the order given", () => {
    const numbers = numberNotifications(
      [
        { key: 'a:OPEN', alert_id: 1 },
        { key: 'b:OPEN', alert_id: 2 },
        { key: 'a:CLOSED', alert_id: 1 },
      ],
      new Map([
        [1, 7],
        [2, 1],
      ]),
    );
    expect(Object.fromEntries(numbers)).toEqual({ 'a:OPEN': 6, 'a:CLOSED': 7, 'b:OPEN': 1 });
  });
});

describe.each(ENGINES)('delivery order on %s', (engine) => {
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};
  const call = callerFor(() => pulse, tokens);
  const receivers: Awaited<ReturnType<typeof startWebhookReceiver>>[] = [];
  /** A receiver down (500) for its first `failures` requests. */
  const receiver = async (failures: number) => {
    const started = await startWebhookReceiver((_request, index) => (index < failures ? 500 : 200));
    receivers.push(started);
    return started;
  };

  beforeAll(async () => {
    pulse = await startDeliveryPlatform(engine, ['ord'], {
      WORKER_BACKOFF_BASE_SECONDS: '1',
      WORKER_BACKOFF_MAX_SECONDS: '2',
    });
    tokens.admin = await tokenFor(pulse, { username: 'ord-admin', role: 'customer_admin', tenantId: 'ord' });
  }, 90_000);
  afterAll(async () => {
    await pulse?.close();
    for (const started of receivers) await started.close();
  });

  const routeTo = async (url: string, options: Record<string, unknown> = {}) => {
    const integration = await call('admin', '/customer/integrations', 'POST', { name: 'r', webhook_url: url });
    const route = await call('admin', '/customer/integration-routes', 'POST', {
      integration_id: integration.body.integration_id,
      deliver_on: ['OPEN', 'CLOSED'],
      ...options,
    });
    expect(route.status).toBe(200);
    return route.body.route_id as string;
  };
  const open = async (deviceId: string) => {
    const alertId = await seedAlert(pulse.db, { tenantId: 'ord', deviceId });
    pulse.bus.publish('alert.changed', { event: 'OPENED', alert_id: alertId, tenant_id: 'ord', fingerprint: 'x' });
    return alertId;
  };
  const jobs = async (alertId: number) =>
    (
      await pulse.db.withService((tx) =>
        tx.query<{ event: string; status: string; last_error: string | null }>(
          `SELECT deliver_on_event AS event, status, last_error FROM delivery_jobs WHERE alert_id = $1 ORDER BY job_id`,
          [alertId],
        ),
      )
    ).rows;
  const settled = async (alertId: number) =>
    (await jobs(alertId)).length > 0 &&
    (await jobs(alertId)).every((job) => !['PENDING', 'PROCESSING'].includes(job.status));

  it('numbers one batch in event order, a held (silenced) notification among them', async () => {
    const integration = await call('admin', '/customer/integrations', 'POST', {
      name: 'held',
      webhook_url: 'http://127.0.0.1:9/x',
    });
    const route = await call('admin', '/customer/integration-routes', 'POST', {
      integration_id: integration.body.integration_id,
      deliver_on: ['OPEN', 'CLOSED'],
      device_prefixes: ['held-'],
    });
    const silence = await call('admin', '/customer/silences', 'POST', {
      device_ids: ['held-1'],
      duration_minutes: 5,
      comment: 'held',
    });
    const alertId = await seedAlert(pulse.db, { tenantId: 'ord', deviceId: 'held-1' });
    const job = (event: 'OPEN' | 'CLOSED', silenceId?: string): NewJob => ({
      tenant_id: 'ord',
      alert_id: alertId,
      integration_id: integration.body.integration_id,
      route_id: route.body.route_id,
      deliver_on_event: event,
      payload_json: {},
      ...(silenceId && { silence_id: silenceId }),
    });
    // The OPEN went out before the silence began; the CLOSED comes while it holds.
    const counted = await pulse.db.withService((tx) =>
      insertJobs(tx, [job('OPEN'), job('CLOSED', silence.body.silence_id)]),
    );
    expect(counted).toEqual({ queued: 1, silenced: 1 });
    const numbered = await pulse.db.withService((tx) =>
      tx.query<{ event: string; status: string; sequence: number }>(
        `SELECT deliver_on_event AS event, status, sequence FROM delivery_jobs WHERE alert_id = $1 ORDER BY sequence`,
        [alertId],
      ),
    );
    expect(numbered.rows).toEqual([
      { event: 'OPEN', status: 'PENDING', sequence: 1 },
      { event: 'CLOSED', status: 'SILENCED', sequence: 2 },
    ]);
  });

  it('sets aside an OPEN still retrying once its alert is closed, and sends the CLOSED once, after it', async () => {
    const target = await receiver(2);
    await routeTo(target.url, { device_prefixes: ['pump-1'] });
    const alertId = await open('pump-1');
    await waitFor(() => target.received.length === 2, 15_000); // two failed attempts of the OPEN
    expect((await call('admin', `/customer/alerts/${alertId}/close`, 'POST')).status).toBe(200);
    await waitFor(() => settled(alertId), 15_000);

    expect(await jobs(alertId)).toEqual([
      { event: 'OPEN', status: 'SUPERSEDED', last_error: 'alert_closed' },
      { event: 'CLOSED', status: 'COMPLETED', last_error: null },
    ]);
    const [first, retry, closed] = target.received;
    expect(target.received.map((r) => r.json.event)).toEqual(['OPEN', 'OPEN', 'CLOSED']);
    // Retries of one job keep its delivery id; the wire contract's fields stay as they were.
    expect(first!.headers['x-pulse-delivery']).toBe(first!.json.delivery_id);
    expect(retry!.json.delivery_id).toBe(first!.json.delivery_id);
    expect(closed!.headers['x-pulse-delivery']).toBe(closed!.json.delivery_id);
    expect(closed!.json.delivery_id).not.toBe(first!.json.delivery_id);
    expect(first!.json).toMatchObject({ status: 'OPEN', event: 'OPEN', alert_status: 'OPEN', alert_id: alertId });
    expect(closed!.json).toMatchObject({ status: 'CLOSED', event: 'CLOSED', alert_status: 'CLOSED' });
    expect(closed!.json.sequence).toBeGreaterThan(first!.json.sequence);
  }, 40_000);

  it('a route that asks for superseded OPENs gets the OPEN first, then the CLOSED', async () => {
    const target = await receiver(2);
    await routeTo(target.url, { device_prefixes: ['pump-2'], deliver_superseded: true });
    const alertId = await open('pump-2');
    await waitFor(() => target.received.length === 1, 15_000);
    expect((await call('admin', `/customer/alerts/${alertId}/close`, 'POST')).status).toBe(200);
    await waitFor(() => settled(alertId), 20_000);

    expect((await jobs(alertId)).map((job) => job.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect(target.received.map((r) => r.json.event)).toEqual(['OPEN', 'OPEN', 'OPEN', 'CLOSED']);
    // The late OPEN says the alert is closed by now.
    expect(target.received[2]!.json).toMatchObject({ event: 'OPEN', alert_status: 'CLOSED' });
  }, 40_000);

  it('sets aside an OPEN still retrying once its alert is acknowledged', async () => {
    const target = await receiver(1);
    await routeTo(target.url, { device_prefixes: ['pump-3'] });
    const alertId = await open('pump-3');
    await waitFor(() => target.received.length === 1, 15_000);
    expect((await call('admin', `/customer/alerts/${alertId}/acknowledge`, 'POST')).status).toBe(200);
    await waitFor(() => settled(alertId), 15_000);
    expect(await jobs(alertId)).toEqual([{ event: 'OPEN', status: 'SUPERSEDED', last_error: 'alert_acknowledged' }]);
    expect(target.received).toHaveLength(1);
  }, 40_000);
});
