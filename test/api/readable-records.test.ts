// Issue 29 item 6 and part of 7, on both engines: an alert is called by its rule's name; adding a device
// whose id is taken asks first (409 unless replace) and keeps its metadata; audit entries say what a change
// did in words and which resource it made; a user changes its own password (current one required, its own
// only); a disabled user signing in is told so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { createUsers } from '../../src/identity/users.js';
import { ENGINES } from '../helpers/databases.js';
import { callerFor, TEST_PASSWORD, tokenFor } from '../helpers/identity.js';
import { Browser, login } from '../helpers/oidc-browser.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedDevice } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

describe.each<Engine>(ENGINES)('readable alerts and records on %s', (engine) => {
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};
  const call = callerFor(() => pulse, tokens);
  const signsIn = async (username: string, password: string) =>
    typeof (await createUsers(pulse.db).authenticate(username, password)) === 'object';
  const metadataOf = async (tenantId: string, deviceId: string) =>
    (
      await pulse.db.withService((tx) =>
        tx.query<{ site_id: string; metadata: unknown }>(
          `SELECT site_id, metadata FROM device_registry WHERE tenant_id = $1 AND device_id = $2`,
          [tenantId, deviceId],
        ),
      )
    ).rows[0];
  /** The tenant's audit entries once one says `last` (they are written after the answer). */
  const auditOf = async (who: string, last: string) => {
    let entries: { action: string; resource_id: string | null; summary: string | null; tenant_id: string }[] = [];
    await waitFor(async () => {
      entries = (await call(who, '/customer/audit?limit=500')).body.entries;
      return entries.some((entry) => entry.summary === last);
    });
    return entries;
  };

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, { API_RATE_LIMIT: '100000' }, ['api', 'provision']);
    await seedDevice(pulse.db, 'rr-a', 'seeded-a', 'plant-1');
    await seedDevice(pulse.db, 'rr-b', 'seeded-b', 'plant-1');
    tokens.adminA = await tokenFor(pulse, { username: 'rr-admin-a', role: 'customer_admin', tenantId: 'rr-a' });
    tokens.viewerA = await tokenFor(pulse, { username: 'rr-viewer-a', role: 'customer_viewer', tenantId: 'rr-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'rr-admin-b', role: 'customer_admin', tenantId: 'rr-b' });
    tokens.opAdmin = await tokenFor(pulse, { username: 'rr-op-admin', role: 'operator_admin' });
  }, 90_000);
  afterAll(() => pulse?.close());

  it("titles an alert with its rule's name (its type stays), in lists and on its page", async () => {
    const ids = await pulse.db.withService(async (tx) => {
      const { rows } = await tx.query<{ id: number }>(
        `INSERT INTO fleet_alert (tenant_id, site_id, device_id, alert_type, fingerprint, status, severity, confidence,
                                  summary, details)
         VALUES ('rr-a', 'plant-1', 'seeded-a', 'THRESHOLD', 'RULE:r1:seeded-a', 'OPEN', 4, 1, 's',
                 '{"rule_id": "r1", "rule_name": "Pump overheating"}'),
                ('rr-a', 'plant-1', 'seeded-a', 'NO_HEARTBEAT', 'NO_HEARTBEAT:seeded-a', 'OPEN', 4, 0.9, 's', '{}')
         RETURNING id`,
      );
      return rows.map((row) => row.id);
    });
    const listed = await call('viewerA', '/api/v2/alerts?status=ALL');
    const byId = new Map(listed.body.alerts.map((a: { alert_id: number }) => [a.alert_id, a]));
    expect(byId.get(ids[0])).toMatchObject({ alert_type: 'THRESHOLD', title: 'Pump overheating' });
    expect(byId.get(ids[1])).toMatchObject({ alert_type: 'NO_HEARTBEAT', title: 'No heartbeat' });
    expect((await call('viewerA', `/api/v2/alerts/${ids[0]}`)).body.alert.title).toBe('Pump overheating');
    expect((await call('adminA', '/customer/alerts?status=ALL')).body.alerts.map((a: any) => a.title)).toContain(
      'Pump overheating',
    );
  });

  it('asks before re-registering a device on the customer path (409 unless replace) and keeps its metadata', async () => {
    const first = await call('adminA', '/customer/devices', 'POST', {
      device_id: 'pump-7',
      site_id: 'north',
      metadata: { model: 'P-100' },
    });
    expect(first.status).toBe(201);
    const again = await call('adminA', '/customer/devices', 'POST', { device_id: 'pump-7', site_id: 'south' });
    expect(again.status).toBe(409);
    expect(again.body.detail).toContain('Device pump-7 is already registered');
    expect(again.body.detail).toContain('"replace": true');
    expect(await metadataOf('rr-a', 'pump-7')).toEqual({ site_id: 'north', metadata: { model: 'P-100' } });

    const replaced = await call('adminA', '/customer/devices', 'POST', {
      device_id: 'pump-7',
      site_id: 'south',
      replace: true,
    });
    expect(replaced.status).toBe(201);
    expect(replaced.body.created).toBe(false);
    expect(await metadataOf('rr-a', 'pump-7')).toEqual({ site_id: 'south', metadata: { model: 'P-100' } });
    // Metadata sent with a replace is what the device gets.
    await call('adminA', '/customer/devices', 'POST', {
      device_id: 'pump-7',
      site_id: 'south',
      replace: true,
      metadata: {},
    });
    expect((await metadataOf('rr-a', 'pump-7'))!.metadata).toEqual({});

    // The operator's device routes ask too.
    const operatorAgain = await call('opAdmin', '/operator/tenants/rr-a/devices', 'POST', {
      device_id: 'pump-7',
      site_id: 'west',
    });
    expect(operatorAgain.status).toBe(409);
    // Another tenant's id is not taken for B: B registers its own pump-7.
    expect((await call('adminB', '/customer/devices', 'POST', { device_id: 'pump-7', site_id: 'b' })).status).toBe(201);
  });

  it("keeps the original's upsert on POST /api/admin/devices (200, site moved, metadata as sent)", async () => {
    await call('adminA', '/customer/devices', 'POST', { device_id: 'pump-8', site_id: 'north', metadata: { k: 1 } });
    const admin = await pulse.call('/api/admin/devices', {
      json: { tenant_id: 'rr-a', device_id: 'pump-8', site_id: 'east' },
    });
    expect(admin.status).toBe(200);
    expect(await metadataOf('rr-a', 'pump-8')).toEqual({ site_id: 'east', metadata: {} });
  });

  it('a CSV import re-registers listed devices but keeps the metadata a row does not give', async () => {
    await call('adminA', '/customer/devices', 'POST', { device_id: 'imp-1', site_id: 'north', metadata: { k: 2 } });
    const imported = await pulse.call('/customer/devices/bulk', {
      admin: false,
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.adminA}`, 'content-type': 'text/csv' },
      body: 'device_id,site_id\nimp-1,south\nimp-2,south\n',
    });
    expect(imported.body).toMatchObject({ created: 1, updated: 1, failed: 0 });
    expect(await metadataOf('rr-a', 'imp-1')).toEqual({ site_id: 'south', metadata: { k: 2 } });
  });

  it('audit entries name the resource and say what happened; tenant B sees none of A', async () => {
    await call('adminA', '/customer/devices', 'POST', { device_id: 'rv-1', site_id: 's' });
    await call('adminA', '/customer/devices', 'POST', { device_id: 'rv-2', site_id: 's' });
    await call('adminA', '/customer/devices', 'POST', { device_id: 'rv-3', site_id: 's' });
    const revoked = await call('adminA', '/customer/devices/revoke', 'POST', {
      device_ids: ['rv-1', 'rv-2', 'rv-3', 'nope'],
    });
    expect(revoked.body).toEqual({ revoked: ['rv-1', 'rv-2', 'rv-3'], not_found: ['nope'] });
    await call('adminA', '/customer/users', 'POST', {
      username: 'rr-alice',
      password: 'alice-password-1',
      role: 'customer_viewer',
    });
    await call('adminA', '/customer/users/rr-alice', 'PATCH', { disabled: true });
    await call('adminA', '/customer/users/rr-alice', 'PATCH', { disabled: false });

    const entries = await auditOf('adminA', 'enabled user rr-alice');
    const summaries = entries.map((e) => e.summary);
    expect(summaries).toEqual(
      expect.arrayContaining([
        'created device rv-1',
        'revoked 3 devices',
        'created user rr-alice (customer_viewer)',
        'disabled user rr-alice',
        'enabled user rr-alice',
        're-registered device pump-7',
        'imported 2 devices (1 new, 1 re-registered)',
      ]),
    );
    expect(entries.find((e) => e.summary === 'created device rv-1')).toMatchObject({
      action: 'POST /customer/devices',
      resource_id: 'rv-1',
    });
    // A refused re-registration keeps only its route and status: it did nothing.
    expect(entries.filter((e) => e.action === 'POST /customer/devices' && e.summary === null).length).toBe(1);

    const ofB = await auditOf('adminB', 'created device pump-7');
    expect(ofB.every((e) => e.tenant_id === 'rr-b')).toBe(true);
    expect(ofB.map((e) => e.summary)).not.toContain('revoked 3 devices');

    await call('opAdmin', '/operator/users/rr-alice', 'PATCH', { disabled: true });
    const operatorLog = await call('opAdmin', '/operator/audit-log?action=update_user');
    expect(operatorLog.body.entries[0]).toMatchObject({ resource_id: 'rr-alice', summary: 'disabled user rr-alice' });
  });

  it('a user changes its own password with the current one; only its own', async () => {
    tokens.bob = await tokenFor(pulse, { username: 'rr-bob', role: 'customer_viewer', tenantId: 'rr-a' });
    tokens.op = await tokenFor(pulse, { username: 'rr-op', role: 'operator' });
    const wrong = await call('bob', '/api/me/password', 'POST', {
      current_password: 'not-it',
      new_password: 'bob-new-password-1',
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.detail).toContain('current password is not right');
    // The body names no user: there is no way to aim it at someone else.
    const aimed = await call('bob', '/api/me/password', 'POST', {
      username: 'rr-admin-a',
      current_password: TEST_PASSWORD,
      new_password: 'bob-new-password-1',
    });
    expect(aimed.status).toBe(422);
    const changed = await call('bob', '/api/me/password', 'POST', {
      current_password: TEST_PASSWORD,
      new_password: 'bob-new-password-1',
    });
    expect(changed.status).toBe(204);
    expect(await signsIn('rr-bob', 'bob-new-password-1')).toBe(true);
    expect(await signsIn('rr-bob', TEST_PASSWORD)).toBe(false);
    expect(await signsIn('rr-admin-a', TEST_PASSWORD)).toBe(true);
    // Operators too (no tenant).
    const operator = await call('op', '/api/me/password', 'POST', {
      current_password: TEST_PASSWORD,
      new_password: 'op-new-password-1',
    });
    expect(operator.status).toBe(204);
    // Tenant B's admin cannot set A's users' passwords.
    const hijack = await call('adminB', '/customer/users/rr-bob', 'PATCH', { password: 'hijacked-password-1' });
    expect(hijack.status).toBe(404);
    expect(await signsIn('rr-bob', 'hijacked-password-1')).toBe(false);
  });

  it('tells a disabled user signing in that the account is disabled, and a wrong password nothing more', async () => {
    await tokenFor(pulse, { username: 'rr-carol', role: 'customer_viewer', tenantId: 'rr-a' });
    expect((await call('adminA', '/customer/users/rr-carol', 'PATCH', { disabled: true })).status).toBe(200);
    const right = (await login(pulse.base, new Browser(), 'rr-carol', TEST_PASSWORD)).submitted;
    expect(right.response.status).toBe(403);
    expect(await right.response.text()).toContain('This account is disabled');
    const wrong = (await login(pulse.base, new Browser(), 'rr-carol', 'wrong-password-9')).submitted;
    expect(wrong.response.status).toBe(401);
    expect(await wrong.response.text()).not.toContain('disabled');
  });
});
