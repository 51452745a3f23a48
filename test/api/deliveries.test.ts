// Deliveries in the API (issue 18), with a webhook receiver on 127.0.0.1 that fails until told not to: a
// notification that ran out of attempts is FAILED, listed with its HTTP status, and "retry now" sends it
// again; each tenant sees and retries only its own. On both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startDeliveryPlatform, type TestPlatform } from '../helpers/platform.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { seedAlert } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

describe.each<Engine>(['pglite', 'postgres'])('deliveries on %s', (engine) => {
  let pulse: TestPlatform;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let answer = 500;
  const tokens: Record<string, string> = {};
  const call = callerFor(() => pulse, tokens);

  beforeAll(async () => {
    webhook = await startWebhookReceiver(() => answer);
    pulse = await startDeliveryPlatform(engine, ['dl-a', 'dl-b'], {
      WORKER_MAX_ATTEMPTS: '2',
      WORKER_BACKOFF_BASE_SECONDS: '1',
      WORKER_BACKOFF_MAX_SECONDS: '1',
    });
    tokens.adminA = await tokenFor(pulse, { username: 'dl-admin-a', role: 'customer_admin', tenantId: 'dl-a' });
    tokens.viewerA = await tokenFor(pulse, { username: 'dl-viewer-a', role: 'customer_viewer', tenantId: 'dl-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'dl-admin-b', role: 'customer_admin', tenantId: 'dl-b' });
  }, 90_000);
  afterAll(async () => {
    await pulse?.close();
    await webhook?.close();
  });

  it('lists a FAILED notification with its HTTP status and retries it now; only in its tenant', async () => {
    const hook = await call('adminA', '/customer/integrations', 'POST', { name: 'hook', webhook_url: webhook.url });
    const integrationId = hook.body.integration_id as string;
    await call('adminA', '/customer/integration-routes', 'POST', { integration_id: integrationId, name: 'all' });
    const alertId = await seedAlert(pulse.db, { tenantId: 'dl-a', deviceId: 'pump-1' });
    pulse.bus.publish('alert.changed', { event: 'OPENED', alert_id: alertId, tenant_id: 'dl-a', fingerprint: 'x' });

    let failed: any;
    await waitFor(async () => {
      failed = (await call('viewerA', `/customer/deliveries?status=FAILED&integration_id=${integrationId}`)).body;
      return failed.jobs.length === 1;
    }, 20_000);
    expect(failed.total).toBe(1);
    expect(failed.jobs[0]).toMatchObject({
      alert_id: alertId,
      device_id: 'pump-1',
      integration_name: 'hook',
      event: 'OPEN',
      notice: '',
      status: 'FAILED',
      attempts: 2,
      last_http_status: 500,
    });
    const jobId = failed.jobs[0].job_id as number;
    const attempts = await call('viewerA', `/customer/delivery-status?integration_id=${integrationId}`);
    expect(attempts.body.attempts.map((a: any) => [a.job_id, a.attempt_no, a.http_status])).toEqual([
      [jobId, 2, 500],
      [jobId, 1, 500],
    ]);

    // Another tenant sees none of it and cannot retry it; a viewer may look but not retry.
    expect((await call('adminB', '/customer/deliveries')).body).toMatchObject({ jobs: [], total: 0 });
    expect((await call('adminB', `/customer/deliveries/${jobId}/retry`, 'POST')).status).toBe(404);
    expect((await call('viewerA', `/customer/deliveries/${jobId}/retry`, 'POST')).status).toBe(403);

    answer = 200;
    const retried = await call('adminA', `/customer/deliveries/${jobId}/retry`, 'POST');
    expect(retried.status).toBe(202);
    await waitFor(
      async () => (await call('viewerA', '/customer/deliveries?status=COMPLETED')).body.jobs.length === 1,
      10_000,
    );
    expect(webhook.received.filter((r) => r.json?.alert_id === alertId)).toHaveLength(3);
    const again = await call('adminA', `/customer/deliveries/${jobId}/retry`, 'POST');
    expect(again.status).toBe(409);
    expect(again.body.detail).toBe('Only a FAILED delivery can be retried; this one is queued, in flight or done');

    const window = await call('viewerA', `/customer/deliveries?start=${new Date(Date.now() + 60_000).toISOString()}`);
    expect(window.body.total).toBe(0);
    expect((await call('viewerA', '/customer/deliveries?integration_id=nope')).status).toBe(400);
    expect((await call('viewerA', '/customer/deliveries?status=LOST')).status).toBe(422);
  }, 60_000);

  it('refuses to retry an OPEN whose alert was acknowledged since: it would be superseded, not sent', async () => {
    answer = 500;
    const hook = await call('adminA', '/customer/integrations', 'POST', {
      name: 'late hook',
      webhook_url: webhook.url,
    });
    const integrationId = hook.body.integration_id as string;
    await call('adminA', '/customer/integration-routes', 'POST', { integration_id: integrationId, name: 'late' });
    const alertId = await seedAlert(pulse.db, { tenantId: 'dl-a', deviceId: 'pump-2' });
    pulse.bus.publish('alert.changed', { event: 'OPENED', alert_id: alertId, tenant_id: 'dl-a', fingerprint: 'y' });
    let jobId: number | undefined;
    await waitFor(async () => {
      const failed = (await call('viewerA', `/customer/deliveries?status=FAILED&integration_id=${integrationId}`)).body;
      jobId = failed.jobs[0]?.job_id;
      return jobId !== undefined;
    }, 20_000);
    expect((await call('adminA', `/customer/alerts/${alertId}/acknowledge`, 'POST')).status).toBe(200);
    const retried = await call('adminA', `/customer/deliveries/${jobId}/retry`, 'POST');
    expect(retried.status).toBe(409);
    expect(retried.body.detail).toMatch(/^The alert is ACKNOWLEDGED now: this notification would be superseded/);
    expect(
      (await call('viewerA', `/customer/deliveries?status=FAILED&integration_id=${integrationId}`)).body.total,
    ).toBe(1);
  }, 60_000);
});
