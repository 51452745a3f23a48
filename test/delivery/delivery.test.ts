// Alert delivery end to end on PostgreSQL with the embedded broker: a rule violation reaches a signed
// webhook, SNMP v2c and v3 traps, an email and an MQTT message, and its close reaches them again; a
// failing receiver is retried with growing delays until FAILED; SSRF rules at creation and at send time;
// secrets never in an answer; integrations and routes are tenant-isolated.
import { createHmac } from 'node:crypto';
import mqtt from 'mqtt';
import snmp from 'net-snmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { startSmtpReceiver, startSnmpReceiver, startWebhookReceiver } from '../helpers/receivers.js';
import { waitFor } from '../helpers/wait.js';

const SNMP_V3_USER = {
  name: 'pulse-v3',
  level: snmp.SecurityLevel.authPriv,
  authProtocol: snmp.AuthProtocols.sha256,
  authKey: 'auth-secret-123',
  privProtocol: snmp.PrivProtocols.aes,
  privKey: 'priv-secret-456',
};
const SECRETS = [
  's3cret-community',
  'auth-secret-123',
  'priv-secret-456',
  'smtp-pass-789',
  'Bearer hook-token',
  'mqtt-pass-000',
];

describe('alert delivery', () => {
  let pulse: TestPlatform;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let failing: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  let traps: Awaited<ReturnType<typeof startSnmpReceiver>>;
  let subscriber: mqtt.MqttClient;
  const mqttMessages: { topic: string; payload: any }[] = [];
  const tokens: Record<string, string> = {};
  let deviceToken: string;
  let signingSecret: string;
  const ids: Record<string, string> = {};

  const call = (token: string, path: string, method = 'GET', json?: unknown) =>
    pulse.call(path, { admin: false, method, headers: bearer(token), ...(json !== undefined && { json }) });
  const admin = (path: string, method = 'GET', json?: unknown) => call(tokens.admin!, path, method, json);
  const send = (seq: number, temp: number) =>
    pulse.call('/ingest/v1/tenant/tenant-a/device/d-1/telemetry', {
      admin: false,
      headers: { 'x-provision-token': deviceToken },
      json: { site_id: 's-1', seq, metrics: { temp_c: temp } },
    });

  beforeAll(async () => {
    webhook = await startWebhookReceiver();
    failing = await startWebhookReceiver(() => 500);
    smtp = await startSmtpReceiver({ user: 'mailer', pass: 'smtp-pass-789' });
    traps = await startSnmpReceiver({ community: 's3cret-community', users: [SNMP_V3_USER] });
    pulse = await startTestPlatform(
      'postgres',
      {
        SSRF_ALLOWLIST: '127.0.0.1',
        API_RATE_LIMIT: '100000', // one admin token makes every call here
        WORKER_BACKOFF_BASE_SECONDS: '1',
        WORKER_BACKOFF_MAX_SECONDS: '4',
        WORKER_MAX_ATTEMPTS: '3',
        WORKER_POLL_SECONDS: '1',
        WORKER_TIMEOUT_SECONDS: '5',
        HEARTBEAT_STALE_SECONDS: '3600',
      },
      undefined,
      { embeddedBroker: true },
    );
    tokens.admin = await tokenFor(pulse, { username: 'd-admin', role: 'customer_admin', tenantId: 'tenant-a' });
    tokens.viewer = await tokenFor(pulse, { username: 'd-viewer', role: 'customer_viewer', tenantId: 'tenant-a' });
    tokens.other = await tokenFor(pulse, { username: 'd-other', role: 'customer_admin', tenantId: 'tenant-b' });
    const created = await pulse.call('/api/admin/devices', {
      json: { tenant_id: 'tenant-a', device_id: 'd-1', site_id: 's-1' },
    });
    // The tenant's own MQTT client reads its alerts, with an alert reader's login (nobody else may).
    const reader = await pulse.call('/customer/mqtt-readers', {
      admin: false,
      headers: { authorization: `Bearer ${tokens.admin}` },
      json: { name: 'delivery-test' },
    });
    subscriber = await mqtt.connectAsync(pulse.mqttUrl!, {
      username: reader.body.username,
      password: reader.body.password,
    });
    await subscriber.subscribeAsync('alerts/tenant-a/#', { qos: 1 });
    subscriber.on('message', (topic, payload) => mqttMessages.push({ topic, payload: JSON.parse(payload.toString()) }));
    deviceToken = (
      await pulse.call('/api/device/activate', {
        admin: false,
        json: { tenant_id: 'tenant-a', device_id: 'd-1', activation_code: created.body.activation_code },
      })
    ).body.provision_token;
  }, 60_000);
  afterAll(async () => {
    await subscriber?.endAsync();
    await pulse?.close();
    await Promise.all([webhook?.close(), failing?.close(), smtp?.close(), traps?.close()]);
  });

  it('creates one integration of each type; secrets are never answered', async () => {
    const hook = await admin('/customer/integrations', 'POST', {
      name: 'ops hook',
      webhook_url: `${webhook.url}/alerts`,
      // X-Auth is a credential no name pattern would know: header values are secret unless named public.
      headers: { Authorization: 'Bearer hook-token', 'X-Auth': 'hunter2', 'X-Team': 'ops' },
      public_headers: ['X-Team'],
    });
    expect(hook.status).toBe(200);
    expect(hook.body).toMatchObject({
      type: 'webhook',
      url: `${webhook.url}/alerts`,
      headers: { Authorization: '[redacted]', 'X-Auth': '[redacted]', 'X-Team': 'ops' },
    });
    expect(JSON.stringify(hook.body)).not.toContain('hunter2');
    signingSecret = hook.body.signing_secret;
    expect(signingSecret).toMatch(/^[\w-]{32}$/);
    ids.webhook = hook.body.integration_id;

    const v2c = await admin('/customer/integrations/snmp', 'POST', {
      name: 'nms v2c',
      snmp_host: '127.0.0.1',
      snmp_port: traps.port,
      snmp_config: { version: '2c', community: 's3cret-community' },
    });
    expect(v2c.status).toBe(201);
    expect(v2c.body).toMatchObject({
      type: 'snmp',
      snmp_version: '2c',
      snmp_port: traps.port,
      snmp_oid_prefix: '1.3.6.1.4.1.99999',
    });
    ids.snmp2 = v2c.body.id;
    const v3 = await admin('/customer/integrations/snmp', 'POST', {
      name: 'nms v3',
      snmp_host: '127.0.0.1',
      snmp_port: traps.port,
      snmp_config: {
        version: '3',
        username: 'pulse-v3',
        auth_protocol: 'SHA256',
        auth_password: 'auth-secret-123',
        priv_protocol: 'AES',
        priv_password: 'priv-secret-456',
      },
    });
    expect(v3.body).toMatchObject({ snmp_version: '3', snmp_auth_protocol: 'SHA256', snmp_priv_protocol: 'AES' });
    ids.snmp3 = v3.body.id;

    const email = await admin('/customer/integrations/email', 'POST', {
      name: 'on-call mail',
      smtp_config: {
        smtp_host: '127.0.0.1',
        smtp_port: smtp.port,
        smtp_user: 'mailer',
        smtp_password: 'smtp-pass-789',
        tls_verify: false,
        from_address: 'pulse@example.com',
      },
      recipients: { to: ['oncall@example.com'], cc: ['lead@example.com'], bcc: ['audit@example.com'] },
      template: {
        subject_template: '{severity_label} {alert_type} on {device_id} ({event})',
        body_template: '<p>{summary} <b>{device_id}</b></p>',
      },
    });
    expect(email.status).toBe(201);
    expect(email.body).toMatchObject({ smtp_tls_mode: 'starttls', recipient_count: 1, template_format: 'html' });
    ids.email = email.body.id;

    const topic = await admin('/customer/integrations/mqtt', 'POST', {
      name: 'bus',
      mqtt_topic: 'alerts/{tenant_id}/{site_id}/{alert_type}',
      mqtt_qos: 1,
    });
    expect(topic.status).toBe(201);
    ids.mqtt = topic.body.id;

    const bad = await admin('/customer/integrations', 'POST', { name: 'bad', webhook_url: `${failing.url}/fail` });
    ids.failing = bad.body.integration_id;

    for (const path of [
      '/customer/integrations',
      '/customer/integrations/snmp',
      '/customer/integrations/email',
      '/customer/integrations/mqtt',
      ...Object.values(ids).map((id) => `/customer/integrations/${id}`),
    ]) {
      const text = JSON.stringify((await admin(path)).body);
      for (const secret of SECRETS) expect(text, path).not.toContain(secret);
      expect(text).not.toContain(signingSecret);
    }
    const listed = (await admin('/customer/integrations')).body.integrations;
    expect(listed.map((i: { type: string }) => i.type).sort()).toEqual([
      'email',
      'mqtt',
      'snmp',
      'snmp',
      'webhook',
      'webhook',
    ]);
    // A viewer sees where a webhook goes, not its path: Slack-style URLs carry their credential there.
    const origin = new URL(webhook.url).origin;
    for (const path of ['/customer/integrations', `/customer/integrations/${ids.webhook}`]) {
      const text = JSON.stringify((await call(tokens.viewer!, path)).body);
      expect(text, path).not.toContain('/alerts');
      expect(text, path).toContain(`${origin}/…`);
    }
    expect((await admin(`/customer/integrations/${ids.webhook}`)).body.url).toBe(`${webhook.url}/alerts`);
    // The database holds them sealed, too.
    const stored = JSON.stringify((await pulse.db.withService((tx) => tx.query('SELECT * FROM integrations'))).rows);
    for (const secret of SECRETS) expect(stored).not.toContain(secret);
  });

  it('checks requests: roles, validation messages, SSRF at creation, tenant isolation', async () => {
    expect((await call(tokens.viewer!, '/customer/integrations')).status).toBe(200);
    expect(
      (await call(tokens.viewer!, '/customer/integrations', 'POST', { name: 'x', webhook_url: 'https://example.com' }))
        .status,
    ).toBe(403);
    const refused: [string, unknown, string][] = [
      [
        '/customer/integrations',
        { name: 'x', webhook_url: 'http://10.1.2.3/hook' },
        'Invalid webhook URL: Private IP addresses are not allowed',
      ],
      [
        '/customer/integrations',
        { name: 'x', webhook_url: 'http://169.254.169.254/latest' },
        'Invalid webhook URL: Cloud metadata endpoints are not allowed',
      ],
      [
        '/customer/integrations',
        { name: 'x', webhook_url: 'http://localhost:8080/' },
        'Invalid webhook URL: Internal hostnames are not allowed',
      ],
      [
        '/customer/integrations',
        { name: 'x', webhook_url: 'ftp://example.com/' },
        'Invalid webhook URL: Invalid URL format',
      ],
      [
        '/customer/integrations/snmp',
        { name: 'x', snmp_host: '192.168.1.5', snmp_config: { version: '2c', community: 'c' } },
        'Invalid SNMP destination: Private IP addresses are not allowed',
      ],
      [
        '/customer/integrations/snmp',
        {
          name: 'x',
          snmp_host: '127.0.0.1',
          snmp_config: {
            version: '3',
            username: 'u',
            auth_password: 'long-enough',
            priv_protocol: 'AES192',
            priv_password: 'long-enough',
          },
        },
        'Invalid SNMP configuration: AES192 is not supported; use AES (128) or AES256',
      ],
      [
        '/customer/integrations/email',
        {
          name: 'x',
          smtp_config: { smtp_host: 'mail.internal', from_address: 'a@example.com' },
          recipients: { to: ['b@example.com'] },
        },
        'Invalid email configuration: SMTP host: Internal hostnames are not allowed',
      ],
      [
        '/customer/integrations/email',
        {
          name: 'x',
          smtp_config: { smtp_host: '127.0.0.1', from_address: 'a@mailinator.com' },
          recipients: { to: ['b@example.com'] },
        },
        'Invalid email configuration: from_address uses a disposable email domain',
      ],
      [
        '/customer/integrations/mqtt',
        { name: 'x', mqtt_topic: 'alerts/tenant-b/x' },
        'Invalid MQTT topic: Topic must start with alerts/tenant-a/ or alerts/{tenant_id}/',
      ],
      [
        '/customer/integrations/mqtt',
        { name: 'x', mqtt_topic: 'alerts/{tenant_id}/#' },
        'Invalid MQTT topic: MQTT wildcards are not allowed',
      ],
      [
        '/customer/integrations/mqtt',
        { name: 'x', mqtt_topic: 'alerts/{tenant_id}/{secret}' },
        'Invalid MQTT topic: Unknown template variables: secret',
      ],
    ];
    for (const [path, body, detail] of refused) {
      expect(await admin(path, 'POST', body), detail).toMatchObject({ status: 400, body: { detail } });
    }
    // Tenant B sees none of A's integrations and cannot use, change or delete them.
    expect((await call(tokens.other!, '/customer/integrations')).body.integrations).toEqual([]);
    for (const [method, path] of [
      ['GET', `/customer/integrations/${ids.webhook}`],
      ['PATCH', `/customer/integrations/${ids.webhook}`],
      ['DELETE', `/customer/integrations/${ids.webhook}`],
      ['GET', `/customer/integrations/snmp/${ids.snmp2}`],
      ['DELETE', `/customer/integrations/email/${ids.email}`],
      ['POST', `/customer/integrations/${ids.webhook}/test`],
    ] as const) {
      expect(
        (await call(tokens.other!, path, method, method === 'PATCH' ? { name: 'stolen' } : undefined)).status,
        path,
      ).toBe(404);
    }
    expect(
      await call(tokens.other!, '/customer/integration-routes', 'POST', { integration_id: ids.webhook, name: 'steal' }),
    ).toMatchObject({
      status: 400,
      body: { detail: 'Integration not found or belongs to different tenant' },
    });
    expect((await admin(`/customer/integrations/${ids.webhook}`)).body.name).toBe('ops hook');
  });

  it('routes a rule violation to every channel, and its close where routed', async () => {
    for (const [name, id] of Object.entries(ids)) {
      const route = await admin('/customer/integration-routes', 'POST', {
        integration_id: id,
        name,
        alert_types: ['threshold'],
        deliver_on: name === 'failing' ? ['OPEN'] : ['OPEN', 'CLOSED'],
        // Retried until FAILED (below) though the alert closes meanwhile.
        ...(name === 'failing' && { deliver_superseded: true }),
      });
      expect(route.status, name).toBe(200);
      expect(route.body).toMatchObject({ alert_types: ['THRESHOLD'], integration_id: id });
    }
    expect(
      (await admin('/customer/integration-routes', 'POST', { integration_id: ids.webhook, alert_types: ['BOGUS'] }))
        .body,
    ).toEqual({
      detail: 'Invalid alert_types value: BOGUS',
    });
    expect((await admin('/customer/integration-routes/not-a-uuid')).body).toEqual({
      detail: 'Invalid route_id format: must be a valid UUID',
    });
    expect((await call(tokens.other!, '/customer/integration-routes')).body.routes).toEqual([]);

    const rule = await admin('/customer/alert-rules', 'POST', {
      name: 'Hot',
      metric_name: 'temp_c',
      operator: 'GT',
      threshold: 30,
      severity: 5,
    });
    let seq = 0;
    await waitFor(async () => {
      await send((seq += 1), 45);
      return webhook.received.length > 0;
    }, 15_000);
    await waitFor(() => traps.received.length >= 2 && smtp.received.length >= 1 && mqttMessages.length >= 1, 10_000);

    const [open] = webhook.received;
    expect(open!.headers['x-pulse-signature']).toBe(
      `sha256=${createHmac('sha256', signingSecret).update(open!.body).digest('hex')}`,
    );
    expect(open!.headers.authorization).toBe('Bearer hook-token');
    expect(open!.headers['x-team']).toBe('ops');
    expect(open!.json).toMatchObject({
      tenant_id: 'tenant-a',
      device_id: 'd-1',
      site_id: 's-1',
      alert_type: 'THRESHOLD',
      severity: 5,
      severity_label: 'CRITICAL',
      status: 'OPEN',
      event: 'OPEN',
      details: { rule_id: rule.body.rule_id },
    });
    expect(typeof open!.json.details).toBe('object');
    const alertId = open!.json.alert_id;

    const byOid = (trap: { varbinds: { oid: string; value: unknown }[] }) =>
      Object.fromEntries(trap.varbinds.map((v) => [v.oid, v.value]));
    for (const trap of traps.received.slice(0, 2)) {
      expect(byOid(trap)).toMatchObject({
        '1.3.6.1.4.1.99999.1.1.0': String(alertId),
        '1.3.6.1.4.1.99999.1.2.0': 'd-1',
        '1.3.6.1.4.1.99999.1.3.0': 'tenant-a',
        '1.3.6.1.4.1.99999.1.4.0': 1,
        '1.3.6.1.4.1.99999.1.7.0': 'OPEN',
      });
    }
    expect(traps.errors).toEqual([]);

    const [mail] = smtp.received;
    expect(mail!.user).toBe('mailer');
    expect(mail!.secure).toBe(true);
    expect(mail!.to.sort()).toEqual(['audit@example.com', 'lead@example.com', 'oncall@example.com']);
    expect(mail!.raw).toContain('Subject: CRITICAL THRESHOLD on d-1 (OPEN)');
    expect(mail!.raw).not.toMatch(/^Bcc:/m);

    expect(mqttMessages[0]).toMatchObject({
      topic: 'alerts/tenant-a/s-1/THRESHOLD',
      payload: { alert_id: alertId, event: 'OPEN' },
    });

    // Back to normal: the CLOSED notifications follow.
    await send((seq += 1), 20);
    await waitFor(
      () =>
        webhook.received.some((r) => r.json.event === 'CLOSED') &&
        traps.received.length >= 4 &&
        smtp.received.length >= 2 &&
        mqttMessages.length >= 2,
      10_000,
    );
    expect(webhook.received.filter((r) => r.json.alert_id === alertId).map((r) => r.json.event)).toEqual([
      'OPEN',
      'CLOSED',
    ]);
    expect(smtp.received[1]!.raw).toContain('(CLOSED)');
    expect(mqttMessages[1]!.payload).toMatchObject({ event: 'CLOSED', status: 'CLOSED' });

    // Exactly one job per alert × route × event, whatever the dispatcher saw.
    const { rows } = await pulse.db.withService((tx) =>
      tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM delivery_jobs WHERE alert_id = $1`, [alertId]),
    );
    expect(rows[0]!.n).toBe(6 * 2 - 1);
  });

  it('retries a failing receiver with growing delays until FAILED, recording every attempt', async () => {
    await waitFor(async () => {
      const { rows } = await pulse.db.withService((tx) =>
        tx.query<{ status: string }>(
          `SELECT j.status FROM delivery_jobs j JOIN integrations i USING (tenant_id, integration_id) WHERE i.name = 'bad'`,
        ),
      );
      return rows[0]?.status === 'FAILED';
    }, 20_000);
    expect(failing.received).toHaveLength(3);
    const gaps = [failing.received[1]!.at - failing.received[0]!.at, failing.received[2]!.at - failing.received[1]!.at];
    expect(gaps[0]).toBeGreaterThanOrEqual(700);
    expect(gaps[1]).toBeGreaterThan(gaps[0]! * 1.2);
    const attempts = (await admin('/customer/delivery-status?limit=100')).body.attempts.filter(
      (a: { http_status: number }) => a.http_status === 500,
    );
    expect(attempts.map((a: { attempt_no: number; ok: boolean }) => [a.attempt_no, a.ok]).sort()).toEqual([
      [1, false],
      [2, false],
      [3, false],
    ]);
    const health = (await pulse.call('/health')).body.components.delivery;
    expect(health.counters.jobs_failed).toBeGreaterThanOrEqual(1);
    expect(health.counters.retries_scheduled).toBeGreaterThanOrEqual(2);
  });

  it('refuses at send time a destination that became private (rows written around the API)', async () => {
    const { rows } = await pulse.db.withService(async (tx) => {
      const integration = await tx.query<{ integration_id: string }>(
        `INSERT INTO integrations (tenant_id, name, type, config_json) VALUES ('tenant-a', 'sneaky', 'webhook', '{"url":"http://10.9.9.9/x"}')
         RETURNING integration_id`,
      );
      const route = await tx.query<{ route_id: string }>(
        `INSERT INTO integration_routes (tenant_id, integration_id, name) VALUES ('tenant-a', $1, 'r') RETURNING route_id`,
        [integration.rows[0]!.integration_id],
      );
      return tx.query<{ job_id: number }>(
        `INSERT INTO delivery_jobs (tenant_id, alert_id, integration_id, route_id, deliver_on_event, payload_json)
         VALUES ('tenant-a', 999999, $1, $2, 'OPEN', '{"event":"OPEN","tenant_id":"tenant-a"}') RETURNING job_id`,
        [integration.rows[0]!.integration_id, route.rows[0]!.route_id],
      );
    });
    const jobId = rows[0]!.job_id;
    pulse.bus.publish('delivery.queued', { jobs: 1 });
    await waitFor(async () => {
      const attempts = await pulse.db.withService((tx) =>
        tx.query<{ error: string }>(`SELECT error FROM delivery_attempts WHERE job_id = $1`, [jobId]),
      );
      return attempts.rows[0]?.error === 'url_blocked:private_address';
    }, 10_000);
  });

  it("sends test deliveries in the original's shape, at most 5 a minute per integration", async () => {
    const before = webhook.received.length;
    const result = await admin(`/customer/integrations/${ids.webhook}/test`, 'POST');
    expect(result.body).toMatchObject({
      success: true,
      integration_id: ids.webhook,
      integration_type: 'webhook',
      error: null,
      http_status: 200,
    });
    expect(webhook.received[before]!.json).toMatchObject({ alert_type: 'TEST_ALERT', tenant_id: 'tenant-a' });
    const mqttTest = await admin(`/customer/integrations/mqtt/${ids.mqtt}/test`, 'POST');
    expect(mqttTest.body).toMatchObject({ success: true, destination: 'alerts/tenant-a/test-site/TEST_ALERT' });
    for (let i = 0; i < 4; i += 1)
      expect((await admin(`/customer/integrations/${ids.webhook}/test`, 'POST')).status).toBe(200);
    const limited = await admin(`/customer/integrations/${ids.webhook}/test`, 'POST');
    expect(limited).toMatchObject({
      status: 429,
      body: { detail: 'Rate limit exceeded. Maximum 5 test deliveries per minute.' },
    });
  });

  it('sends email over implicit TLS too, and exposes delivery metrics', async () => {
    const tlsServer = await startSmtpReceiver({ user: 'mailer', pass: 'smtp-pass-789' }, true);
    try {
      const created = await admin('/customer/integrations/email', 'POST', {
        name: 'implicit tls',
        smtp_config: {
          smtp_host: '127.0.0.1',
          smtp_port: tlsServer.port,
          smtp_tls_mode: 'implicit',
          tls_verify: false,
          smtp_user: 'mailer',
          smtp_password: 'smtp-pass-789',
          from_address: 'pulse@example.com',
        },
        recipients: { to: ['tls@example.com'] },
      });
      expect(created.body).toMatchObject({ smtp_tls_mode: 'implicit' });
      const result = await admin(`/customer/integrations/email/${created.body.id}/test`, 'POST');
      expect(result.body).toMatchObject({ success: true, error: null });
      expect(tlsServer.received).toHaveLength(1);
      expect(tlsServer.received[0]).toMatchObject({ secure: true, user: 'mailer', to: ['tls@example.com'] });
    } finally {
      await tlsServer.close();
    }
    const metrics = (await pulse.call('/metrics', { admin: false })).body as string;
    expect(metrics).toMatch(/pulse_delivery_attempts_total\{channel="webhook",outcome="ok"\} [1-9]/);
    expect(metrics).toMatch(/pulse_delivery_jobs\{status="pending"\} \d+/);
    expect(metrics).toMatch(/pulse_delivery_jobs_finished_total\{outcome="failed"\} [1-9]/);
    expect(metrics).toContain('pulse_delivery_latency_seconds_bucket');
  });

  it('changes and deletes integrations and routes', async () => {
    // A new destination does not inherit the old one's secrets: the community must be given again.
    const withoutSecret = await admin(`/customer/integrations/snmp/${ids.snmp2}`, 'PATCH', { snmp_port: 1162 });
    expect(withoutSecret).toMatchObject({
      status: 400,
      body: {
        detail:
          'Invalid SNMP configuration: community must be 1-64 characters (the destination changed, so give its secrets again: snmp_config.community)',
      },
    });
    const patched = await admin(`/customer/integrations/snmp/${ids.snmp2}`, 'PATCH', {
      snmp_port: 1162,
      snmp_config: { version: '2c', community: 'new-community' },
      name: 'renamed',
    });
    expect(patched.body).toMatchObject({ snmp_port: 1162, name: 'renamed', snmp_version: '2c' });
    expect((await admin(`/customer/integrations/snmp/${ids.snmp2}`, 'PATCH', {})).body).toEqual({
      detail: 'No fields to update',
    });
    // A webhook sent elsewhere keeps its public headers; its secret ones stayed with the old URL.
    const moved = await admin(`/customer/integrations/${ids.webhook}`, 'PATCH', {
      webhook_url: `${webhook.url}/moved`,
    });
    expect(moved.body).toMatchObject({ url: `${webhook.url}/moved`, headers: { 'X-Team': 'ops' } });
    expect(Object.keys(moved.body.headers)).toEqual(['X-Team']);
    expect((await admin(`/customer/integrations/${ids.webhook}`, 'PATCH', { enabled: false })).body.enabled).toBe(
      false,
    );
    const routes = (await admin('/customer/integration-routes')).body.routes;
    const route = routes.find((r: { integration_id: string }) => r.integration_id === ids.email);
    expect(
      (await admin(`/customer/integration-routes/${route.route_id}`, 'PATCH', { min_severity: 4 })).body.min_severity,
    ).toBe(4);
    expect((await admin(`/customer/integration-routes/${route.route_id}`, 'DELETE')).status).toBe(204);
    expect((await admin(`/customer/integrations/email/${ids.email}`, 'DELETE')).status).toBe(204);
    expect((await admin(`/customer/integrations/email/${ids.email}`)).status).toBe(404);
  });
});
