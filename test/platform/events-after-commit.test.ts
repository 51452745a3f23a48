// Every event about a database change is published only after the change has committed: a subscriber
// that reads the database from another connection the moment it hears the event sees the change. One
// check per publisher — ingest (telemetry.stored), the evaluator (alert.changed OPENED), /customer
// (alert.changed CLOSED), the dispatcher (delivery.queued) and provisioning (device.changed).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusEvents, BusTopic } from '../../src/bus/index.js';
import { urlFor } from '../helpers/databases.js';
import { bearer, tokenFor } from '../helpers/identity.js';
import { rulesInForce, startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { provisionDevices } from '../helpers/provision.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { waitFor } from '../helpers/wait.js';

describe('events after commit (PostgreSQL)', () => {
  let pulse: TestPlatform;
  let reader: pg.Client;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let token: string;
  const seen: Partial<Record<BusTopic, unknown[]>> = {};

  /** On each event, reads the database at once from another connection; keeps what it saw. */
  const observe = <T extends BusTopic>(topic: T, read: (event: BusEvents[T]) => Promise<unknown>) =>
    pulse.bus.subscribe(topic, async (event: BusEvents[T]) => {
      const row = await read(event);
      const rows: unknown[] = (seen[topic as BusTopic] ??= []);
      rows.push(row);
    });

  beforeAll(async () => {
    webhook = await startWebhookReceiver();
    pulse = await startTestPlatform('postgres', { SSRF_ALLOWLIST: '127.0.0.1', API_RATE_LIMIT: '100000' });
    reader = new pg.Client({ connectionString: urlFor(pulse.databaseLocation.split('/').pop()!) });
    await reader.connect();
    token = await tokenFor(pulse, { username: 'commit-admin', role: 'customer_admin', tenantId: 'acme' });
  });
  afterAll(async () => {
    await reader?.end();
    await pulse?.close();
    await webhook?.close();
  });

  const one = async <T>(query: string, params: unknown[]) => (await reader.query(query, params)).rows[0] as T;

  it('every publisher announces only what another connection can already read', async () => {
    observe('device.changed', ({ tenant_id, device_id }) =>
      one(`SELECT status FROM device_registry WHERE tenant_id = $1 AND device_id = $2`, [tenant_id, device_id]),
    );
    observe('telemetry.stored', async (messages) =>
      one(`SELECT count(*)::int AS n FROM telemetry WHERE tenant_id = $1 AND device_id = $2 AND seq = $3`, [
        messages[0]!.tenant_id,
        messages[0]!.device_id,
        messages[0]!.seq,
      ]),
    );
    observe('alert.changed', ({ alert_id }) => one(`SELECT status FROM fleet_alert WHERE id = $1`, [alert_id]));
    observe('delivery.queued', () => one(`SELECT count(*)::int AS n FROM delivery_jobs`, []));

    const deviceToken = (
      await provisionDevices(pulse.base, TEST_ADMIN_KEY, [{ tenant_id: 'acme', device_id: 'd1', site_id: 's' }])
    ).get('acme/d1')!;
    const customer = (path: string, json: unknown) => pulse.call(path, { admin: false, headers: bearer(token), json });
    expect(
      (await customer('/customer/alert-rules', { name: 'hot', metric_name: 't', operator: 'GT', threshold: 5 })).status,
    ).toBe(201);
    const hook = await customer('/customer/integrations', { name: 'hook', webhook_url: `${webhook.url}/x` });
    await customer('/customer/integration-routes', { integration_id: hook.body.integration_id, name: 'all' });
    await rulesInForce(pulse);

    const ingest = await pulse.call('/ingest/v1/tenant/acme/device/d1/telemetry', {
      admin: false,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-provision-token': deviceToken },
      body: JSON.stringify({ site_id: 's', seq: 7, metrics: { t: 9 } }),
    });
    expect(ingest.status).toBe(202);
    await waitFor(() => (seen['delivery.queued']?.length ?? 0) > 0, 10_000);
    const opened = (await reader.query<{ id: number }>(`SELECT id FROM fleet_alert WHERE status = 'OPEN'`)).rows[0]!;
    expect((await customer(`/customer/alerts/${opened.id}/close`, {})).status).toBe(200);
    await pulse.call('/api/admin/devices/acme/d1/revoke', { method: 'POST' });
    await waitFor(
      () => (seen['alert.changed']?.length ?? 0) >= 2 && (seen['device.changed']?.length ?? 0) >= 3,
      10_000,
    );

    expect(seen['telemetry.stored']).toContainEqual({ n: 1 });
    expect(seen['telemetry.stored']).not.toContainEqual({ n: 0 });
    expect(seen['alert.changed']).toEqual([{ status: 'OPEN' }, { status: 'CLOSED' }]);
    expect(seen['delivery.queued']!.every((row) => (row as { n: number }).n > 0)).toBe(true);
    // registered, activated (token), revoked
    expect(seen['device.changed']).toEqual([{ status: 'ACTIVE' }, { status: 'ACTIVE' }, { status: 'REVOKED' }]);
  });
});
