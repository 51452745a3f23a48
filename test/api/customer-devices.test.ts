// Devices managed by customer_admin (issue 19): register one or a CSV, change, rotate, revoke — each
// visible to ingest at once, each confined to the caller's tenant (application and row-level security),
// refused to viewers; on both engines. The same for operator_admin in any tenant, audited.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { bearer, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedDevice } from '../helpers/seed.js';

describe.each<Engine>(['pglite', 'postgres'])('customer device management on %s', (engine) => {
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};
  const call = (who: string, path: string, method = 'GET', body?: unknown, contentType?: string) =>
    pulse.call(path, {
      admin: false,
      method,
      headers: { ...bearer(tokens[who]!), ...(contentType && { 'content-type': contentType }) },
      ...(body !== undefined && (typeof body === 'string' ? { body } : { json: body })),
    });
  const activate = async (tenant: string, device: string, code: string) =>
    (await pulse.call('/api/device/activate', {
      admin: false,
      json: { tenant_id: tenant, device_id: device, activation_code: code },
    })) as { status: number; body: { provision_token: string } };
  const ingest = (tenant: string, device: string, token: string, site = 'plant-1') =>
    pulse.call(`/ingest/v1/tenant/${tenant}/device/${device}/telemetry`, {
      admin: false,
      headers: { 'x-provision-token': token },
      json: { site_id: site, metrics: { temp_c: 20 } },
    });

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, { API_RATE_LIMIT: '100000' }, ['api', 'provision', 'ingest']);
    // Both tenants exist (an operator created them, or an admin registered a device there).
    await seedDevice(pulse.db, 'dm-a', 'seeded-a', 'plant-1');
    await seedDevice(pulse.db, 'dm-b', 'seeded-b', 'plant-1');
    tokens.adminA = await tokenFor(pulse, { username: 'dm-admin-a', role: 'customer_admin', tenantId: 'dm-a' });
    tokens.viewerA = await tokenFor(pulse, { username: 'dm-viewer-a', role: 'customer_viewer', tenantId: 'dm-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'dm-admin-b', role: 'customer_admin', tenantId: 'dm-b' });
    tokens.opAdmin = await tokenFor(pulse, { username: 'dm-op-admin', role: 'operator_admin' });
    tokens.opViewer = await tokenFor(pulse, { username: 'dm-op-viewer', role: 'operator' });
  }, 90_000);
  afterAll(() => pulse?.close());

  it('registers a device with a one-time code and the settings it connects with; it activates and sends', async () => {
    const created = await call('adminA', '/customer/devices', 'POST', {
      device_id: 'pump-1',
      site_id: 'plant-1',
      fw_version: '1.2.0',
      metadata: { model: 'P-100' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ tenant_id: 'dm-a', device_id: 'pump-1', created: true });
    expect(created.body.connection).toMatchObject({
      mqtt_username: 'dm-a/pump-1',
      mqtt_topic: 'tenant/dm-a/device/pump-1/telemetry',
    });
    expect(created.body.connection.http_url).toMatch(/\/ingest\/v1\/tenant\/dm-a\/device\/pump-1\/telemetry$/);
    const activated = await activate('dm-a', 'pump-1', created.body.activation_code);
    expect(activated.status).toBe(200);
    expect((await ingest('dm-a', 'pump-1', activated.body.provision_token)).status).toBe(202);
    const detail = await call('adminA', '/customer/devices/pump-1');
    expect(detail.body.device).toMatchObject({ fw_version: '1.2.0', metadata: { model: 'P-100' } });
  });

  it('changes site, firmware and metadata; ingest checks the new site at once', async () => {
    const created = await call('adminA', '/customer/devices', 'POST', { device_id: 'pump-2', site_id: 'plant-1' });
    const token = (await activate('dm-a', 'pump-2', created.body.activation_code)).body.provision_token;
    expect((await ingest('dm-a', 'pump-2', token)).status).toBe(202);
    const changed = await call('adminA', '/customer/devices/pump-2', 'PATCH', {
      site_id: 'plant-2',
      fw_version: '2.0.0',
      metadata: { room: 'B' },
    });
    expect(changed).toMatchObject({ status: 200, body: { status: 'updated' } });
    expect((await ingest('dm-a', 'pump-2', token, 'plant-1')).body.detail).toBe('SITE_MISMATCH');
    expect((await ingest('dm-a', 'pump-2', token, 'plant-2')).status).toBe(202);
    const detail = await call('adminA', '/customer/devices/pump-2');
    expect(detail.body.device).toMatchObject({ fw_version: '2.0.0', metadata: { room: 'B' } });
    expect((await call('adminA', '/customer/devices/pump-2', 'PATCH', {})).status).toBe(400);
  });

  it('rotates a token (the old one is refused at once) and revokes a device', async () => {
    const created = await call('adminA', '/customer/devices', 'POST', { device_id: 'pump-3', site_id: 'plant-1' });
    const old = (await activate('dm-a', 'pump-3', created.body.activation_code)).body.provision_token;
    expect((await ingest('dm-a', 'pump-3', old)).status).toBe(202);
    const rotated = await call('adminA', '/customer/devices/pump-3/rotate-token', 'POST');
    expect(rotated.status).toBe(200);
    expect((await ingest('dm-a', 'pump-3', old)).body.detail).toBe('TOKEN_INVALID');
    expect((await ingest('dm-a', 'pump-3', rotated.body.new_provision_token)).status).toBe(202);
    expect((await call('adminA', '/customer/devices/pump-3/revoke', 'POST')).body).toMatchObject({ status: 'revoked' });
    expect((await ingest('dm-a', 'pump-3', rotated.body.new_provision_token)).body.detail).toBe('DEVICE_REVOKED');
    expect((await call('adminA', '/customer/devices/pump-3')).body.device.status).toBe('REVOKED');
  });

  it('imports a CSV with per-row errors, keeping the good rows', async () => {
    const csv = [
      'device_id,site_id,fw_version',
      'csv-1,plant-1,1.0',
      'bad/id,plant-1,1.0',
      'csv-2,,1.0',
      'csv-3,plant-3,',
    ].join('\n');
    const imported = await call('adminA', '/customer/devices/bulk', 'POST', csv, 'text/csv');
    expect(imported.status).toBe(200);
    expect(imported.body).toMatchObject({ created: 2, updated: 0, failed: 2 });
    expect(imported.body.devices.map((d: { device_id: string }) => d.device_id)).toEqual(['csv-1', 'csv-3']);
    expect(imported.body.errors.map((e: { row: number }) => e.row)).toEqual([2, 3]);
    // A row for another tenant is an error of that row, not a device there.
    const foreign = await call('adminA', '/customer/devices/bulk', 'POST', [
      { tenant_id: 'dm-b', device_id: 'sneaky', site_id: 'x' },
      { device_id: 'csv-4', site_id: 'plant-1' },
    ]);
    expect(foreign.body).toMatchObject({ created: 1, failed: 1 });
    expect(foreign.body.errors[0].error).toMatch(/tenant_id must be dm-a/);
    expect((await call('adminB', '/customer/devices/sneaky')).status).toBe(404);
  });

  it("never lets tenant B see, change, rotate or revoke tenant A's devices", async () => {
    for (const [path, method, body] of [
      ['/customer/devices/pump-1', 'PATCH', { site_id: 'x' }],
      ['/customer/devices/pump-1/rotate-token', 'POST', undefined],
      ['/customer/devices/pump-1/revoke', 'POST', undefined],
      ['/customer/devices/pump-1', 'GET', undefined],
    ] as const) {
      expect((await call('adminB', path, method, body)).status, `${method} ${path}`).toBe(404);
    }
    expect((await call('adminA', '/customer/devices/pump-1')).body.device.status).not.toBe('REVOKED');
    // And B's registration of the same id is B's own device.
    const own = await call('adminB', '/customer/devices', 'POST', { device_id: 'pump-1', site_id: 'b-site' });
    expect(own.body).toMatchObject({ tenant_id: 'dm-b', created: true });
    expect((await call('adminA', '/customer/devices/pump-1')).body.device.site_id).toBe('plant-1');
  });

  it('adds devices to an ACTIVE tenant only', async () => {
    tokens.adminC = await tokenFor(pulse, { username: 'dm-admin-c', role: 'customer_admin', tenantId: 'dm-paused' });
    await pulse.db.withService((tx) =>
      tx.query(`UPDATE tenants SET status = 'SUSPENDED' WHERE tenant_id = 'dm-paused'`),
    );
    const refused = await call('adminC', '/customer/devices', 'POST', { device_id: 'x-1', site_id: 'x' });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/dm-paused is SUSPENDED/);
  });

  it('refuses viewers every change', async () => {
    for (const [path, method, body] of [
      ['/customer/devices', 'POST', { device_id: 'v-1', site_id: 'x' }],
      ['/customer/devices/bulk', 'POST', [{ device_id: 'v-2', site_id: 'x' }]],
      ['/customer/devices/pump-1', 'PATCH', { site_id: 'x' }],
      ['/customer/devices/pump-1/rotate-token', 'POST', undefined],
      ['/customer/devices/pump-1/revoke', 'POST', undefined],
    ] as const) {
      expect((await call('viewerA', path, method, body)).status, `${method} ${path}`).toBe(403);
    }
  });

  it('lets operator_admin manage the devices of any tenant, audited; operator viewers only look', async () => {
    const base = '/operator/tenants/dm-b/devices';
    const created = await call('opAdmin', base, 'POST', { device_id: 'op-1', site_id: 'b-site' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ tenant_id: 'dm-b', device_id: 'op-1', created: true });
    const token = (await activate('dm-b', 'op-1', created.body.activation_code)).body.provision_token;
    expect((await ingest('dm-b', 'op-1', token, 'b-site')).status).toBe(202);
    // The tenant's own admin sees it; the other tenant does not.
    expect((await call('adminB', '/customer/devices/op-1')).status).toBe(200);
    expect((await call('adminA', '/customer/devices/op-1')).status).toBe(404);

    const imported = await call(
      'opAdmin',
      `${base}/bulk`,
      'POST',
      'tenant_id,device_id,site_id\ndm-b,op-2,b\ndm-a,op-3,a',
      'text/csv',
    );
    expect(imported.body).toMatchObject({ created: 1, failed: 1 });
    expect(imported.body.errors[0].error).toMatch(/tenant_id must be dm-b/);

    expect((await call('opAdmin', `${base}/op-1`, 'PATCH', { fw_version: '3.1' })).status).toBe(200);
    expect((await call('opAdmin', `${base}/op-1`)).body.device.fw_version).toBe('3.1');
    const rotated = await call('opAdmin', `${base}/op-1/rotate-token`, 'POST');
    expect((await ingest('dm-b', 'op-1', token, 'b-site')).body.detail).toBe('TOKEN_INVALID');
    expect((await ingest('dm-b', 'op-1', rotated.body.new_provision_token, 'b-site')).status).toBe(202);
    expect((await call('opAdmin', `${base}/op-1/revoke`, 'POST')).body).toMatchObject({ status: 'revoked' });
    // A device of tenant A is not reachable through tenant B's path.
    expect((await call('opAdmin', `${base}/pump-2/revoke`, 'POST')).status).toBe(404);
    expect((await call('adminA', '/customer/devices/pump-2')).body.device.status).not.toBe('REVOKED');

    expect((await call('opViewer', `${base}/op-1/rotate-token`, 'POST')).status).toBe(403);
    expect((await call('opViewer', base, 'POST', { device_id: 'op-9', site_id: 'x' })).status).toBe(403);
    const log = await call('opAdmin', '/operator/audit-log?tenant_filter=dm-b&limit=100');
    const actions = (log.body.entries as { action: string; status_code: number }[]).map(
      (e) => `${e.action}:${e.status_code}`,
    );
    expect(actions).toEqual(
      expect.arrayContaining([
        'create_device:200',
        'bulk_create_devices:200',
        'update_device:200',
        'rotate_device_token:200',
        'revoke_device:200',
        'revoke_device:404',
        'rotate_device_token_denied:403',
      ]),
    );
  });
});
