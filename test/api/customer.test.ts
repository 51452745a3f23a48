// /customer on PostgreSQL with every role running: the role × endpoint matrix, tenant isolation of every
// endpoint (guessed ids included), rule CRUD with the messages of docs/wire-contract.md, alert filters, acknowledge and
// close — and a manually closed alert whose condition still holds coming back as a new alert.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedAlert, seedDevice, seedRule, seedTelemetry } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

const UNKNOWN_UUID = '00000000-0000-4000-8000-000000000000';

describe('/customer on PostgreSQL', () => {
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};
  let alertOfA: number;
  let alertOfB: number;
  let ruleOfA: string;
  let ruleOfB: string;

  const call = (token: string | undefined, path: string, method = 'GET', json?: unknown) =>
    pulse.call(path, {
      admin: false,
      method,
      headers: token ? bearer(token) : {},
      ...(json !== undefined && { json }),
    });

  beforeAll(async () => {
    pulse = await startTestPlatform('postgres', { HEARTBEAT_STALE_SECONDS: '2', API_RATE_LIMIT: '100000' });
    const { db } = pulse;
    await seedDevice(db, 'tenant-a', 'a-1', 'site-1');
    await seedDevice(db, 'tenant-a', 'a-2', 'site-2');
    await seedDevice(db, 'tenant-b', 'b-1', 'site-1');
    await db.withService((tx) =>
      tx.query(
        `UPDATE device_state SET state = '{"battery_pct": 81.5, "temp_c": 20, "rssi_dbm": -70}' WHERE device_id = 'a-1'`,
      ),
    );
    await seedTelemetry(db, {
      tenantId: 'tenant-a',
      deviceId: 'a-1',
      time: new Date(Date.now() - 60_000),
      seq: 1,
      metrics: { temp_c: 20 },
    });
    await seedTelemetry(db, {
      tenantId: 'tenant-a',
      deviceId: 'a-1',
      time: new Date(Date.now() - 30_000),
      seq: 2,
      msgType: 'heartbeat',
    });
    alertOfA = await seedAlert(db, { tenantId: 'tenant-a', deviceId: 'a-1', alertType: 'THRESHOLD' });
    await seedAlert(db, {
      tenantId: 'tenant-a',
      deviceId: 'a-2',
      status: 'CLOSED',
      createdAt: new Date(Date.now() - 3 * 3600_000),
    });
    alertOfB = await seedAlert(db, { tenantId: 'tenant-b', deviceId: 'b-1' });
    ruleOfA = await seedRule(db, 'tenant-a', 'Seeded A');
    ruleOfB = await seedRule(db, 'tenant-b', 'Seeded B');
    await db.withService(async (tx) => {
      const integration = await tx.query<{ integration_id: string }>(
        `INSERT INTO integrations (tenant_id, name, type, config_json) VALUES ('tenant-a', 'hook', 'webhook', '{"url":"https://example.com"}')
         RETURNING integration_id`,
      );
      const route = await tx.query<{ route_id: string }>(
        `INSERT INTO integration_routes (tenant_id, integration_id, name) VALUES ('tenant-a', $1, 'all') RETURNING route_id`,
        [integration.rows[0]!.integration_id],
      );
      const job = await tx.query<{ job_id: number }>(
        `INSERT INTO delivery_jobs (tenant_id, alert_id, integration_id, route_id, deliver_on_event, status, payload_json)
         VALUES ('tenant-a', $1, $2, $3, 'OPEN', 'COMPLETED', '{}') RETURNING job_id`,
        [alertOfA, integration.rows[0]!.integration_id, route.rows[0]!.route_id],
      );
      await tx.query(
        `INSERT INTO delivery_attempts (tenant_id, job_id, attempt_no, ok, http_status, latency_ms, finished_at)
         VALUES ('tenant-a', $1, 1, true, 200, 12, now())`,
        [job.rows[0]!.job_id],
      );
    });
    tokens.viewerA = await tokenFor(pulse, { username: 'c-a-viewer', role: 'customer_viewer', tenantId: 'tenant-a' });
    tokens.adminA = await tokenFor(pulse, { username: 'c-a-admin', role: 'customer_admin', tenantId: 'tenant-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'c-b-admin', role: 'customer_admin', tenantId: 'tenant-b' });
    tokens.operator = await tokenFor(pulse, { username: 'c-op', role: 'operator' });
    tokens.operatorAdmin = await tokenFor(pulse, { username: 'c-op-admin', role: 'operator_admin' });
  }, 60_000);
  afterAll(() => pulse?.close());

  const reads = () => [
    '/customer/devices',
    '/customer/devices/a-1',
    '/customer/alerts',
    `/customer/alerts/${alertOfA}`,
    '/customer/delivery-status',
    '/customer/alert-rules',
    `/customer/alert-rules/${ruleOfA}`,
    '/customer/metrics',
  ];
  const newRule = { name: 'Too hot', metric_name: 'temp_c', operator: 'GT', threshold: 30 };

  it('lets customers read, only customer_admin write, and never operators or anonymous callers', async () => {
    for (const path of reads()) {
      expect((await call(tokens.viewerA, path)).status, path).toBe(200);
      expect((await call(tokens.adminA, path)).status, path).toBe(200);
      for (const operator of [tokens.operator, tokens.operatorAdmin]) {
        expect(await call(operator, path)).toMatchObject({ status: 403, body: { detail: 'Customer access required' } });
      }
      expect(await call(undefined, path)).toMatchObject({ status: 401, body: { detail: 'Missing authorization' } });
    }
    const writes: [string, string, unknown?][] = [
      ['POST', '/customer/alert-rules', newRule],
      ['PATCH', `/customer/alert-rules/${ruleOfA}`, { threshold: 31 }],
      ['DELETE', `/customer/alert-rules/${ruleOfA}`],
      ['POST', `/customer/alerts/${alertOfA}/acknowledge`],
      ['POST', `/customer/alerts/${alertOfA}/close`],
    ];
    for (const [method, path, body] of writes) {
      expect(await call(tokens.viewerA, path, method, body), path).toMatchObject({
        status: 403,
        body: { detail: 'Customer admin role required' },
      });
      expect((await call(tokens.operatorAdmin, path, method, body)).status, path).toBe(403);
    }
    // Nothing was changed by the refused writes.
    expect((await call(tokens.adminA, `/customer/alerts/${alertOfA}`)).body.alert.status).toBe('OPEN');
    expect((await call(tokens.adminA, `/customer/alert-rules/${ruleOfA}`)).body.threshold).toBe(30);
  });

  it("never reads or writes another tenant's rows, even by guessing ids", async () => {
    for (const path of ['/customer/devices/a-1', `/customer/alerts/${alertOfA}`, `/customer/alert-rules/${ruleOfA}`]) {
      expect((await call(tokens.adminB, path)).status, path).toBe(404);
    }
    expect((await call(tokens.adminB, `/customer/alert-rules/${ruleOfA}`, 'PATCH', { threshold: 1 })).status).toBe(404);
    expect((await call(tokens.adminB, `/customer/alert-rules/${ruleOfA}`, 'DELETE')).status).toBe(404);
    expect((await call(tokens.adminB, `/customer/alerts/${alertOfA}/acknowledge`, 'POST')).status).toBe(404);
    expect((await call(tokens.adminB, `/customer/alerts/${alertOfA}/close`, 'POST')).status).toBe(404);
    expect((await call(tokens.adminA, `/customer/alerts/${alertOfB}`)).status).toBe(404);
    expect((await call(tokens.adminA, `/customer/alert-rules/${ruleOfB}`)).status).toBe(404);

    const devices = (await call(tokens.adminB, '/customer/devices')).body.devices;
    expect(devices.map((d: { device_id: string }) => d.device_id)).toEqual(['b-1']);
    const alerts = (await call(tokens.adminB, '/customer/alerts?status=ALL')).body.alerts;
    expect(alerts.map((a: { alert_id: number }) => a.alert_id)).toEqual([alertOfB]);
    expect(
      (await call(tokens.adminB, '/customer/alert-rules')).body.rules.map((r: { name: string }) => r.name),
    ).toEqual(['Seeded B']);
    expect((await call(tokens.adminB, '/customer/delivery-status')).body.attempts).toEqual([]);
    // A's rows are untouched.
    expect((await call(tokens.adminA, `/customer/alert-rules/${ruleOfA}`)).body.threshold).toBe(30);
    expect((await call(tokens.adminA, `/customer/alerts/${alertOfA}`)).body.alert.status).toBe('OPEN');
  });

  it('shows a device with numeric latest values, recent events and telemetry', async () => {
    const detail = (await call(tokens.viewerA, '/customer/devices/a-1')).body;
    expect(detail.device).toMatchObject({
      device_id: 'a-1',
      site_id: 'site-1',
      status: 'ONLINE',
      battery_pct: 81.5,
      temp_c: 20,
      rssi_dbm: -70,
      snr_db: null,
      state: { battery_pct: 81.5, temp_c: 20, rssi_dbm: -70 },
    });
    expect(detail.events).toEqual([{ time: expect.any(String), msg_type: 'heartbeat', metrics: {}, seq: 2 }]);
    expect(detail.telemetry).toEqual([
      { time: expect.any(String), metrics: { temp_c: 20 }, seq: 1, msg_type: 'telemetry' },
    ]);
    expect((await call(tokens.viewerA, '/customer/devices/nope')).body).toEqual({ detail: 'Device not found' });
    expect((await call(tokens.viewerA, '/customer/delivery-status')).body.attempts).toEqual([
      expect.objectContaining({ tenant_id: 'tenant-a', attempt_no: 1, ok: true, http_status: 200, latency_ms: 12 }),
    ]);
  });

  it("creates, reads, changes and deletes a rule with duration and hysteresis, with the contract's messages", async () => {
    const created = await call(tokens.adminA, '/customer/alert-rules', 'POST', {
      ...newRule,
      operator: 'gte',
      severity: 4,
      site_ids: [' site-1 '],
      duration_seconds: 60,
      hysteresis: 1.5,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      tenant_id: 'tenant-a',
      name: 'Too hot',
      operator: 'GTE',
      threshold: 30,
      severity: 4,
      site_ids: ['site-1'],
      duration_seconds: 60,
      hysteresis: 1.5,
      enabled: true,
    });
    const ruleId = created.body.rule_id;
    expect(ruleId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call(tokens.viewerA, `/customer/alert-rules/${ruleId}`)).body.name).toBe('Too hot');

    const patched = await call(tokens.adminA, `/customer/alert-rules/${ruleId}`, 'PATCH', {
      threshold: 35,
      enabled: false,
      site_ids: null,
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ threshold: 35, enabled: false, site_ids: null, duration_seconds: 60 });
    expect(Date.parse(patched.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.body.updated_at));
    expect(created.body).not.toHaveProperty('warning');
    // A metric no device has reported (a typo, most often) is saved, with a warning that says so.
    const misspelt = await call(tokens.adminA, `/customer/alert-rules/${ruleId}`, 'PATCH', {
      metric_name: 'temprature',
    });
    expect(misspelt.status).toBe(200);
    expect(misspelt.body.warning).toBe(
      'No device has reported temprature yet, so this rule cannot fire until one does. Reported metrics: battery_pct, rssi_dbm, temp_c',
    );
    expect(
      (await call(tokens.adminA, `/customer/alert-rules/${ruleId}`, 'PATCH', { metric_name: 'temp_c' })).body,
    ).not.toHaveProperty('warning');
    // What the rule form suggests: this tenant's reported metrics, never another's.
    expect((await call(tokens.viewerA, '/customer/metrics')).body).toEqual({
      metrics: ['battery_pct', 'rssi_dbm', 'temp_c'],
    });
    expect((await call(tokens.adminB, '/customer/metrics')).body.metrics).not.toContain('rssi_dbm');

    const problems: [unknown, number, unknown][] = [
      [{ ...newRule, operator: 'BETWEEN' }, 400, 'Invalid operator value'],
      [{ ...newRule, metric_name: '9lives' }, 400, 'Invalid metric_name format'],
      [{ ...newRule, site_ids: ['ok', '  '] }, 400, 'Invalid site_id value'],
      [{ ...newRule, name: '   ' }, 400, 'Invalid name length'],
      [{ ...newRule, severity: 9 }, 422, expect.any(Array)],
      [{ ...newRule, duration_seconds: -1 }, 422, expect.any(Array)],
      [
        { metric_name: 'temp_c', operator: 'GT', threshold: 1 },
        422,
        [expect.objectContaining({ loc: ['body', 'name'] })],
      ],
    ];
    for (const [body, status, detail] of problems) {
      expect(await call(tokens.adminA, '/customer/alert-rules', 'POST', body)).toMatchObject({
        status,
        body: { detail },
      });
    }
    expect(await call(tokens.adminA, `/customer/alert-rules/${ruleId}`, 'PATCH', {})).toMatchObject({
      status: 400,
      body: { detail: 'No fields to update' },
    });
    expect(await call(tokens.adminA, '/customer/alert-rules/not-a-uuid')).toMatchObject({
      status: 400,
      body: { detail: 'Invalid rule_id format: must be a valid UUID' },
    });
    expect(await call(tokens.adminA, `/customer/alert-rules/${UNKNOWN_UUID}`)).toMatchObject({
      status: 404,
      body: { detail: 'Alert rule not found' },
    });

    expect((await call(tokens.adminA, `/customer/alert-rules/${ruleId}`, 'DELETE')).status).toBe(204);
    expect((await call(tokens.adminA, `/customer/alert-rules/${ruleId}`, 'DELETE')).status).toBe(404);
    expect((await call(tokens.adminA, `/customer/alert-rules/${ruleId}`)).status).toBe(404);
  });

  it('filters alerts by status (ALL is all), severity, device, site and time, with totals', async () => {
    const all = (await call(tokens.viewerA, '/customer/alerts?status=ALL')).body;
    expect(all).toMatchObject({ total: 2, count: 2 });
    expect((await call(tokens.viewerA, '/customer/alerts?status=ALL&device_id=a-2')).body.total).toBe(1);
    expect((await call(tokens.viewerA, '/customer/alerts?status=ALL&site_id=site-1')).body.total).toBe(2);
    expect((await call(tokens.viewerA, '/customer/alerts?status=ALL&severity=3')).body.total).toBe(2);
    expect((await call(tokens.viewerA, '/customer/alerts?status=ALL&severity=5')).body.total).toBe(0);
    const since = new Date(Date.now() - 3600_000).toISOString();
    expect((await call(tokens.viewerA, `/customer/alerts?status=ALL&start=${since}`)).body.total).toBe(1);
    const paged = (await call(tokens.viewerA, '/customer/alerts?status=ALL&limit=1&offset=1')).body;
    expect(paged).toMatchObject({ total: 2, count: 1 });
    expect((await call(tokens.viewerA, '/customer/alerts?start=soon')).status).toBe(422);
  });

  it('acknowledges (who and when) and closes alerts, and the list filters show it', async () => {
    const id = await seedAlert(pulse.db, { tenantId: 'tenant-a', deviceId: 'a-2', fingerprint: 'manual-ack' });
    const acked = await call(tokens.adminA, `/customer/alerts/${id}/acknowledge`, 'POST');
    expect(acked.status).toBe(200);
    expect(acked.body.alert).toMatchObject({ status: 'ACKNOWLEDGED', acknowledged_by: 'c-a-admin' });
    expect(Number.isNaN(Date.parse(acked.body.alert.acknowledged_at))).toBe(false);
    const ackList = (await call(tokens.viewerA, '/customer/alerts?status=ACKNOWLEDGED')).body.alerts;
    expect(ackList.map((a: { alert_id: number }) => a.alert_id)).toEqual([id]);
    expect(
      (await call(tokens.viewerA, '/customer/alerts?status=OPEN')).body.alerts.map(
        (a: { alert_id: number }) => a.alert_id,
      ),
    ).not.toContain(id);

    const closed = await call(tokens.adminA, `/customer/alerts/${id}/close`, 'POST');
    expect(closed.body.alert).toMatchObject({ status: 'CLOSED', closed_at: expect.any(String) });
    expect(
      (await call(tokens.viewerA, '/customer/alerts?status=CLOSED')).body.alerts.map(
        (a: { alert_id: number }) => a.alert_id,
      ),
    ).toContain(id);
    expect(await call(tokens.adminA, `/customer/alerts/${id}/acknowledge`, 'POST')).toMatchObject({ status: 409 });
    expect((await call(tokens.adminA, '/customer/alerts/999999/close', 'POST')).status).toBe(404);
  });

  it('re-opens a closed alert as a new one when its condition still holds', async () => {
    const created = await pulse.call('/api/admin/devices', {
      json: { tenant_id: 'tenant-a', device_id: 'hot-1', site_id: 'site-9' },
    });
    const activated = await pulse.call('/api/device/activate', {
      admin: false,
      json: { tenant_id: 'tenant-a', device_id: 'hot-1', activation_code: created.body.activation_code },
    });
    const deviceToken = activated.body.provision_token;
    const rule = (
      await call(tokens.adminA, '/customer/alert-rules', 'POST', {
        ...newRule,
        name: 'Hot device',
        site_ids: ['site-9'],
      })
    ).body;
    await waitFor(
      async () =>
        (await pulse.db.withOperator((tx) => tx.query(`SELECT 1 FROM alert_rules WHERE rule_id = $1`, [rule.rule_id])))
          .rowCount === 1,
    );
    const send = async (seq: number, temp: number) =>
      pulse.call('/ingest/v1/tenant/tenant-a/device/hot-1/telemetry', {
        admin: false,
        headers: { 'x-provision-token': deviceToken },
        json: { site_id: 'site-9', seq, metrics: { temp_c: temp } },
      });
    const ruleAlerts = async () =>
      (await call(tokens.viewerA, `/customer/alerts?status=ALL&device_id=hot-1&alert_type=THRESHOLD`)).body.alerts as {
        alert_id: number;
        status: string;
      }[];

    // The evaluator reloads rules within a second; keep sending until the alert opens.
    let seq = 0;
    await waitFor(async () => {
      await send((seq += 1), 40);
      return (await ruleAlerts()).some((a) => a.status === 'OPEN');
    }, 10_000);
    const first = (await ruleAlerts()).find((a) => a.status === 'OPEN')!;
    expect((await call(tokens.adminA, `/customer/alerts/${first.alert_id}/close`, 'POST')).body.alert.status).toBe(
      'CLOSED',
    );

    await waitFor(async () => {
      await send((seq += 1), 41);
      return (await ruleAlerts()).some((a) => a.status === 'OPEN');
    }, 10_000);
    const reopened = (await ruleAlerts()).find((a) => a.status === 'OPEN')!;
    expect(reopened.alert_id).not.toBe(first.alert_id);

    // A silent device's NO_HEARTBEAT alert closed by hand comes back while it stays silent.
    const stale = async () =>
      (await call(tokens.viewerA, `/customer/alerts?status=OPEN&device_id=hot-1&alert_type=NO_HEARTBEAT`)).body
        .alerts as { alert_id: number }[];
    await waitFor(async () => (await stale()).length === 1, 10_000);
    const [staleAlert] = await stale();
    await call(tokens.adminA, `/customer/alerts/${staleAlert!.alert_id}/close`, 'POST');
    await waitFor(async () => (await stale()).some((a) => a.alert_id !== staleAlert!.alert_id), 10_000);
  });
});
