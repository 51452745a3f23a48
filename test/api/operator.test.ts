// /operator and /operator/system on PostgreSQL with every role running: the role × endpoint matrix, an
// audit row for every request (caller, IP, user agent) written in the request's transaction, tenants,
// cross-tenant reads, settings that reach ingest, and system health/metrics/history/capacity.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, tokenFor } from '../helpers/identity.js';
import { asSuperuser } from '../helpers/databases.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedAlert, seedDevice } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

describe('/operator on PostgreSQL', () => {
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};
  const subs: Record<string, string> = {};

  const call = (
    token: string | undefined,
    path: string,
    init: { method?: string; json?: unknown; headers?: Record<string, string> } = {},
  ) =>
    pulse.call(path, {
      admin: false,
      method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
      headers: { ...(token ? bearer(token) : {}), ...init.headers },
      ...(init.json !== undefined && { json: init.json }),
    });
  const auditRows = async (action: string) =>
    (
      await pulse.db.withOperator((tx) =>
        tx.query<{
          user_id: string;
          action: string;
          tenant_filter: string | null;
          ip: string;
          user_agent: string;
          resource_id: string | null;
          status_code: number | null;
        }>(
          `SELECT user_id, action, tenant_filter, host(ip_address) AS ip, user_agent, resource_id, status_code
           FROM operator_audit_log WHERE action = $1 ORDER BY id`,
          [action],
        ),
      )
    ).rows;

  beforeAll(async () => {
    pulse = await startTestPlatform('postgres', { SETTINGS_POLL_SECONDS: '1', METRICS_COLLECTION_INTERVAL: '1' });
    await seedDevice(pulse.db, 'tenant-a', 'a-1');
    await seedDevice(pulse.db, 'tenant-b', 'b-1', 'site-1', 'STALE');
    await seedAlert(pulse.db, { tenantId: 'tenant-a', deviceId: 'a-1' });
    await seedAlert(pulse.db, { tenantId: 'tenant-b', deviceId: 'b-1' });
    await pulse.db.withService(async (tx) => {
      await tx.query(
        `INSERT INTO integrations (tenant_id, name, type, snmp_host, snmp_config) VALUES ('tenant-b', 'trap', 'snmp', '192.0.2.1', '{"version":"2c"}')`,
      );
      await tx.query(
        `INSERT INTO quarantine_events (tenant_id, device_id, topic, reason, payload) VALUES ('tenant-a', 'x', 'tenant/tenant-a/device/x/telemetry', 'TOKEN_INVALID', '{"site_id": "s", "provision_token": "[REDACTED]"}')`,
      );
      await tx.query(
        `INSERT INTO quarantine_counters_minute (bucket_minute, tenant_id, reason, cnt) VALUES (date_trunc('minute', now()), 'tenant-a', 'TOKEN_INVALID', 3)`,
      );
    });
    for (const [name, role, tenantId] of [
      ['viewer', 'customer_viewer', 'tenant-a'],
      ['customerAdmin', 'customer_admin', 'tenant-a'],
      ['operator', 'operator', undefined],
      ['operatorAdmin', 'operator_admin', undefined],
    ] as const) {
      tokens[name] = await tokenFor(pulse, { username: `o-${name}`, role, ...(tenantId && { tenantId }) });
      subs[name] = JSON.parse(Buffer.from(tokens[name]!.split('.')[1]!, 'base64url').toString()).sub;
    }
  }, 60_000);
  afterAll(() => pulse?.close());

  const READS = [
    '/operator/tenants',
    '/operator/tenants/stats/summary',
    '/operator/tenants/tenant-a',
    '/operator/tenants/tenant-a/stats',
    '/operator/devices',
    '/operator/tenants/tenant-a/devices',
    '/operator/tenants/tenant-a/devices/a-1',
    '/operator/alerts',
    '/operator/quarantine',
    '/operator/integrations',
    '/operator/settings',
    '/operator/system/health',
    '/operator/system/metrics',
    '/operator/system/metrics/history?metric=healthy',
    '/operator/system/metrics/history/batch?metrics=healthy,devices_online',
    '/operator/system/metrics/latest',
    '/operator/system/capacity',
    '/operator/system/aggregates',
    '/operator/system/errors',
  ];

  it('lets operators read everything, and never customers or anonymous callers', async () => {
    for (const path of READS) {
      expect((await call(tokens.operator, path)).status, path).toBe(200);
      expect((await call(tokens.operatorAdmin, path)).status, path).toBe(200);
      for (const customer of [tokens.viewer, tokens.customerAdmin]) {
        expect(await call(customer, path), path).toMatchObject({
          status: 403,
          body: { detail: 'Operator access required' },
        });
      }
      expect((await call(undefined, path)).status, path).toBe(401);
    }
  });

  it('keeps tenant writes, the audit log and settings writes for operator_admin, and audits the refusals', async () => {
    const adminOnly: [string, string, unknown?][] = [
      ['POST', '/operator/tenants', { tenant_id: 'nope', name: 'Nope' }],
      ['PATCH', '/operator/tenants/tenant-a', { name: 'Renamed' }],
      ['DELETE', '/operator/tenants/tenant-a'],
      ['GET', '/operator/audit-log'],
      ['POST', '/operator/settings', { rate_limit_rps: 99 }],
    ];
    for (const [method, path, json] of adminOnly) {
      expect(await call(tokens.operator, path, { method, json }), path).toMatchObject({
        status: 403,
        body: { detail: 'Operator admin access required' },
      });
    }
    expect((await call(tokens.operatorAdmin, '/operator/tenants/tenant-a')).body.name).toBe('tenant-a');
    expect((await call(tokens.operatorAdmin, '/operator/tenants/nope')).status).toBe(404);
    const denied = await auditRows('view_audit_log_denied');
    expect(denied).toEqual([expect.objectContaining({ user_id: subs.operator })]);
    expect((await call(tokens.operatorAdmin, '/operator/system/errors')).body.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ source: 'auth', error_type: 'auth_failure' })]),
    );
  });

  it('audits every operator request with the caller, the peer address and the user agent', async () => {
    const response = await call(tokens.operator, '/operator/devices?tenant_filter=tenant-b', {
      headers: { 'user-agent': 'audit-test/1.0', 'x-forwarded-for': '203.0.113.9' },
    });
    expect(response.body.devices.map((d: { tenant_id: string }) => d.tenant_id)).toEqual(['tenant-b']);
    const [row] = (await auditRows('list_all_devices')).filter((r) => r.user_agent === 'audit-test/1.0');
    // X-Forwarded-For is not believed: the peer is not a trusted proxy (TRUST_PROXY is unset).
    expect(row).toMatchObject({ user_id: subs.operator, tenant_filter: 'tenant-b', ip: '127.0.0.1' });
    await call(tokens.operatorAdmin, '/operator/tenants/tenant-b/devices/b-1');
    expect((await auditRows('view_device')).filter((r) => r.resource_id === 'b-1')).toEqual([
      expect.objectContaining({ user_id: subs.operatorAdmin, tenant_filter: 'tenant-b' }),
    ]);

    const log = (await call(tokens.operatorAdmin, `/operator/audit-log?user_id=o-operator&action=list_all_devices`))
      .body;
    expect(log.entries[0]).toMatchObject({
      username: 'o-operator',
      action: 'list_all_devices',
      ip_address: '127.0.0.1',
    });
    expect((await call(tokens.operatorAdmin, '/operator/audit-log?since=last-week')).body).toEqual({
      detail: 'Invalid since value; use ISO 8601',
    });
  });

  it('fails the request when its audit row cannot be written', async () => {
    const name = pulse.databaseLocation.split('/').pop()!;
    await asSuperuser((client) => client.query('REVOKE INSERT ON operator_audit_log FROM pulse_operator'), name);
    try {
      const response = await call(tokens.operator, '/operator/tenants');
      expect(response.status).toBe(500);
    } finally {
      await asSuperuser((client) => client.query('GRANT INSERT ON operator_audit_log TO pulse_operator'), name);
    }
    expect((await call(tokens.operator, '/operator/tenants')).status).toBe(200);
  });

  it('creates, refuses duplicates of, changes and soft-deletes tenants', async () => {
    const created = await call(tokens.operatorAdmin, '/operator/tenants', {
      json: { tenant_id: 'acme-corp', name: 'Acme', contact_email: 'ops@acme.example', metadata: { tier: 'gold' } },
    });
    expect(created).toMatchObject({ status: 201, body: { tenant_id: 'acme-corp', status: 'created' } });
    expect(
      await call(tokens.operatorAdmin, '/operator/tenants', { json: { tenant_id: 'acme-corp', name: 'Again' } }),
    ).toMatchObject({
      status: 409,
      body: { detail: 'Tenant already exists' },
    });
    expect(
      (await call(tokens.operatorAdmin, '/operator/tenants', { json: { tenant_id: 'Bad_Id', name: 'x' } })).status,
    ).toBe(400);
    expect(
      (
        await call(tokens.operatorAdmin, '/operator/tenants', {
          json: { tenant_id: 'x-1', name: 'x', contact_email: 'nope' },
        })
      ).status,
    ).toBe(400);
    // The refused create left no tenant behind, but its audit row stayed, saying how it ended.
    expect((await call(tokens.operatorAdmin, '/operator/tenants/x-1')).status).toBe(404);
    expect((await auditRows('create_tenant')).map((r) => [r.resource_id, r.status_code])).toEqual([
      ['acme-corp', 200],
      ['acme-corp', 409],
      ['Bad_Id', 400],
      ['x-1', 400],
    ]);
    // The log's "changes only" view leaves out reads, not refusals.
    const changes = (await call(tokens.operatorAdmin, '/operator/audit-log?changes_only=true&limit=1000')).body
      .entries as { action: string; status_code: number }[];
    expect(changes.some((e) => /^(list|get|view)_/.test(e.action) && !e.action.endsWith('_denied'))).toBe(false);
    expect(changes.filter((e) => e.action === 'create_tenant').map((e) => e.status_code)).toEqual([400, 400, 409, 200]);
    const everything = (await call(tokens.operatorAdmin, '/operator/audit-log?limit=1000')).body.entries as {
      action: string;
    }[];
    expect(everything.some((e) => e.action === 'get_tenant')).toBe(true);

    const tenant = (await call(tokens.operator, '/operator/tenants/acme-corp')).body;
    expect(tenant).toMatchObject({ name: 'Acme', metadata: { tier: 'gold' }, status: 'ACTIVE' });
    expect(
      (await call(tokens.operatorAdmin, '/operator/tenants/acme-corp', { method: 'PATCH', json: { status: 'GONE' } }))
        .status,
    ).toBe(400);
    expect(
      (await call(tokens.operatorAdmin, '/operator/tenants/acme-corp', { method: 'PATCH', json: {} })).body,
    ).toEqual({
      detail: 'No fields to update',
    });
    expect(
      await call(tokens.operatorAdmin, '/operator/tenants/acme-corp', {
        method: 'PATCH',
        json: { status: 'SUSPENDED' },
      }),
    ).toMatchObject({
      status: 200,
      body: { tenant_id: 'acme-corp', status: 'updated' },
    });
    expect(
      (await call(tokens.operator, '/operator/tenants?status=SUSPENDED')).body.tenants.map(
        (t: { tenant_id: string }) => t.tenant_id,
      ),
    ).toEqual(['acme-corp']);
    expect((await call(tokens.operatorAdmin, '/operator/tenants/acme-corp', { method: 'DELETE' })).body).toEqual({
      tenant_id: 'acme-corp',
      status: 'deleted',
      devices_revoked: 0,
    });
    expect(await call(tokens.operatorAdmin, '/operator/tenants/acme-corp', { method: 'DELETE' })).toMatchObject({
      status: 404,
      body: { detail: 'Tenant not found or already deleted' },
    });
    const all = (await call(tokens.operator, '/operator/tenants?status=ALL')).body;
    expect(all.tenants.find((t: { tenant_id: string }) => t.tenant_id === 'acme-corp')).toMatchObject({
      status: 'DELETED',
    });
    expect(
      (await call(tokens.operator, '/operator/tenants/stats/summary')).body.tenants.map(
        (t: { tenant_id: string }) => t.tenant_id,
      ),
    ).not.toContain('acme-corp');
  });

  it('shows every tenant, or one with tenant_filter: devices, alerts, integrations, quarantine, stats', async () => {
    const devices = (await call(tokens.operator, '/operator/devices')).body;
    expect(devices.devices.map((d: { tenant_id: string }) => d.tenant_id).sort()).toEqual(['tenant-a', 'tenant-b']);
    const alerts = (await call(tokens.operator, '/operator/alerts?tenant_filter=tenant-a')).body;
    expect(alerts).toMatchObject({ total: 1, tenant_filter: 'tenant-a' });
    expect((await call(tokens.operator, '/operator/alerts?status=ALL')).body.total).toBe(2);
    const integrations = (await call(tokens.operator, '/operator/integrations')).body.integrations;
    expect(integrations).toEqual([expect.objectContaining({ tenant_id: 'tenant-b', type: 'snmp', name: 'trap' })]);
    expect(integrations[0]).not.toHaveProperty('snmp_config');
    const quarantine = (await call(tokens.operator, '/operator/quarantine?minutes=10')).body;
    expect(quarantine.events).toEqual([
      expect.objectContaining({
        tenant_id: 'tenant-a',
        reason: 'TOKEN_INVALID',
        payload: { site_id: 's', provision_token: '[REDACTED]' },
      }),
    ]);
    expect(quarantine.counts).toEqual([{ minute: expect.any(String), reason: 'TOKEN_INVALID', count: 3 }]);
    const stats = (await call(tokens.operator, '/operator/tenants/tenant-b/stats')).body.stats;
    expect(stats).toMatchObject({ devices: { total: 1, stale: 1 }, alerts: { open: 1 }, integrations: { total: 1 } });
    const summary = (await call(tokens.operator, '/operator/tenants/stats/summary')).body.tenants;
    expect(summary.find((t: { tenant_id: string }) => t.tenant_id === 'tenant-a')).toMatchObject({
      device_count: 1,
      online_count: 1,
      open_alerts: 1,
    });
  });

  it('round-trips settings through GET and POST (JSON or form) and ingest applies them within 5 s', async () => {
    const before = (await call(tokens.operator, '/operator/settings')).body;
    expect(before.settings).toEqual({
      mode: 'DEV',
      store_rejects: false,
      max_payload_bytes: 8192,
      rate_limit_rps: 5,
      rate_limit_burst: 20,
    });
    const saved = await call(tokens.operatorAdmin, '/operator/settings', {
      json: { store_rejects: true, rate_limit_rps: 50, rate_limit_burst: 80 },
    });
    expect(saved.body).toMatchObject({
      status: 'ok',
      settings: { store_rejects: true, rate_limit_rps: 50, rate_limit_burst: 80 },
    });
    expect((await call(tokens.operator, '/operator/settings')).body.settings).toMatchObject({
      rate_limit_rps: 50,
      store_rejects: true,
    });
    await waitFor(async () => (await pulse.call('/health')).body.components.ingest.settings.rateLimitRps === 50, 5000);

    const form = await pulse.call('/operator/settings', {
      admin: false,
      method: 'POST',
      headers: { ...bearer(tokens.operatorAdmin!), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'mode=PROD&store_rejects=0',
    });
    expect(form.body.settings).toMatchObject({ mode: 'PROD', store_rejects: false });
    expect((await call(tokens.operatorAdmin, '/operator/settings', { json: { mode: 'TEST' } })).status).toBe(422);
    expect((await call(tokens.operatorAdmin, '/operator/settings', { json: {} })).status).toBe(400);
    await call(tokens.operatorAdmin, '/operator/settings', {
      json: { mode: 'DEV', rate_limit_rps: 5, rate_limit_burst: 20 },
    });
  });

  it('reports every running role, rates rather than counters, history (single and batch) and capacity', async () => {
    const health = (await call(tokens.operator, '/operator/system/health')).body;
    expect(Object.keys(health.components)).toEqual(
      expect.arrayContaining([
        'api',
        'provision',
        'delivery',
        'dispatcher',
        'evaluator',
        'ingest',
        'database',
        'identity',
      ]),
    );
    expect(health.components.database).toMatchObject({
      status: 'healthy',
      connections: expect.any(Number),
      max_connections: expect.any(Number),
    });
    expect(health.components.ingest.counters).toHaveProperty('messages_received');
    expect(health.checked_at).not.toMatch(/\+00:00Z$/);

    await waitFor(
      async () =>
        (await call(tokens.operator, '/operator/system/metrics/history?metric=messages_received_per_sec')).body.points
          .length >= 2,
      6000,
    );
    const metrics = (await call(tokens.operator, '/operator/system/metrics')).body;
    expect(metrics.throughput).toMatchObject({
      ingest_rate_per_sec: expect.any(Number),
      messages_received_total: expect.any(Number),
    });
    const batch = (
      await call(tokens.operator, '/operator/system/metrics/history/batch?metrics=healthy,devices_online,queue_depth')
    ).body;
    expect(Object.keys(batch)).toEqual(['healthy', 'devices_online', 'queue_depth']);
    for (const history of Object.values(batch) as { points: unknown[]; error?: string }[]) {
      expect(history.error).toBeUndefined();
      expect(history.points.length).toBeGreaterThan(0);
    }
    expect((await call(tokens.operator, '/operator/system/metrics/latest')).body.platform).toMatchObject({
      devices_online: 1,
      devices_stale: 1,
    });
    const capacity = (await call(tokens.operator, '/operator/system/capacity')).body;
    expect(capacity.postgres.db_size_bytes).toBeGreaterThan(0);
    expect(capacity.postgres.top_tables.map((t: { name: string }) => t.name)).toContain('telemetry');
    const aggregates = (await call(tokens.operator, '/operator/system/aggregates')).body;
    expect(aggregates.devices).toMatchObject({ registered: 2, online: 1, stale: 1 });
    expect(aggregates.last_activity.alert).not.toMatch(/\+00:00Z$/);
  });
});

describe('/operator behind a trusted proxy', () => {
  // Started in a hook: booting an embedded database is what takes time, and hooks get a boot's deadline.
  let pulse: TestPlatform;
  beforeAll(async () => {
    pulse = await startTestPlatform('pglite', { TRUST_PROXY: '127.0.0.1' }, ['api']);
  });
  afterAll(() => pulse?.close());

  it('takes the client address from X-Forwarded-For only when the peer is a trusted proxy', async () => {
    const token = await tokenFor(pulse, { username: 'proxied-op', role: 'operator' });
    await pulse.call('/operator/tenants', {
      admin: false,
      headers: { ...bearer(token), 'x-forwarded-for': '203.0.113.9' },
    });
    const { rows } = await pulse.db.withOperator((tx) =>
      tx.query<{ ip: string }>(`SELECT host(ip_address) AS ip FROM operator_audit_log WHERE action = 'list_tenants'`),
    );
    expect(rows).toEqual([{ ip: '203.0.113.9' }]);
  });

  it('sends HSTS when the request reached the proxy over HTTPS, and not over plain HTTP', async () => {
    const https = await fetch(`${pulse.base}/health`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(https.headers.get('strict-transport-security')).toBe('max-age=31536000');
    const plain = await fetch(`${pulse.base}/health`);
    expect(plain.headers.get('strict-transport-security')).toBeNull();
  });
});

describe('deleting a tenant', () => {
  let pulse: TestPlatform;
  beforeAll(async () => {
    pulse = await startTestPlatform('pglite');
  });
  afterAll(() => pulse?.close());

  it('revokes its devices, at once for ingest', async () => {
    const admin = await tokenFor(pulse, { username: 'deleting-admin', role: 'operator_admin' });
    await pulse.call('/operator/tenants', {
      admin: false,
      headers: bearer(admin),
      json: { tenant_id: 'gone-corp', name: 'Gone' },
    });
    const registered = await pulse.call('/api/admin/devices', {
      json: { tenant_id: 'gone-corp', device_id: 'g-1', site_id: 's' },
    });
    const activated = await pulse.call('/api/device/activate', {
      admin: false,
      json: { tenant_id: 'gone-corp', device_id: 'g-1', activation_code: registered.body.activation_code },
    });
    const send = async () =>
      (
        await fetch(`${pulse.base}/ingest/v1/tenant/gone-corp/device/g-1/heartbeat`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-provision-token': activated.body.provision_token },
          body: JSON.stringify({ site_id: 's' }),
        })
      ).status;
    expect(await send()).toBe(202);
    const deleted = await pulse.call('/operator/tenants/gone-corp', {
      method: 'DELETE',
      admin: false,
      headers: bearer(admin),
    });
    expect(deleted.body).toEqual({ tenant_id: 'gone-corp', status: 'deleted', devices_revoked: 1 });
    expect(await send()).toBe(403);
    const listed = await pulse.call('/api/admin/devices?tenant_id=gone-corp');
    expect(listed.body.map((d: { status: string }) => d.status)).toEqual(['REVOKED']);
  });
});
