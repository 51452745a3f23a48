// Customers see their own rejects (issue 33 item 4) on PostgreSQL in DEV: messages refused by HTTP ingest
// are counted and stored with their tokens replaced, and each tenant's admins read only their own —
// tenant B never sees tenant A's — while viewers are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

const LEAKED = 'tok-AAAAbbbbCCCCddddEEEEffffGGGGhhhh';

describe('customer quarantine', () => {
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};
  const read = (token: string, query = '') =>
    pulse.call(`/customer/quarantine${query}`, { admin: false, headers: bearer(token) });
  const reject = (tenant: string, device: string, body: Record<string, unknown>) =>
    pulse.call(`/ingest/v1/tenant/${tenant}/device/${device}/telemetry`, {
      admin: false,
      headers: { 'x-provision-token': LEAKED },
      json: body,
    });

  beforeAll(async () => {
    pulse = await startTestPlatform('postgres', { MODE: 'DEV' });
    tokens.adminA = await tokenFor(pulse, { username: 'q-admin-a', role: 'customer_admin', tenantId: 'tenant-a' });
    tokens.viewerA = await tokenFor(pulse, { username: 'q-viewer-a', role: 'customer_viewer', tenantId: 'tenant-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'q-admin-b', role: 'customer_admin', tenantId: 'tenant-b' });
    for (const [tenant, device] of [
      ['tenant-a', 'fw-a'],
      ['tenant-b', 'fw-b'],
    ]) {
      await pulse.call('/api/admin/devices', { json: { tenant_id: tenant, device_id: device, site_id: 'lab' } });
    }
    // Firmware with a bug: the wrong token, echoed in the body and in a metric too.
    for (let i = 0; i < 3; i += 1) {
      const answer = await reject('tenant-a', 'fw-a', {
        site_id: 'lab',
        provision_token: LEAKED,
        metrics: { note: `debug ${LEAKED}`, temp_c: 21 },
      });
      expect(answer.status).toBeGreaterThanOrEqual(400);
    }
    await reject('tenant-b', 'fw-b', { site_id: 'lab', provision_token: LEAKED, metrics: { b_only: 1 } });
    await waitFor(async () => (await read(tokens.adminB!)).body.events?.length === 1, 15_000);
    await waitFor(async () => (await read(tokens.adminA!)).body.events?.length === 3, 15_000);
  }, 60_000);
  afterAll(async () => {
    await pulse?.close();
  });

  it("an admin sees the tenant's rejects with the token replaced, and their counts", async () => {
    const { body } = await read(tokens.adminA!);
    expect(body.events).toHaveLength(3);
    for (const event of body.events) {
      expect(event).toMatchObject({ tenant_id: 'tenant-a', device_id: 'fw-a', site_id: 'lab', msg_type: 'telemetry' });
      expect(event.payload).toMatchObject({ provision_token: '[REDACTED]', metrics: { note: 'debug [REDACTED]' } });
    }
    expect(JSON.stringify(body)).not.toContain(LEAKED);
    const counted = body.counts.reduce((sum: number, row: { count: number }) => sum + row.count, 0);
    expect(counted).toBe(3);
    expect(new Set(body.counts.map((row: { reason: string }) => row.reason))).toEqual(new Set([body.events[0].reason]));
  });

  it("tenant B never sees tenant A's rejects, and A never B's", async () => {
    const b = (await read(tokens.adminB!)).body;
    expect(b.events.map((event: { device_id: string }) => event.device_id)).toEqual(['fw-b']);
    expect(JSON.stringify(b)).not.toContain('fw-a');
    expect(b.counts.reduce((sum: number, row: { count: number }) => sum + row.count, 0)).toBe(1);
    expect(JSON.stringify((await read(tokens.adminA!)).body)).not.toContain('b_only');
  });

  it('viewers are refused; limit and window are honoured', async () => {
    expect((await read(tokens.viewerA!)).status).toBe(403);
    expect((await read(tokens.adminA!, '?limit=1')).body.events).toHaveLength(1);
    expect((await read(tokens.adminA!, '?minutes=0')).status).toBe(422);
  });
});
