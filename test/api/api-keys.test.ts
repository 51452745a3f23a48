// API keys for machine clients (issue 33 item 2) on PostgreSQL, called the way curl would: a bearer key on
// /api/v2 and /customer with the role it was given; refused once revoked (at once in this process, within
// the recheck interval when another process revoked it), once expired, from outside its networks (the
// client address comes through a trusted proxy's X-Forwarded-For), on /operator, and for managing keys;
// rate-limited per key; its writes audited under its name. Tenant B neither sees nor revokes tenant A's
// keys; operators list every tenant's and an operator admin revokes one. A tenant holds at most
// MAX_LIVE_KEYS unrevoked keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_RECHECK_MS } from '../../src/api/auth.js';
import { MAX_LIVE_KEYS } from '../../src/api/customer/api-keys.js';
import { insertApiKey } from '../../src/model/api-keys.js';
import { bearer, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

const RATE_LIMIT = 60;

describe('API keys', () => {
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};

  const call = (token: string, path: string, init: { method?: string; json?: unknown; from?: string } = {}) =>
    pulse.call(path, {
      admin: false,
      method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
      headers: { ...bearer(token), ...(init.from && { 'x-forwarded-for': init.from }) },
      ...(init.json !== undefined && { json: init.json }),
    });
  const createKey = async (body: Record<string, unknown>, token = tokens.adminA!) => {
    const created = await call(token, '/customer/api-keys', { json: body });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body as { key_id: string; secret: string; prefix: string; name: string };
  };

  beforeAll(async () => {
    pulse = await startTestPlatform('postgres', {
      TRUST_PROXY: '127.0.0.1',
      API_RATE_LIMIT: String(RATE_LIMIT),
      API_RATE_WINDOW_SECONDS: '60',
    });
    tokens.adminA = await tokenFor(pulse, { username: 'k-admin-a', role: 'customer_admin', tenantId: 'tenant-a' });
    tokens.viewerA = await tokenFor(pulse, { username: 'k-viewer-a', role: 'customer_viewer', tenantId: 'tenant-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'k-admin-b', role: 'customer_admin', tenantId: 'tenant-b' });
    tokens.operator = await tokenFor(pulse, { username: 'k-operator', role: 'operator' });
    tokens.operatorAdmin = await tokenFor(pulse, { username: 'k-op-admin', role: 'operator_admin' });
  }, 60_000);
  afterAll(async () => {
    await pulse?.close();
  });

  it('answers the secret once; lists show its prefix only and the database holds its SHA-256 only', async () => {
    const key = await createKey({ name: 'ci-reader', role: 'customer_viewer' });
    expect(key.secret).toMatch(/^pulse_[A-Za-z0-9_-]{43}$/);
    expect(key.prefix).toBe(key.secret.slice(0, 14));
    const listed = await call(tokens.adminA!, '/customer/api-keys');
    expect(listed.body.keys).toEqual([
      expect.objectContaining({ name: 'ci-reader', role: 'customer_viewer', status: 'active', last_used_at: null }),
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(key.secret);
    const stored = await pulse.db.withOperator((tx) => tx.query(`SELECT * FROM api_keys`));
    expect(JSON.stringify(stored.rows)).not.toContain(key.secret.slice(14));
    expect((await call(tokens.viewerA!, '/customer/api-keys')).status).toBe(403);
    const duplicate = await call(tokens.adminA!, '/customer/api-keys', {
      json: { name: 'ci-reader', role: 'customer_viewer' },
    });
    expect(duplicate.status).toBe(409);
  });

  it('a viewer key reads /api/v2 and /customer, cannot write, and its use is listed', async () => {
    const key = await createKey({ name: 'dashboards', role: 'customer_viewer' });
    expect((await call(key.secret, '/api/v2/devices')).status).toBe(200);
    expect((await call(key.secret, '/customer/devices')).status).toBe(200);
    const write = await call(key.secret, '/customer/alert-rules', {
      json: { name: 'x', metric_name: 'm', operator: 'GT', threshold: 1 },
    });
    expect(write).toMatchObject({ status: 403, body: { detail: 'Customer admin role required' } });
    const listed = (await call(tokens.adminA!, '/customer/api-keys')).body.keys.find(
      (k: { key_id: string }) => k.key_id === key.key_id,
    );
    expect(listed).toMatchObject({ last_used_ip: '127.0.0.1' });
    expect(listed.use_count).toBeGreaterThanOrEqual(1);
    expect(Date.now() - new Date(listed.last_used_at).getTime()).toBeLessThan(60_000);
  });

  it('an admin key writes, and the audit log names the key', async () => {
    const key = await createKey({ name: 'provisioner', role: 'customer_admin' });
    const rule = await call(key.secret, '/customer/alert-rules', {
      json: { name: 'Hot', metric_name: 'temp_c', operator: 'GT', threshold: 30 },
    });
    expect(rule.status).toBeLessThan(300);
    await waitFor(async () => {
      const audit = await call(tokens.adminA!, '/customer/audit?user=provisioner');
      return audit.body.entries.length > 0;
    });
    const [entry] = (await call(tokens.adminA!, '/customer/audit?user=provisioner')).body.entries;
    expect(entry).toMatchObject({
      user_id: `api-key:${key.key_id}`,
      username: 'provisioner',
      role: 'customer_admin',
      action: 'POST /customer/alert-rules',
    });
  });

  it('keys never reach /operator, and cannot manage keys', async () => {
    const key = await createKey({ name: 'sneaky', role: 'customer_admin' });
    for (const path of ['/operator/tenants', '/operator/api-keys']) {
      const answer = await call(key.secret, path);
      expect(answer.status).toBe(401);
      expect(answer.body.detail).toContain('API keys are accepted on /api/v2 and /customer only');
    }
    expect((await call(key.secret, '/customer/api-keys')).status).toBe(403);
    const mint = await call(key.secret, '/customer/api-keys', { json: { name: 'child', role: 'customer_admin' } });
    expect(mint).toMatchObject({ status: 403, body: { detail: expect.stringContaining('cannot manage API keys') } });
    expect((await call('pulse_not-a-real-key', '/api/v2/devices')).body).toEqual({ detail: 'Invalid API key' });
  });

  it('an allow-listed key is refused from another address', async () => {
    const key = await createKey({
      name: 'office',
      role: 'customer_viewer',
      allowed_cidrs: ['203.0.113.0/24', '2001:db8::/32'],
    });
    expect((await call(key.secret, '/api/v2/devices', { from: '203.0.113.9' })).status).toBe(200);
    expect((await call(key.secret, '/api/v2/devices', { from: '2001:db8::7' })).status).toBe(200);
    const outside = await call(key.secret, '/api/v2/devices', { from: '198.51.100.7' });
    expect(outside).toMatchObject({
      status: 403,
      body: { detail: 'API key "office" may not be used from 198.51.100.7: not in its allowed networks' },
    });
    expect((await call(key.secret, '/api/v2/devices')).status).toBe(403); // 127.0.0.1 itself
    const bad = await call(tokens.adminA!, '/customer/api-keys', {
      json: { name: 'bad', role: 'customer_viewer', allowed_cidrs: ['10.0.0.0/33'] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toContain('10.0.0.0/33 is not an address or a CIDR');
  });

  it('an expired key is refused', async () => {
    const past = await call(tokens.adminA!, '/customer/api-keys', {
      json: { name: 'old', role: 'customer_viewer', expires_at: '2020-01-01T00:00:00Z' },
    });
    expect(past).toMatchObject({ status: 400, body: { detail: 'expires_at must be in the future' } });
    const key = await createKey({
      name: 'short-lived',
      role: 'customer_viewer',
      expires_at: new Date(Date.now() + 1500).toISOString(),
    });
    expect((await call(key.secret, '/api/v2/devices')).status).toBe(200);
    let expired = await call(key.secret, '/api/v2/devices');
    await waitFor(async () => (expired = await call(key.secret, '/api/v2/devices')).status !== 200, 5000);
    expect(expired.status).toBe(401);
    expect(expired.body.detail).toMatch(/^API key "short-lived" expired at /);
    const listed = (await call(tokens.adminA!, '/customer/api-keys')).body.keys;
    expect(listed.find((k: { name: string }) => k.name === 'short-lived').status).toBe('expired');
  });

  it('a revoked key is refused at once; revoked by another process, within the recheck interval', async () => {
    const key = await createKey({ name: 'to-revoke', role: 'customer_viewer' });
    expect((await call(key.secret, '/api/v2/devices')).status).toBe(200);
    const revoked = await call(tokens.adminA!, `/customer/api-keys/${key.key_id}`, { method: 'DELETE' });
    expect(revoked.body).toMatchObject({ status: 'revoked', revoked_by: 'k-admin-a' });
    expect((await call(key.secret, '/api/v2/devices')).body).toEqual({ detail: 'API key "to-revoke" was revoked' });

    // Another API process revoking it writes the row only; this process's cached key expires soon after.
    const other = await createKey({ name: 'revoked-elsewhere', role: 'customer_viewer' });
    expect((await call(other.secret, '/api/v2/devices')).status).toBe(200);
    await pulse.db.withOperator((tx) =>
      tx.query(`UPDATE api_keys SET revoked_at = now(), revoked_by = 'another process' WHERE key_id = $1`, [
        other.key_id,
      ]),
    );
    const revokedAt = Date.now();
    await waitFor(async () => (await call(other.secret, '/api/v2/devices')).status === 401, USER_RECHECK_MS + 3000);
    expect(Date.now() - revokedAt).toBeLessThan(USER_RECHECK_MS + 1500);
  });

  it("tenant B neither sees nor revokes tenant A's keys", async () => {
    const key = await createKey({ name: 'a-only', role: 'customer_viewer' });
    expect((await call(tokens.adminB!, '/customer/api-keys')).body.keys).toEqual([]);
    const revoke = await call(tokens.adminB!, `/customer/api-keys/${key.key_id}`, { method: 'DELETE' });
    expect(revoke).toMatchObject({ status: 404, body: { detail: 'API key not found' } });
    expect((await call(key.secret, '/api/v2/devices')).status).toBe(200);
    // Under row-level security alone, tenant B's transaction sees no row of A's either.
    const seen = await pulse.db.withTenant('tenant-b', (tx) => tx.query(`SELECT key_id FROM api_keys`));
    expect(seen.rows).toEqual([]);
    const ownKey = await createKey({ name: 'b-key', role: 'customer_viewer' }, tokens.adminB);
    const devices = await call(ownKey.secret, '/api/v2/devices');
    expect(devices.status).toBe(200);
    expect(JSON.stringify(devices.body)).not.toContain('tenant-a');
  });

  it("operators list every tenant's keys; only an operator admin revokes one", async () => {
    const key = await createKey({ name: 'leaked', role: 'customer_admin' });
    const all = await call(tokens.operator!, '/operator/api-keys');
    expect(all.status).toBe(200);
    expect(new Set(all.body.keys.map((k: { tenant_id: string }) => k.tenant_id))).toEqual(
      new Set(['tenant-a', 'tenant-b']),
    );
    expect(JSON.stringify(all.body)).not.toContain(key.secret);
    const ofB = await call(tokens.operator!, '/operator/api-keys?tenant_id=tenant-b');
    expect(ofB.body.keys.map((k: { name: string }) => k.name)).toEqual(['b-key']);
    const path = `/operator/tenants/tenant-a/api-keys/${key.key_id}`;
    expect((await call(tokens.operator!, path, { method: 'DELETE' })).status).toBe(403);
    expect((await call(key.secret, '/api/v2/devices')).status).toBe(200);
    expect(
      (await call(tokens.operatorAdmin!, `/operator/tenants/tenant-b/api-keys/${key.key_id}`, { method: 'DELETE' }))
        .status,
    ).toBe(404);
    const revoked = await call(tokens.operatorAdmin!, path, { method: 'DELETE' });
    expect(revoked.body).toMatchObject({ status: 'revoked', revoked_by: 'k-op-admin' });
    expect((await call(key.secret, '/api/v2/devices')).status).toBe(401);
    const audit = await pulse.db.withOperator((tx) =>
      tx.query(`SELECT action FROM operator_audit_log WHERE action LIKE '%api_key%' ORDER BY id`),
    );
    expect(audit.rows.map((row) => row.action)).toContain('revoke_api_key');
  });

  it('each key has its own rate budget', async () => {
    const busy = await createKey({ name: 'busy', role: 'customer_viewer' });
    const calm = await createKey({ name: 'calm', role: 'customer_viewer' });
    const statuses: number[] = [];
    for (let i = 0; i <= RATE_LIMIT; i += 1) statuses.push((await call(busy.secret, '/api/v2/devices')).status);
    expect(statuses.slice(0, RATE_LIMIT).every((status) => status === 200)).toBe(true);
    expect(statuses[RATE_LIMIT]).toBe(429);
    expect((await call(calm.secret, '/api/v2/devices')).status).toBe(200);
  });

  it('a tenant holds at most MAX_LIVE_KEYS unrevoked keys; revoking one makes room', async () => {
    const held = (await call(tokens.adminB!, '/customer/api-keys')).body.keys.filter(
      (key: { status: string }) => key.status !== 'revoked',
    ).length;
    await pulse.db.withTenant('tenant-b', async (tx) => {
      for (let i = held; i < MAX_LIVE_KEYS; i += 1)
        await insertApiKey(tx, {
          name: `filler-${i}`,
          role: 'customer_viewer',
          prefix: `pulse_filler${i}`,
          secretSha256: i.toString(16).padStart(64, 'f'),
          allowedCidrs: [],
          expiresAt: null,
          createdBy: 'test',
        });
    });
    const refused = await call(tokens.adminB!, '/customer/api-keys', {
      json: { name: 'one-more', role: 'customer_viewer' },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/at most 100; revoke one/);
    // Tenant A's room is its own.
    await createKey({ name: 'a-still-fits', role: 'customer_viewer' });
    const filler = (await call(tokens.adminB!, '/customer/api-keys')).body.keys.find(
      (key: { name: string }) => key.name === 'filler-99',
    );
    expect((await call(tokens.adminB!, `/customer/api-keys/${filler.key_id}`, { method: 'DELETE' })).status).toBe(200);
    await createKey({ name: 'one-more', role: 'customer_viewer' }, tokens.adminB);
  });
});
