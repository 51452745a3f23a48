// /api/v2 with the built-in issuer on PostgreSQL: tokens, the role × endpoint matrix, tenant isolation of
// every endpoint, the fixed telemetry contract, the per-tenant rate limit and the OpenAPI document.
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIssuerState, signAccessToken } from '../../src/identity/issuer-state.js';
import { createUsers } from '../../src/identity/users.js';
import { bearer, customToken, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedAlert, seedDevice, seedRule, seedTelemetry } from '../helpers/seed.js';

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);

describe('/api/v2 on PostgreSQL', () => {
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};
  let alertOfA: number;
  let closedAlertOfA: number;
  let alertOfB: number;
  let ruleOfA: string;

  const get = (path: string, token?: string) => pulse.call(path, { admin: false, headers: token ? bearer(token) : {} });

  beforeAll(async () => {
    pulse = await startTestPlatform('postgres', { API_RATE_LIMIT: '100000' }, ['api', 'provision', 'ingest']);
    const { db } = pulse;
    await seedDevice(db, 'tenant-a', 'a-1', 'site-1');
    await seedDevice(db, 'tenant-a', 'a-2', 'site-2', 'STALE');
    await seedDevice(db, 'tenant-b', 'b-1', 'site-1');
    await seedTelemetry(db, {
      tenantId: 'tenant-a',
      deviceId: 'a-1',
      time: minutesAgo(120),
      seq: 1,
      metrics: { temp_c: 10, battery_pct: 90 },
    });
    await seedTelemetry(db, {
      tenantId: 'tenant-a',
      deviceId: 'a-1',
      time: minutesAgo(10),
      seq: 2,
      metrics: { temp_c: 20, battery_pct: 80, door_open: true },
    });
    await seedTelemetry(db, {
      tenantId: 'tenant-a',
      deviceId: 'a-1',
      time: minutesAgo(5),
      msgType: 'heartbeat',
      seq: 3,
    });
    await seedTelemetry(db, {
      tenantId: 'tenant-b',
      deviceId: 'b-1',
      time: minutesAgo(10),
      seq: 1,
      metrics: { temp_c: 99, pressure_psi: 30 },
    });
    alertOfA = await seedAlert(db, { tenantId: 'tenant-a', deviceId: 'a-1' });
    closedAlertOfA = await seedAlert(db, {
      tenantId: 'tenant-a',
      deviceId: 'a-2',
      status: 'CLOSED',
      alertType: 'THRESHOLD',
    });
    alertOfB = await seedAlert(db, { tenantId: 'tenant-b', deviceId: 'b-1' });
    await seedAlert(db, { tenantId: 'tenant-b', deviceId: 'b-1', status: 'CLOSED' });
    ruleOfA = await seedRule(db, 'tenant-a', 'Hot A');
    await seedRule(db, 'tenant-b', 'Hot B');
    tokens.viewerA = await tokenFor(pulse, { username: 'a-viewer', role: 'customer_viewer', tenantId: 'tenant-a' });
    tokens.adminA = await tokenFor(pulse, { username: 'a-admin', role: 'customer_admin', tenantId: 'tenant-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'b-admin', role: 'customer_admin', tenantId: 'tenant-b' });
    tokens.operator = await tokenFor(pulse, { username: 'op', role: 'operator' });
    tokens.operatorAdmin = await tokenFor(pulse, { username: 'op-admin', role: 'operator_admin' });
  }, 60_000);
  afterAll(() => pulse?.close());

  const endpoints = () => [
    '/api/v2/devices',
    '/api/v2/devices/a-1',
    '/api/v2/devices/a-1/telemetry',
    '/api/v2/devices/a-1/telemetry/latest',
    '/api/v2/alerts',
    '/api/v2/alerts/trend',
    `/api/v2/alerts/${alertOfA}`,
    '/api/v2/alert-rules',
    `/api/v2/alert-rules/${ruleOfA}`,
    '/api/v2/telemetry/summary',
    '/api/v2/telemetry/chart?metric=temp_c',
  ];

  it('answers every endpoint by role: customers 200, operators 403, no token 401', async () => {
    for (const path of endpoints()) {
      expect((await get(path, tokens.viewerA)).status, path).toBe(200);
      expect((await get(path, tokens.adminA)).status, path).toBe(200);
      for (const operator of [tokens.operator!, tokens.operatorAdmin!]) {
        const response = await get(path, operator);
        expect(response.status, path).toBe(403);
        expect(response.body).toEqual({ detail: 'Customer access required' });
      }
      expect(await get(path)).toMatchObject({ status: 401, body: { detail: 'Missing authorization' } });
    }
    expect((await get('/api/v2/health')).body).toEqual({ status: 'ok', service: 'pulse-ui', api_version: 'v2' });
  });

  it("never shows tenant A's rows to tenant B, even by id", async () => {
    for (const path of [
      '/api/v2/devices/a-1',
      '/api/v2/devices/a-1/telemetry',
      '/api/v2/devices/a-1/telemetry/latest',
      `/api/v2/alerts/${alertOfA}`,
      `/api/v2/alert-rules/${ruleOfA}`,
    ]) {
      expect((await get(path, tokens.adminB)).status, path).toBe(404);
    }
    expect((await get(`/api/v2/alerts/${alertOfB}`, tokens.adminA)).status).toBe(404);

    const devices = (await get('/api/v2/devices', tokens.adminB)).body;
    expect(devices.devices.map((d: { device_id: string }) => d.device_id)).toEqual(['b-1']);
    expect(devices.total).toBe(1);
    const alerts = (await get('/api/v2/alerts?status=ALL', tokens.adminB)).body.alerts;
    expect(alerts.every((a: { tenant_id: string }) => a.tenant_id === 'tenant-b')).toBe(true);
    expect(alerts).toHaveLength(2);
    const rules = (await get('/api/v2/alert-rules', tokens.adminB)).body.rules;
    expect(rules.map((r: { name: string }) => r.name)).toEqual(['Hot B']);
    const summary = (await get('/api/v2/telemetry/summary', tokens.adminB)).body;
    expect(summary).toMatchObject({ sample_count: 1, device_count: 1 });
    expect(Object.keys(summary.metrics).sort()).toEqual(['pressure_psi', 'temp_c']);
    const chart = (await get('/api/v2/telemetry/chart?metric=temp_c&hours=24', tokens.adminB)).body;
    expect(chart.series.map((point: { max: number }) => point.max)).toEqual([99]);
  });

  it('counts only the caller tenant alerts in the trend', async () => {
    const trend = (await get('/api/v2/alerts/trend?hours=2', tokens.adminA)).body.trend;
    expect(trend.length).toBeGreaterThanOrEqual(3);
    expect(trend.reduce((sum: number, h: { opened: number }) => sum + h.opened, 0)).toBe(2);
    expect(trend.reduce((sum: number, h: { closed: number }) => sum + h.closed, 0)).toBe(1);
    expect(trend[0].hour).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000\+00:00$/);
  });

  it('lists devices with totals, filters and sorting', async () => {
    const all = (await get('/api/v2/devices', tokens.viewerA)).body;
    expect(all).toMatchObject({ tenant_id: 'tenant-a', count: 2, total: 2, limit: 100, offset: 0 });
    expect(all.devices[0]).toMatchObject({
      device_id: 'a-1',
      site_id: 'site-1',
      status: 'ONLINE',
      state: { temp_c: 21.5 },
    });
    const stale = (await get('/api/v2/devices?status=STALE', tokens.viewerA)).body;
    expect(stale.devices.map((d: { device_id: string }) => d.device_id)).toEqual(['a-2']);
    const paged = (await get('/api/v2/devices?limit=1&offset=1&sort=device_id&order=desc', tokens.viewerA)).body;
    expect(paged).toMatchObject({ count: 1, total: 2 });
    expect(paged.devices[0].device_id).toBe('a-1');
    expect((await get('/api/v2/devices?q=2', tokens.viewerA)).body.total).toBe(1);
    // site_id is exact (docs/wire-contract.md#data-api); site_q finds a part of it, in any case, '_' literally.
    expect((await get('/api/v2/devices?site_id=site', tokens.viewerA)).body.total).toBe(0);
    expect((await get('/api/v2/devices?site_q=SITE-1', tokens.viewerA)).body.devices).toEqual([
      expect.objectContaining({ device_id: 'a-1' }),
    ]);
    expect((await get('/api/v2/devices?site_q=ite', tokens.viewerA)).body.total).toBe(2);
    expect((await get('/api/v2/devices?site_q=_', tokens.viewerA)).body.total).toBe(0);
    expect((await get('/api/v2/devices?limit=501', tokens.viewerA)).status).toBe(422);
  });

  it('returns telemetry as {timestamp, metrics object, seq, msg_type}, newest first, for start/end or hours', async () => {
    const start = minutesAgo(30).toISOString();
    const response = await get(
      `/api/v2/devices/a-1/telemetry?start=${start}&end=${new Date().toISOString()}`,
      tokens.viewerA,
    );
    expect(response.status).toBe(200);
    expect(response.body.telemetry).toEqual([
      { timestamp: expect.any(String), metrics: {}, seq: 3, msg_type: 'heartbeat' },
      {
        timestamp: expect.any(String),
        metrics: { temp_c: 20, battery_pct: 80, door_open: true },
        seq: 2,
        msg_type: 'telemetry',
      },
    ]);
    expect(Date.parse(response.body.telemetry[0].timestamp)).toBeGreaterThan(
      Date.parse(response.body.telemetry[1].timestamp),
    );
    const byHours = (await get('/api/v2/devices/a-1/telemetry?hours=3', tokens.viewerA)).body;
    expect(byHours.telemetry.map((t: { seq: number }) => t.seq)).toEqual([3, 2, 1]);
    const noOffset = await get(`/api/v2/devices/a-1/telemetry?start=${start.replace('Z', '')}`, tokens.viewerA);
    expect(noOffset.body.telemetry).toHaveLength(2);

    const bad = await get('/api/v2/devices/a-1/telemetry?start=yesterday', tokens.viewerA);
    expect(bad.status).toBe(422);
    expect(bad.body.detail[0]).toMatchObject({ loc: ['query', 'start'] });
    expect((await get('/api/v2/devices/a-1/telemetry?hours=169', tokens.viewerA)).status).toBe(422);
    expect((await get('/api/v2/devices/nope/telemetry', tokens.viewerA)).body).toEqual({ detail: 'Device not found' });
  });

  it('never counts a heartbeat as the latest telemetry', async () => {
    const latest = (await get('/api/v2/devices/a-1/telemetry/latest?count=5', tokens.viewerA)).body;
    expect(latest.telemetry.map((t: { seq: number }) => t.seq)).toEqual([2, 1]);
    expect(latest.telemetry[0].metrics).toEqual({ temp_c: 20, battery_pct: 80, door_open: true });
  });

  it('filters alerts by status (ALL is all) and returns details as an object', async () => {
    const open = (await get('/api/v2/alerts', tokens.viewerA)).body;
    expect(open.alerts.map((a: { alert_id: number }) => a.alert_id)).toEqual([alertOfA]);
    expect(open.alerts[0].details).toEqual({ reason: 'test', value: 41 });
    expect(open.alerts[0].confidence).toBe(0.9);
    const all = (await get('/api/v2/alerts?status=ALL', tokens.viewerA)).body;
    expect(all.alerts.map((a: { alert_id: number }) => a.alert_id).sort()).toEqual([alertOfA, closedAlertOfA].sort());
    const closed = (await get('/api/v2/alerts?status=closed', tokens.viewerA)).body;
    expect(closed.alerts.map((a: { alert_id: number }) => a.alert_id)).toEqual([closedAlertOfA]);
    expect((await get('/api/v2/alerts?status=ALL&alert_type=THRESHOLD', tokens.viewerA)).body.count).toBe(1);
    expect((await get('/api/v2/alerts?status=BOGUS', tokens.viewerA)).status).toBe(400);
    expect((await get('/api/v2/alerts/not-a-number', tokens.viewerA)).status).toBe(422);
    expect((await get(`/api/v2/alerts/${alertOfA}`, tokens.viewerA)).body.alert.device_id).toBe('a-1');
  });

  it('summarises every numeric metric and charts one in time buckets', async () => {
    const summary = (await get('/api/v2/telemetry/summary?hours=3', tokens.viewerA)).body;
    expect(summary).toMatchObject({ sample_count: 2, device_count: 1 });
    expect(summary.metrics.temp_c).toEqual({ avg: 15, min: 10, max: 20, samples: 2 });
    expect(summary.metrics.battery_pct).toMatchObject({ min: 80, max: 90 });
    expect(summary.metrics.door_open).toBeUndefined();

    const chart = (
      await get('/api/v2/telemetry/chart?metric=temp_c&device_id=a-1&hours=3&bucket_minutes=60', tokens.viewerA)
    ).body;
    expect(chart.series.map((p: { avg: number; samples: number }) => [p.avg, p.samples])).toEqual([
      [10, 1],
      [20, 1],
    ]);
    expect(new Date(chart.series[0].time).getUTCMinutes()).toBe(0);
    expect((await get('/api/v2/telemetry/chart', tokens.viewerA)).status).toBe(422);
  });

  it('rejects tampered, expired, foreign and mis-addressed tokens with the messages of the wire contract', async () => {
    const [header, payload] = tokens.viewerA!.split('.');
    const tampered = `${header}.${payload}.${Buffer.from('forged').toString('base64url')}`;
    expect((await get('/api/v2/devices', tampered)).body).toEqual({ detail: 'Invalid token' });
    expect((await get('/api/v2/devices', 'not-a-jwt')).body).toEqual({ detail: 'Invalid token' });

    const expired = await customToken(
      pulse,
      { role: 'customer_viewer', tenant_id: 'tenant-a' },
      Math.floor(Date.now() / 1000) - 60,
    );
    expect(await get('/api/v2/devices', expired)).toMatchObject({ status: 401, body: { detail: 'Token expired' } });

    const { privateKey } = await generateKeyPair('RS256');
    const foreign = await new SignJWT({ role: 'customer_admin', tenant_id: 'tenant-a' })
      .setProtectedHeader({ alg: 'RS256', kid: 'someone-else' })
      .setSubject('x')
      .setExpirationTime('5m')
      .sign(privateKey);
    expect(await get('/api/v2/devices', foreign)).toMatchObject({
      status: 401,
      body: { detail: 'Unknown signing key' },
    });

    const noTenant = await customToken(pulse, { role: 'customer_admin' });
    const response = await get('/api/v2/devices', noTenant);
    expect(response.status).toBe(403);
    expect(response.body.detail).toMatch(/tenant_id/);
    const noRole = await customToken(pulse, { tenant_id: 'tenant-a' });
    expect((await get('/api/v2/devices', noRole)).status).toBe(403);
  });

  it('describes every HTTP route in /api/docs/json', async () => {
    const docs = await pulse.call('/api/docs/json', { admin: false });
    expect(docs.status).toBe(200);
    expect(docs.body.openapi).toMatch(/^3\./);
    const paths = Object.keys(docs.body.paths);
    for (const path of [
      '/api/v2/devices',
      '/api/v2/devices/{device_id}/telemetry',
      '/api/v2/telemetry/chart',
      '/api/v2/ws',
      '/api/admin/devices',
      '/api/admin/devices/bulk',
      '/api/device/activate',
      '/ingest/v1/tenant/{tenant_id}/device/{device_id}/{msg_type}',
      '/ingest/v1/batch',
      '/api/auth/config',
      '/health',
    ]) {
      expect(paths).toContain(path);
    }
    expect(
      docs.body.paths['/api/v2/devices/{device_id}/telemetry'].get.parameters.map((p: { name: string }) => p.name),
    ).toEqual(expect.arrayContaining(['device_id', 'start', 'end', 'hours', 'limit']));
    // A parameter with a default may be left out; the WebSocket's messages and the roles have names.
    const limit = docs.body.paths['/api/v2/devices'].get.parameters.find((p: { name: string }) => p.name === 'limit');
    expect(limit).toMatchObject({ required: false, schema: { default: expect.any(Number) } });
    expect(Object.keys(docs.body.components.schemas)).toEqual(
      expect.arrayContaining(['LiveRequest', 'LiveFrame', 'Role']),
    );
    expect((await pulse.call('/api/docs', { admin: false, redirect: 'follow' })).status).toBe(200);
  });

  it('documents a successful answer of every route, and its error answers', async () => {
    const docs = (await pulse.call('/api/docs/json', { admin: false })).body;
    const undocumented: string[] = [];
    for (const [path, operations] of Object.entries<Record<string, { responses?: Record<string, any> }>>(docs.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const statuses = Object.keys(operation.responses ?? {});
        const success = statuses.find((status) => /^2/.test(status));
        // The WebSocket's answer is the upgrade, and /metrics is Prometheus text.
        if (path === '/api/v2/ws' || path === '/metrics') continue;
        // Telemetry exports answer a file (CSV or NDJSON), firmware downloads bytes, a shared dashboard's
        // live mode a stream of events: documented as such.
        const media = path.endsWith('/telemetry/export')
          ? 'text/csv'
          : path.startsWith('/ingest/v1/firmware/')
            ? 'application/octet-stream'
            : path.endsWith('/live')
              ? 'text/event-stream'
              : 'application/json';
        if (!success || !operation.responses![success].content?.[media]?.schema) {
          if (success !== '204') undocumented.push(`${method.toUpperCase()} ${path}`);
        }
        if (!statuses.includes('4XX') && !statuses.includes('4xx'))
          undocumented.push(`${method.toUpperCase()} ${path} 4xx`);
      }
    }
    expect(undocumented).toEqual([]);
    const device = docs.paths['/api/v2/devices'].get.responses['200'].content['application/json'].schema;
    expect(Object.keys(device.properties)).toEqual(['tenant_id', 'devices', 'count', 'total', 'limit', 'offset']);
  });
});

describe('/api/v2 rate limit', () => {
  let pulse: TestPlatform;
  beforeAll(async () => {
    pulse = await startTestPlatform('pglite', { API_RATE_LIMIT: '20', API_RATE_WINDOW_SECONDS: '60' }, ['api']);
  }, 60_000);
  afterAll(() => pulse?.close());

  it('answers the 21st request of a tenant in a window with 429 and Retry-After; other tenants are unaffected', async () => {
    const a = await tokenFor(pulse, { username: 'rl-a', role: 'customer_viewer', tenantId: 'rl-a' });
    const b = await tokenFor(pulse, { username: 'rl-b', role: 'customer_viewer', tenantId: 'rl-b' });
    for (let i = 0; i < 20; i += 1) {
      expect((await pulse.call('/api/v2/alerts', { admin: false, headers: bearer(a) })).status).toBe(200);
    }
    const limited = await pulse.call('/api/v2/alerts', { admin: false, headers: bearer(a) });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ detail: 'Rate limit exceeded (20 requests per 60s)' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect((await pulse.call('/api/v2/alerts', { admin: false, headers: bearer(b) })).status).toBe(200);
  });

  it('keeps a budget per user across /api/v2 and /customer: one viewer cannot spend the admin’s', async () => {
    const viewer = await tokenFor(pulse, { username: 'rl-c-viewer', role: 'customer_viewer', tenantId: 'rl-c' });
    const admin = await tokenFor(pulse, { username: 'rl-c-admin', role: 'customer_admin', tenantId: 'rl-c' });
    for (let i = 0; i < 10; i += 1) {
      expect((await pulse.call('/api/v2/alerts', { admin: false, headers: bearer(viewer) })).status).toBe(200);
      expect((await pulse.call('/customer/alert-rules', { admin: false, headers: bearer(viewer) })).status).toBe(200);
    }
    expect((await pulse.call('/customer/alert-rules', { admin: false, headers: bearer(viewer) })).status).toBe(429);
    expect((await pulse.call('/customer/alert-rules', { admin: false, headers: bearer(admin) })).status).toBe(200);
    expect((await pulse.call('/api/v2/alerts', { admin: false, headers: bearer(admin) })).status).toBe(200);
  });

  it("keeps a budget per user and API client: a second tab's token shares it, a script's own client does not", async () => {
    const firstTab = await tokenFor(pulse, { username: 'rl-d', role: 'customer_viewer', tenantId: 'rl-d' });
    const secondTab = await tokenFor(pulse, { username: 'rl-d', role: 'customer_viewer', tenantId: 'rl-d' });
    const state = (await loadIssuerState(pulse.db, pulse.deps.secrets))!;
    const user = (await createUsers(pulse.db).findByUsername('rl-d'))!;
    const script = await signAccessToken(state, user, {
      issuer: state.issuer!,
      audience: 'pulse-ui',
      clientId: 'rl-d-script',
      ttlSeconds: 600,
    });
    for (const tab of [firstTab, secondTab]) {
      for (let i = 0; i < 10; i += 1) {
        expect((await pulse.call('/api/v2/alerts', { admin: false, headers: bearer(tab) })).status).toBe(200);
      }
    }
    expect((await pulse.call('/api/v2/alerts', { admin: false, headers: bearer(firstTab) })).status).toBe(429);
    expect((await pulse.call('/api/v2/alerts', { admin: false, headers: bearer(secondTab) })).status).toBe(429);
    expect((await pulse.call('/api/v2/alerts', { admin: false, headers: bearer(script) })).status).toBe(200);
  });
});
