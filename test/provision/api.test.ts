// The provisioning API over real HTTP, on both engines: docs/wire-contract.md#provisioning-api, fixes included.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/databases.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

describe.each(ENGINES)('provisioning API on %s', (engine) => {
  let pulse: TestPlatform;
  beforeAll(async () => {
    pulse = await startTestPlatform(engine, { ACTIVATION_FAILURE_LIMIT: '1000' });
  });
  afterAll(() => pulse?.close());

  const createDevice = (body: Record<string, unknown>) => pulse.call('/api/admin/devices', { json: body });
  const activate = (tenant_id: string, device_id: string, activation_code: string) =>
    pulse.call('/api/device/activate', { admin: false, json: { tenant_id, device_id, activation_code } });
  const registryRow = async (tenant: string, device: string) =>
    (
      await pulse.db.withService((tx) =>
        tx.query<{
          status: string;
          provision_token_hash: string | null;
          site_id: string;
          fw_version: string | null;
          metadata: unknown;
        }>(
          `SELECT status, provision_token_hash, site_id, fw_version, metadata FROM device_registry
           WHERE tenant_id = $1 AND device_id = $2`,
          [tenant, device],
        ),
      )
    ).rows[0];

  describe('admin key', () => {
    it.each([
      ['missing', {}],
      ['wrong', { 'x-admin-key': 'not-the-key-at-all' }],
    ])("answers 401 with the contract's message when the key is %s", async (_case, headers) => {
      for (const [path, init] of [
        ['/api/admin/devices', {}],
        ['/api/admin/devices', { json: { tenant_id: 't', device_id: 'd', site_id: 's' } }],
        ['/api/admin/devices/t/d/revoke', { method: 'POST' }],
        ['/api/admin/devices/t/d/rotate-token', { method: 'POST' }],
        ['/api/admin/devices/bulk', { json: [] }],
      ] as const) {
        const response = await pulse.call(path, { ...init, admin: false, headers });
        expect(response.status, path).toBe(401);
        expect(response.body).toEqual({ detail: 'Unauthorized (missing/invalid X-Admin-Key)' });
      }
    });
  });

  describe('device lifecycle', () => {
    it('creates a device with a one-time activation code that expires after ACTIVATION_TTL_MINUTES', async () => {
      const before = Date.now();
      const response = await createDevice({
        tenant_id: 'acme',
        device_id: 'd1',
        site_id: 'lab-1',
        fw_version: '1.0.0',
        metadata: { model: 'DHT22' },
      });
      expect(response.status).toBe(200);
      expect(Object.keys(response.body).sort()).toEqual([
        'activation_code',
        'device_id',
        'expires_at',
        'site_id',
        'tenant_id',
      ]);
      expect(response.body).toMatchObject({ tenant_id: 'acme', device_id: 'd1', site_id: 'lab-1' });
      expect(response.body.activation_code).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(response.body.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/);
      const ttl = Date.parse(response.body.expires_at) - before;
      expect(ttl).toBeGreaterThan(59 * 60_000);
      expect(ttl).toBeLessThan(61 * 60_000);
      expect(await registryRow('acme', 'd1')).toEqual({
        status: 'ACTIVE',
        provision_token_hash: null,
        site_id: 'lab-1',
        fw_version: '1.0.0',
        metadata: { model: 'DHT22' },
      });
      const code = await pulse.db.withService((tx) =>
        tx.query(`SELECT activation_code_hash FROM device_activation WHERE tenant_id = 'acme' AND device_id = 'd1'`),
      );
      expect(code.rows).toEqual([{ activation_code_hash: sha256(response.body.activation_code) }]);
    });

    it('creates the device’s tenant on first use', async () => {
      await createDevice({ tenant_id: 'brand-new-tenant', device_id: 'd1', site_id: 's' });
      const tenant = await pulse.db.withService((tx) =>
        tx.query(`SELECT name, status FROM tenants WHERE tenant_id = 'brand-new-tenant'`),
      );
      expect(tenant.rows).toEqual([{ name: 'brand-new-tenant', status: 'ACTIVE' }]);
    });

    it('activates once: a tok- token whose SHA-256 is what the registry stores, then "already used"', async () => {
      const created = await createDevice({ tenant_id: 'acme', device_id: 'd2', site_id: 'lab-1' });
      const first = await activate('acme', 'd2', created.body.activation_code);
      expect(first.status).toBe(200);
      expect(Object.keys(first.body).sort()).toEqual(['device_id', 'provision_token', 'tenant_id']);
      expect(first.body.provision_token).toMatch(/^tok-[A-Za-z0-9_-]{32}$/);
      expect((await registryRow('acme', 'd2'))!.provision_token_hash).toBe(sha256(first.body.provision_token));

      const second = await activate('acme', 'd2', created.body.activation_code);
      expect(second).toMatchObject({ status: 400, body: { detail: 'Activation code already used' } });
    });

    it('rejects an unknown code, a code for another device, and a code for another tenant', async () => {
      const created = await createDevice({ tenant_id: 'acme', device_id: 'd3', site_id: 'lab-1' });
      await createDevice({ tenant_id: 'other', device_id: 'd3', site_id: 'lab-1' });
      for (const [tenant, device, code] of [
        ['acme', 'd3', 'AAAAAAAAAAAAAAAAAAAAAAAA'],
        ['acme', 'd1', created.body.activation_code],
        ['other', 'd3', created.body.activation_code],
        ['no-such-tenant', 'd3', created.body.activation_code],
      ]) {
        expect(await activate(tenant!, device!, code!)).toMatchObject({
          status: 400,
          body: { detail: 'Invalid activation code' },
        });
      }
      expect((await activate('acme', 'd3', created.body.activation_code)).status).toBe(200);
    });

    it('rejects an expired code', async () => {
      const created = await createDevice({ tenant_id: 'acme', device_id: 'd4', site_id: 'lab-1' });
      await pulse.db.withService((tx) =>
        tx.query(
          `UPDATE device_activation SET expires_at = now() - interval '1 second' WHERE tenant_id = 'acme' AND device_id = 'd4'`,
        ),
      );
      expect(await activate('acme', 'd4', created.body.activation_code)).toMatchObject({
        status: 400,
        body: { detail: 'Activation code expired' },
      });
    });

    it('10 concurrent activations of one code yield exactly one token', async () => {
      const created = await createDevice({ tenant_id: 'acme', device_id: 'race', site_id: 'lab-1' });
      const results = await Promise.all(
        Array.from({ length: 10 }, () => activate('acme', 'race', created.body.activation_code)),
      );
      const winners = results.filter((r) => r.status === 200);
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => r.status === 400 && r.body.detail === 'Activation code already used')).toHaveLength(
        9,
      );
      expect((await registryRow('acme', 'race'))!.provision_token_hash).toBe(sha256(winners[0]!.body.provision_token));
      const history = await pulse.db.withService((tx) =>
        tx.query(`SELECT token_hash FROM device_token_history WHERE tenant_id = 'acme' AND device_id = 'race'`),
      );
      expect(history.rows).toHaveLength(1);
    });

    it('rotates a token: the new one is stored, the old one is closed in the history', async () => {
      const created = await createDevice({ tenant_id: 'acme', device_id: 'rot', site_id: 'lab-1' });
      const old = (await activate('acme', 'rot', created.body.activation_code)).body.provision_token;
      const rotated = await pulse.call('/api/admin/devices/acme/rot/rotate-token', { method: 'POST' });
      expect(rotated.status).toBe(200);
      expect(Object.keys(rotated.body).sort()).toEqual(['device_id', 'new_provision_token', 'tenant_id']);
      expect(rotated.body).toMatchObject({ tenant_id: 'acme', device_id: 'rot' });
      expect(rotated.body.new_provision_token).toMatch(/^tok-[A-Za-z0-9_-]{32}$/);
      expect((await registryRow('acme', 'rot'))!.provision_token_hash).toBe(sha256(rotated.body.new_provision_token));
      const history = await pulse.db.withService((tx) =>
        tx.query<{ token_hash: string; reason: string | null; closed: boolean }>(
          `SELECT token_hash, reason, revoked_at IS NOT NULL AS closed FROM device_token_history
           WHERE tenant_id = 'acme' AND device_id = 'rot' ORDER BY id`,
        ),
      );
      expect(history.rows).toEqual([
        { token_hash: sha256(old), reason: 'ROTATED', closed: true },
        { token_hash: sha256(rotated.body.new_provision_token), reason: null, closed: false },
      ]);
    });

    it('revokes a device: REVOKED, token cleared, its unused codes retired', async () => {
      const created = await createDevice({ tenant_id: 'acme', device_id: 'rev', site_id: 'lab-1' });
      const response = await pulse.call('/api/admin/devices/acme/rev/revoke', { method: 'POST' });
      expect(response).toMatchObject({ status: 200, body: { ok: true } });
      expect(await registryRow('acme', 'rev')).toMatchObject({ status: 'REVOKED', provision_token_hash: null });
      expect(await activate('acme', 'rev', created.body.activation_code)).toMatchObject({
        status: 400,
        body: { detail: 'Activation code expired' },
      });
    });

    it('answers 404 for rotate and revoke on an unknown device', async () => {
      for (const action of ['revoke', 'rotate-token']) {
        const response = await pulse.call(`/api/admin/devices/acme/ghost/${action}`, { method: 'POST' });
        expect(response.status, action).toBe(404);
        expect(response.body).toEqual({ detail: 'Device not found: acme/ghost' });
      }
    });

    it('re-creating a device issues a new code; the old token works until that code is activated', async () => {
      const first = await createDevice({ tenant_id: 'acme', device_id: 're', site_id: 'lab-1', fw_version: '1.0' });
      const oldToken = (await activate('acme', 're', first.body.activation_code)).body.provision_token;
      const second = await createDevice({ tenant_id: 'acme', device_id: 're', site_id: 'lab-2' });
      expect(second.body.activation_code).not.toBe(first.body.activation_code);
      // Until the new code is used the device keeps sending with its current token.
      expect(await registryRow('acme', 're')).toMatchObject({
        status: 'ACTIVE',
        site_id: 'lab-2',
        fw_version: '1.0',
        provision_token_hash: sha256(oldToken),
      });
      const newToken = (await activate('acme', 're', second.body.activation_code)).body.provision_token;
      expect((await registryRow('acme', 're'))!.provision_token_hash).toBe(sha256(newToken));
      expect(newToken).not.toBe(oldToken);
    });

    it('re-creating a revoked device makes it ACTIVE without bringing its old token back', async () => {
      const first = await createDevice({ tenant_id: 'acme', device_id: 'back', site_id: 'lab-1' });
      await activate('acme', 'back', first.body.activation_code);
      await pulse.call('/api/admin/devices/acme/back/revoke', { method: 'POST' });
      const again = await createDevice({ tenant_id: 'acme', device_id: 'back', site_id: 'lab-1' });
      expect(await registryRow('acme', 'back')).toMatchObject({ status: 'ACTIVE', provision_token_hash: null });
      expect((await activate('acme', 'back', again.body.activation_code)).status).toBe(200);
    });
  });

  describe('listing', () => {
    it("lists devices in the contract's shape and order, with filters", async () => {
      const all = await pulse.call('/api/admin/devices?tenant_id=acme');
      expect(all.status).toBe(200);
      expect(all.body.length).toBeGreaterThan(5);
      expect(Object.keys(all.body[0]).sort()).toEqual(
        ['device_id', 'fw_version', 'provisioned_at', 'site_id', 'status', 'tenant_id', 'token_set'].sort(),
      );
      const order = all.body.map((d: { site_id: string; device_id: string }) => `${d.site_id}/${d.device_id}`);
      expect(order).toEqual([...order].sort());
      expect(all.body.find((d: { device_id: string }) => d.device_id === 'd2')).toMatchObject({
        token_set: true,
        status: 'ACTIVE',
      });
      expect(all.body.find((d: { device_id: string }) => d.device_id === 'd1')).toMatchObject({
        token_set: false,
        fw_version: '1.0.0',
      });

      const revoked = await pulse.call('/api/admin/devices?tenant_id=acme&status=REVOKED');
      expect(revoked.body.map((d: { device_id: string }) => d.device_id)).toEqual(['rev']);
      const site2 = await pulse.call('/api/admin/devices?site_id=lab-2');
      expect(site2.body.map((d: { device_id: string }) => d.device_id)).toEqual(['re']);
      expect((await pulse.call('/api/admin/devices?limit=2')).body).toHaveLength(2);
    });

    it('answers 422 in FastAPI shape for a limit out of range', async () => {
      const response = await pulse.call('/api/admin/devices?limit=1001');
      expect(response.status).toBe(422);
      expect(response.body.detail[0]).toMatchObject({ loc: ['query', 'limit'], type: 'maximum' });
    });
  });

  describe('validation', () => {
    it('answers 422 naming each missing field', async () => {
      const response = await createDevice({ tenant_id: 'acme' });
      expect(response.status).toBe(422);
      expect(response.body.detail).toEqual(
        expect.arrayContaining([
          { loc: ['body', 'device_id'], msg: 'Field required', type: 'missing' },
          { loc: ['body', 'site_id'], msg: 'Field required', type: 'missing' },
        ]),
      );
    });

    it('refuses ids that would break MQTT topics', async () => {
      const response = await createDevice({ tenant_id: 'acme', device_id: 'a/b', site_id: 's' });
      expect(response.status).toBe(422);
      expect(response.body.detail[0].loc).toEqual(['body', 'device_id']);
    });

    it('answers 400 with a clear message for a body that is not JSON', async () => {
      const response = await pulse.call('/api/admin/devices', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{not json',
      });
      expect(response.status).toBe(400);
      expect(response.body.detail).toMatch(/not valid JSON/);
    });

    it('refuses devices for a deleted tenant', async () => {
      await pulse.db.withService((tx) =>
        tx.query(`INSERT INTO tenants (tenant_id, name, status) VALUES ('gone', 'gone', 'DELETED')`),
      );
      const response = await createDevice({ tenant_id: 'gone', device_id: 'd', site_id: 's' });
      expect(response).toMatchObject({
        status: 400,
        body: { detail: 'tenant gone is DELETED; devices can only be added to ACTIVE tenants' },
      });
    });
  });

  describe('bulk', () => {
    it('registers a JSON array in one request, reporting bad rows without losing good ones', async () => {
      const response = await pulse.call('/api/admin/devices/bulk', {
        json: [
          { tenant_id: 'bulk', device_id: 'b1', site_id: 's1' },
          { tenant_id: 'bulk', device_id: 'b2' },
          { tenant_id: 'bulk', device_id: 'b3', site_id: 's1', metadata: { k: 1 } },
          { tenant_id: 'bulk', device_id: 'b1', site_id: 's1' },
        ],
      });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ created: 2, updated: 0, failed: 2 });
      expect(response.body.errors).toEqual([
        { row: 2, device_id: 'b2', error: 'site_id is required' },
        { row: 4, device_id: 'b1', error: 'duplicate of an earlier row for the same tenant_id and device_id' },
      ]);
      expect(response.body.devices.map((d: { row: number; device_id: string }) => [d.row, d.device_id])).toEqual([
        [1, 'b1'],
        [3, 'b3'],
      ]);
      const token = await activate('bulk', 'b3', response.body.devices[1].activation_code);
      expect(token.status).toBe(200);
    });

    it('accepts CSV and {"devices": [...]}, and re-registering counts as updated', async () => {
      const csv = await pulse.call('/api/admin/devices/bulk', {
        method: 'POST',
        headers: { 'content-type': 'text/csv' },
        body: 'tenant_id,device_id,site_id,fw_version\nbulk,c1,s2,2.0\nbulk,b1,s2,\n',
      });
      expect(csv.status).toBe(200);
      expect(csv.body).toMatchObject({ created: 1, updated: 1, failed: 0, errors: [] });
      const wrapped = await pulse.call('/api/admin/devices/bulk', {
        json: { devices: [{ tenant_id: 'bulk', device_id: 'w1', site_id: 's' }] },
      });
      expect(wrapped.body).toMatchObject({ created: 1 });
    });

    it('registers 10,000 devices in one request and refuses 10,001', async () => {
      const devices = Array.from({ length: 10_000 }, (_, i) => ({
        tenant_id: 'big',
        device_id: `dev-${i}`,
        site_id: `site-${i % 7}`,
      }));
      const response = await pulse.call('/api/admin/devices/bulk', { json: devices });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ created: 10_000, failed: 0 });
      const count = await pulse.db.withTenant('big', (tx) =>
        tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM device_registry`),
      );
      expect(count.rows[0]!.n).toBe(10_000);

      const tooMany = await pulse.call('/api/admin/devices/bulk', {
        json: [...devices, { tenant_id: 'big', device_id: 'x', site_id: 's' }],
      });
      expect(tooMany).toMatchObject({
        status: 400,
        body: { detail: 'Bulk request has 10001 devices; the limit is 10000 per request' },
      });
    });

    it('answers 400 with every row error when no row is valid, and for a malformed CSV', async () => {
      const none = await pulse.call('/api/admin/devices/bulk', { json: [{ tenant_id: 'bulk' }] });
      expect(none).toMatchObject({ status: 400, body: { detail: 'No device was registered; see errors' } });
      expect(none.body.errors).toHaveLength(1);
      const badCsv = await pulse.call('/api/admin/devices/bulk', {
        method: 'POST',
        headers: { 'content-type': 'text/csv' },
        body: 'tenant,device_id,site_id\n',
      });
      expect(badCsv.status).toBe(400);
      expect(badCsv.body.detail).toMatch(/unknown column tenant/);
      const empty = await pulse.call('/api/admin/devices/bulk', { json: [] });
      expect(empty).toMatchObject({ status: 400, body: { detail: 'Bulk request has no devices' } });
    });
  });
});

describe('activation rate limit', () => {
  let pulse: TestPlatform;
  beforeAll(async () => {
    pulse = await startTestPlatform(
      'pglite',
      { ACTIVATION_FAILURE_LIMIT: '3', ACTIVATION_FAILURE_WINDOW_SECONDS: '600' },
      ['provision'],
    );
  });
  afterAll(() => pulse?.close());

  it('answers 429 with Retry-After after too many failures from one address, without blocking nothing else', async () => {
    const created = await pulse.call('/api/admin/devices', { json: { tenant_id: 't', device_id: 'd', site_id: 's' } });
    const attempt = (code: string) =>
      pulse.call('/api/device/activate', {
        admin: false,
        json: { tenant_id: 't', device_id: 'd', activation_code: code },
      });
    for (let i = 0; i < 3; i++) expect((await attempt(`wrong-code-${i}`)).status).toBe(400);
    const limited = await attempt(created.body.activation_code);
    expect(limited.status).toBe(429);
    expect(limited.body.detail).toMatch(/^Too many failed activation attempts from this address; retry in \d+ s$/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // The admin API is not affected.
    expect((await pulse.call('/api/admin/devices')).status).toBe(200);
  });

  it('limits wrong admin keys per address the same way, and a right key is never counted', async () => {
    const wrong = () => pulse.call('/api/admin/devices', { headers: { 'x-admin-key': 'not-the-key-at-all' } });
    for (let i = 0; i < 5; i++) expect((await pulse.call('/api/admin/devices')).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await wrong()).status).toBe(401);
    const limited = await wrong();
    expect(limited.status).toBe(429);
    expect(limited.body.detail).toMatch(/^Too many wrong admin keys from this address; retry in \d+ s$/);
  });
});

describe('activation failure limit under concurrency', () => {
  let pulse: TestPlatform;
  beforeAll(async () => {
    pulse = await startTestPlatform('pglite', { ACTIVATION_FAILURE_LIMIT: '3' }, ['provision']);
  });
  afterAll(() => pulse?.close());

  it('activates a whole fleet at once from one address: attempts beyond the limit wait, none is refused', async () => {
    const created = await pulse.call('/api/admin/devices/bulk', {
      json: Array.from({ length: 20 }, (_, i) => ({ tenant_id: 'fleet', device_id: `f-${i}`, site_id: 's' })),
    });
    const statuses = await Promise.all(
      created.body.devices.map(
        async (device: { device_id: string; activation_code: string }) =>
          (
            await pulse.call('/api/device/activate', {
              admin: false,
              json: { tenant_id: 'fleet', device_id: device.device_id, activation_code: device.activation_code },
            })
          ).status,
      ),
    );
    expect(statuses).toEqual(Array(20).fill(200));
  });

  it('counts failures before checking them: of twenty wrong codes at once, three are answered and seventeen refused', async () => {
    await pulse.call('/api/admin/devices', { json: { tenant_id: 't', device_id: 'd', site_id: 's' } });
    const statuses = await Promise.all(
      Array.from(
        { length: 20 },
        async (_, i) =>
          (
            await pulse.call('/api/device/activate', {
              admin: false,
              json: { tenant_id: 't', device_id: 'd', activation_code: `parallel-${i}` },
            })
          ).status,
      ),
    );
    expect(statuses.filter((status) => status === 400)).toHaveLength(3);
    expect(statuses.filter((status) => status === 429)).toHaveLength(17);
  });
});
