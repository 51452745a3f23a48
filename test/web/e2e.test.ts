// The web app in Debian's Chromium (playwright-core) against a real Pulse: PostgreSQL, the built-in
// issuer, the embedded broker and the simulator. A customer admin signs in, sees live devices, watches a
// chart gain points, creates a rule, sees its alert appear and acknowledges it, creates each integration
// type; a customer viewer cannot write; an operator admin sees both tenants and the audit log; an
// operator cannot open the audit log. Every page is saved under test-results/screenshots/.
import { readFileSync, writeFileSync } from 'node:fs';
import mqtt from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { nav, overflows, shot, signIn as signInAs, waitInPage, type SignInOptions } from '../helpers/browser.js';
import { bearer, TEST_PASSWORD, tokenFor } from '../helpers/identity.js';
import { seedAlert } from '../helpers/seed.js';
import { startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { waitFor } from '../helpers/wait.js';

describe('web app in Chromium', () => {
  let pulse: TestPlatform;
  let simulator: RunningSimulator;
  let browser: Browser;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  // Refuses notifications until told otherwise: what a FAILED delivery and its retry are made of.
  let flaky: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let flakyAnswer = 500;
  let origin: string;

  beforeAll(async () => {
    // Missing tools fail the suite with what to do (launchChromium); they never skip it.
    webhook = await startWebhookReceiver();
    flaky = await startWebhookReceiver(() => flakyAnswer);
    pulse = await startTestPlatform(
      'postgres',
      {
        SSRF_ALLOWLIST: '127.0.0.1',
        API_RATE_LIMIT: '100000',
        WORKER_MAX_ATTEMPTS: '2',
        WORKER_BACKOFF_BASE_SECONDS: '1',
        WORKER_BACKOFF_MAX_SECONDS: '1',
      },
      undefined,
      { embeddedBroker: true },
    );
    origin = `http://localhost:${pulse.httpPort}`;
    simulator = await startSimulator({
      apiUrl: pulse.base,
      adminKey: TEST_ADMIN_KEY,
      transport: 'mqtt',
      mqttUrl: pulse.mqttUrl,
      deviceCount: 6,
      tenants: [
        { tenantId: 'tenant-a', sites: ['plant-1'] },
        { tenantId: 'tenant-b', sites: ['plant-2'] },
      ],
      heartbeatSeconds: 1,
      telemetrySeconds: 1,
      uplinkDrops: { periodSeconds: 0, durationSeconds: 0 },
    });
    for (const [username, role, tenantId] of [
      ['web-admin', 'customer_admin', 'tenant-a'],
      ['web-viewer', 'customer_viewer', 'tenant-a'],
      ['web-operator', 'operator', undefined],
      ['web-op-admin', 'operator_admin', undefined],
    ] as const) {
      await tokenFor(pulse, { username, role, ...(tenantId && { tenantId }) });
    }
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await simulator?.stop();
    await pulse?.close();
    await webhook?.close();
    await flaky?.close();
  });

  const signIn = (username: string, options?: SignInOptions) => signInAs(browser, origin, username, options);

  it(
    'a customer admin sees live devices, charts that grow, rules, alerts to acknowledge and integrations',
    { timeout: 120_000 },
    async () => {
      const page = await signIn('web-admin');
      await page.getByTestId('live-status').and(page.locator('[data-status="live"]')).waitFor({ timeout: 10_000 });
      await page.getByText('Fleet health').waitFor();
      // The fleet is counted on the server by status, every status with its card.
      const counts = page.getByTestId('fleet-counts');
      for (const label of ['Devices', 'Online', 'Stale', 'Offline', 'Revoked', 'Open alerts'])
        await counts.getByText(label).waitFor();
      // Tokens are kept in memory only: nothing a script could read from storage carries one.
      const stored = String(await page.evaluate('JSON.stringify([{ ...sessionStorage }, { ...localStorage }])'));
      expect(stored).not.toMatch(/eyJ|refresh_token|access_token/);
      await shot(page, 'customer-dashboard');
      // First load of the production build, signed in: a number for the record, not a pass/fail limit.
      await page.reload();
      await page.getByText('Fleet health').waitFor();
      const loadMs = await page.evaluate('Math.round(performance.getEntriesByType("navigation")[0].loadEventEnd)');
      writeFileSync('test-results/web-timings.json', `${JSON.stringify({ dashboard_load_ms: loadMs }, null, 2)}\n`);

      await nav(page, 'Devices');
      const rows = page.getByTestId('devices-table').locator('tbody tr');
      await rows.first().waitFor();
      expect(await rows.count()).toBe(3);
      await shot(page, 'customer-devices');
      // A filter lands in the URL: a reload (through the issuer: tokens are in memory) shows the same view.
      await page.getByLabel('Search device id').fill('0003');
      await page.waitForURL(/\/app\/devices\?q=0003$/);
      await page.reload();
      await page.getByTestId('devices-table').getByRole('link', { name: 'dev-0003' }).waitFor();
      expect(await rows.count()).toBe(1);
      expect(await page.getByLabel('Search device id').inputValue()).toBe('0003');
      await page.getByLabel('Search device id').fill('');
      await page.waitForURL(/\/app\/devices$/);
      await rows.nth(2).waitFor();

      await rows.first().getByRole('link').click();
      const chart = page.locator('[data-testid="chart-temp_c"]');
      await chart.waitFor({ timeout: 15_000 });
      const before = Number(await chart.getAttribute('data-points'));
      await waitInPage(
        page,
        `Number(document.querySelector('[data-testid="chart-temp_c"]')?.getAttribute('data-points')) > ${before}`,
      );
      await shot(page, 'customer-device-detail');
      // The chosen range downloads as CSV: this device's rows, a column per metric.
      const deviceId = decodeURIComponent(page.url().split('/').pop()!);
      const [file] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Download CSV' }).click(),
      ]);
      expect(file.suggestedFilename()).toMatch(new RegExp(`^${deviceId}-\\d{8}T\\d{4}-\\d{8}T\\d{4}\\.csv$`));
      const csv = readFileSync(await file.path(), 'utf8')
        .split('\r\n')
        .filter(Boolean);
      expect(csv[0]).toMatch(/^time,device_id,site_id,msg_type,seq,.*temp_c/);
      expect(csv.length).toBeGreaterThan(1);
      expect(csv.slice(1).every((line) => line.split(',')[1] === deviceId)).toBe(true);
      // A week is drawn whole, from rollups, and says so.
      await page.getByRole('button', { name: '7 d', exact: true }).click();
      await page.getByTestId('resolution').getByText('15 min buckets from 1-minute rollups').waitFor();
      await chart.waitFor();
      expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThan(0);
      // The range is in the URL: a reload shows the week again.
      await page.waitForURL(/[?&]hours=168/);
      await page.reload();
      await page.getByTestId('resolution').getByText('15 min buckets from 1-minute rollups').waitFor();

      await nav(page, 'Alert rules');
      await page.getByRole('button', { name: 'New rule' }).click();
      const form = page.getByRole('form', { name: 'Alert rule' });
      await form.getByLabel('Name').fill('Too hot');
      // A metric no device reports is flagged while typing (the suggestions are the tenant's metrics).
      await form.getByLabel('Metric').fill('temprature');
      await form.getByRole('status').getByText('No device has reported temprature').waitFor();
      expect(await form.locator('datalist option[value="temp_c"]').count()).toBe(1);
      await form.getByLabel('Metric').fill('temp-c');
      await form.getByLabel('Threshold', { exact: true }).fill('-100');
      await form.getByRole('button', { name: 'Save rule' }).click();
      await form.getByRole('alert').getByText('Invalid metric_name format').waitFor();
      await form.getByLabel('Metric').fill('temp_c');
      await form.getByRole('button', { name: 'Save rule' }).click();
      await page.getByRole('cell', { name: 'Too hot', exact: true }).waitFor();
      // A rule on a text state: the form asks for a value instead of a threshold.
      await page.getByRole('button', { name: 'New rule' }).click();
      await form.getByLabel('Name').fill('Door left open');
      await form.getByLabel('Metric').fill('door');
      await form.getByLabel('Condition').selectOption('EQ');
      expect(await form.getByLabel('Threshold', { exact: true }).count()).toBe(0);
      await form.getByLabel('Value').fill('open');
      await form.getByRole('button', { name: 'Save rule' }).click();
      await page.getByText('door equals open').waitFor();
      await shot(page, 'customer-rules');

      // Every simulated device is above -100 °C: alerts open within seconds and show up without a reload.
      await nav(page, 'Alerts');
      const alertRows = page.getByTestId('alerts-table').locator('tbody tr');
      await alertRows.filter({ hasText: 'THRESHOLD' }).first().waitFor({ timeout: 20_000 });
      await shot(page, 'customer-alerts');
      await alertRows.filter({ hasText: 'THRESHOLD' }).first().getByRole('button', { name: 'Acknowledge' }).click();
      await page.getByRole('tab', { name: 'ACKNOWLEDGED' }).click();
      await page.getByTestId('alerts-table').getByText('by web-admin').first().waitFor();

      await nav(page, 'Integrations');
      const create = async (tab: string, fill: (form: ReturnType<Page['getByRole']>) => Promise<void>) => {
        await page.getByRole('button', { name: 'New integration' }).click();
        const dialog = page.getByRole('form', { name: 'New integration' });
        await dialog.getByRole('tab', { name: tab }).click();
        await fill(dialog);
        await dialog.getByRole('button', { name: /^Create/ }).click();
        await dialog.waitFor({ state: 'detached' });
      };
      await create('WEBHOOK', async (f) => {
        await f.getByLabel('Name').fill('ops hook');
        await f.getByLabel('URL').fill(`${webhook.url}/pulse`);
      });
      await page.getByRole('status').getByText('signing secret').waitFor();
      await create('SNMP', async (f) => {
        await f.getByLabel('Name').fill('nms');
        await f.getByLabel('Host').fill('127.0.0.1');
        await f.getByLabel('Community').fill('public');
      });
      await create('EMAIL', async (f) => {
        await f.getByLabel('Name').fill('on call');
        await f.getByLabel('SMTP host').fill('127.0.0.1');
        await f.getByLabel('From').fill('pulse@example.com');
        await f.getByLabel('To').fill('oncall@example.com');
      });
      await create('MQTT', async (f) => {
        await f.getByLabel('Name').fill('bus');
      });
      const integrationRows = page.getByTestId('integrations-table').locator('tbody tr');
      expect(await integrationRows.count()).toBe(4);
      await integrationRows.filter({ hasText: 'ops hook' }).getByRole('button', { name: 'Test' }).click();
      await page
        .getByRole('status')
        .getByText(/sent in \d+ ms/)
        .waitFor();
      expect(webhook.received.some((r) => r.json.alert_type === 'TEST_ALERT')).toBe(true);
      // An alert reader: the login the tenant's own MQTT client reads its alert topics with.
      const readers = page.getByRole('form', { name: 'New alert reader' });
      await readers.getByLabel('Name').fill('control-room');
      await readers.getByRole('button', { name: 'Add reader' }).click();
      const readerPassword = (await page.getByTestId('secret-Reader password').textContent())!.trim();
      await page.getByTestId('alert-readers-table').getByRole('cell', { name: 'control-room', exact: true }).waitFor();
      const reader = await mqtt.connectAsync(pulse.mqttUrl!, {
        username: 'tenant-a/alerts/control-room',
        password: readerPassword,
        reconnectPeriod: 0,
      });
      await reader.subscribeAsync('alerts/tenant-a/#');
      await reader.endAsync();
      await shot(page, 'customer-integrations');

      await nav(page, 'Routes');
      await page.getByRole('button', { name: 'New route' }).click();
      const routeForm = page.getByRole('form', { name: 'Route' });
      await routeForm.getByLabel('Name').fill('everything');
      await routeForm.getByRole('button', { name: 'Create route' }).click();
      await page.getByRole('cell', { name: 'everything', exact: true }).waitFor();
      await shot(page, 'customer-routes');

      // A maintenance window: started, listed as active, ended.
      await nav(page, 'Silences');
      await page.getByRole('button', { name: 'New silence' }).click();
      const silenceForm = page.getByRole('form', { name: 'New silence' });
      await silenceForm.getByLabel('Device id prefixes').fill('dev-00');
      await silenceForm.getByLabel('Why').fill('firmware rollout');
      await silenceForm.getByRole('button', { name: 'Start silence' }).click();
      const silenceRow = page.getByTestId('silences-table').getByRole('row', { name: /firmware rollout/ });
      await silenceRow.getByRole('cell', { name: 'active', exact: true }).waitFor();
      await shot(page, 'customer-silences');
      await silenceRow.getByRole('button', { name: 'End now' }).click();
      await silenceRow.getByRole('cell', { name: 'ended', exact: true }).waitFor();
      // One without sites, devices or prefixes would silence the whole fleet: it asks first.
      await page.getByRole('button', { name: 'New silence' }).click();
      await silenceForm.getByLabel('Why').fill('everything');
      await silenceForm.getByRole('button', { name: 'Start silence' }).click();
      await silenceForm.getByRole('button', { name: 'Silence the whole fleet' }).waitFor();
      await silenceForm.getByRole('button', { name: 'Cancel' }).click();
      await silenceForm.getByRole('button', { name: 'Start silence' }).waitFor();
      expect(
        await page
          .getByTestId('silences-table')
          .getByRole('row', { name: /everything/ })
          .count(),
      ).toBe(0);
      await page.keyboard.press('Escape');

      // A deep link opened in a fresh load (tokens are gone) goes through the issuer and lands where it
      // pointed. Operator pages are not for customers.
      await page.goto(`${origin}/app/operator/tenants`);
      await page.getByText('Not available for your role').waitFor();
    },
  );

  it(
    'a customer admin registers, edits, rotates and revokes a device from the web app, and its telemetry follows',
    { timeout: 90_000 },
    async () => {
      const page = await signIn('web-admin');
      page.on('dialog', (dialog) => void dialog.accept());
      await nav(page, 'Devices');
      await page.getByRole('button', { name: 'Add device' }).click();
      const form = page.getByRole('form', { name: 'New device' });
      await form.getByLabel('Device id').fill('web-pump');
      await form.getByLabel('Site').fill('plant-1');
      await form.getByLabel('Firmware').fill('1.0.0');
      await form.getByLabel('Metadata (JSON)').fill('{"model": "P-100"}');
      await form.getByRole('button', { name: 'Register' }).click();
      const code = (await page.getByTestId('secret-Activation code').textContent())!.trim();
      expect(await page.getByTestId('secret-MQTT').textContent()).toContain('user tenant-a/web-pump');
      await shot(page, 'device-registered');
      await page.getByRole('button', { name: 'Close' }).click();

      // The device activates and sends, as a device would.
      const activated = await pulse.call('/api/device/activate', {
        admin: false,
        json: { tenant_id: 'tenant-a', device_id: 'web-pump', activation_code: code },
      });
      const send = (token: string, temp: number, site = 'plant-1') =>
        pulse.call('/ingest/v1/tenant/tenant-a/device/web-pump/telemetry', {
          admin: false,
          headers: { 'x-provision-token': token },
          json: { site_id: site, metrics: { temp_c: temp, uplink_ok: true } },
        });
      expect((await send(activated.body.provision_token, 21.5)).status).toBe(202);

      await page.getByRole('link', { name: 'web-pump', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Device web-pump' }).waitFor();
      await page.getByText('1.0.0').waitFor();
      await page.getByTestId('device-metadata').getByText('P-100').waitFor();
      await page.getByText('uplink_ok', { exact: true }).first().waitFor();
      await page.getByTestId('gauge-temp_c').waitFor();

      // Edit: a new site and firmware; the device's next message must name the new site.
      await page.getByRole('button', { name: 'Edit' }).click();
      const edit = page.getByRole('form', { name: 'Edit device' });
      await edit.getByLabel('Site').fill('plant-9');
      await edit.getByLabel('Firmware').fill('1.1.0');
      await edit.getByRole('button', { name: 'Save' }).click();
      await page.getByText('1.1.0').waitFor();
      await page.getByTestId('device-site').getByText('plant-9').waitFor();
      expect((await send(activated.body.provision_token, 22, 'plant-9')).status).toBe(202);

      // Rotate: the new token is shown once, the old one is refused.
      await page.getByRole('button', { name: 'Rotate token' }).click();
      const token = (await page.getByTestId('secret-New provision token').textContent())!.trim();
      expect((await send(activated.body.provision_token, 23, 'plant-9')).body.detail).toBe('TOKEN_INVALID');
      expect((await send(token, 23, 'plant-9')).status).toBe(202);
      await shot(page, 'device-managed');

      // Revoke: the status says so and the device is refused.
      await page.getByRole('button', { name: 'Revoke' }).click();
      await page.getByText('REVOKED').first().waitFor();
      expect((await send(token, 24, 'plant-9')).body.detail).toBe('DEVICE_REVOKED');
    },
  );

  it(
    "an operator admin gives a new tenant its first user, who signs in; a customer admin sees only its tenant's users",
    { timeout: 90_000 },
    async () => {
      const opToken = await tokenFor(pulse, { username: 'web-op-admin', role: 'operator_admin' });
      const tenant = await pulse.call('/operator/tenants', {
        admin: false,
        headers: { authorization: `Bearer ${opToken}` },
        json: { tenant_id: 'tenant-c', name: 'Tenant C' },
      });
      expect(tenant.status).toBe(201);
      const page = await signIn('web-op-admin');
      await nav(page, 'Users');
      await page.getByRole('button', { name: 'Add user' }).click();
      const form = page.getByRole('form', { name: 'New user' });
      await form.getByLabel('Username').fill('web-first-c');
      await form.getByRole('combobox', { name: 'Role' }).selectOption('customer_admin');
      await form.getByLabel('Tenant').fill('tenant-c');
      await form.getByLabel('Initial password').fill(TEST_PASSWORD);
      await form.getByRole('button', { name: 'Add user' }).click();
      await form.waitFor({ state: 'detached' });
      await page.getByRole('cell', { name: 'web-first-c', exact: true }).waitFor();
      await shot(page, 'operator-users');

      const first = await signIn('web-first-c');
      expect(await first.getByTestId('whoami').textContent()).toContain('tenant-c');
      await nav(first, 'Users');
      await first.getByRole('cell', { name: 'web-first-c', exact: true }).waitFor();
      expect(await first.getByRole('cell', { name: 'web-admin', exact: true }).count()).toBe(0);
      await shot(first, 'customer-users');

      // Disabled by the operator admin, the user cannot sign in any more, and is told why.
      page.on('dialog', (dialog) => void dialog.accept());
      const row = page.getByTestId('users-table').getByRole('row', { name: /web-first-c/ });
      await row.getByRole('button', { name: 'Disable' }).click();
      await row.getByText('disabled', { exact: true }).waitFor();
      const again = await (await browser.newContext()).newPage();
      await again.goto(`${origin}/app/`);
      await again.getByRole('button', { name: 'Sign in' }).click();
      await again.getByLabel('Username').fill('web-first-c');
      await again.getByLabel('Password').fill(TEST_PASSWORD);
      await again.getByRole('button', { name: 'Sign in' }).click();
      await again.getByText('This account is disabled. Ask your administrator to enable it.').waitFor();
    },
  );

  it(
    'an operator admin adds a device to a tenant, manages it from its page, and reads quarantined DEV payloads',
    { timeout: 90_000 },
    async () => {
      const page = await signIn('web-op-admin');
      page.on('dialog', (dialog) => void dialog.accept());
      await nav(page, 'Tenants');
      await page.getByRole('link', { name: 'tenant-b', exact: true }).first().click();
      await page.getByRole('heading', { level: 1, name: 'Tenant tenant-b' }).waitFor();
      await page.getByRole('button', { name: 'Add device' }).click();
      const form = page.getByRole('form', { name: 'New device' });
      await form.getByLabel('Device id').fill('op-pump');
      await form.getByLabel('Site').fill('plant-2');
      await form.getByRole('button', { name: 'Register' }).click();
      expect(await page.getByTestId('secret-MQTT').textContent()).toContain('user tenant-b/op-pump');
      const code = (await page.getByTestId('secret-Activation code').textContent())!.trim();
      await page.getByRole('button', { name: 'Close' }).click();
      const activated = await pulse.call('/api/device/activate', {
        admin: false,
        json: { tenant_id: 'tenant-b', device_id: 'op-pump', activation_code: code },
      });
      const send = (token: string) =>
        pulse.call('/ingest/v1/tenant/tenant-b/device/op-pump/telemetry', {
          admin: false,
          headers: { 'x-provision-token': token },
          json: { site_id: 'plant-2', metrics: { temp_c: 19 } },
        });
      expect((await send(activated.body.provision_token)).status).toBe(202);

      // The device id is a link to the operator's device page, where it is rotated.
      await page.getByRole('link', { name: 'op-pump', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Device op-pump' }).waitFor();
      await page.getByText('"temp_c":19').first().waitFor();
      await page.getByRole('button', { name: 'Rotate token' }).click();
      await page.getByTestId('secret-New provision token').waitFor();
      expect((await send(activated.body.provision_token)).body.detail).toBe('TOKEN_INVALID');
      await shot(page, 'operator-device');

      // The old token over MQTT (DEV: anonymous, token in the payload) is quarantined with its payload,
      // the token replaced as stored.
      const device = await mqtt.connectAsync(pulse.mqttUrl!, { clientId: `e2e-op-pump-${process.pid}` });
      await device.publishAsync(
        'tenant/tenant-b/device/op-pump/telemetry',
        JSON.stringify({
          site_id: 'plant-2',
          provision_token: activated.body.provision_token,
          metrics: { temp_c: 19 },
        }),
        { qos: 1 },
      );
      await device.endAsync();
      // Stored before the page loads (the page refreshes only every 15 s).
      await waitFor(async () => {
        const { rows } = await pulse.db.withOperator((tx) =>
          tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM quarantine_events WHERE device_id = 'op-pump'`),
        );
        return rows[0]!.n >= 2;
      }, 10_000);
      await nav(page, 'Quarantine');
      const row = page.getByRole('row').filter({ hasText: 'op-pump' }).first();
      await row.getByText('Show').click();
      const payload = await row.getByTestId('quarantine-payload').textContent();
      expect(payload).toContain('"temp_c": 19');
      expect(payload).not.toContain(activated.body.provision_token);
      await row.getByRole('link', { name: 'op-pump' }).waitFor();
      await shot(page, 'operator-quarantine-payload');
    },
  );

  it('a deep link survives signing in, and a reload keeps the page', { timeout: 60_000 }, async () => {
    const page = await signIn('web-viewer', { path: '/devices/dev-0001' });
    await page.getByRole('heading', { level: 1, name: 'Device dev-0001' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Device dev-0001' }).waitFor();
    await page.context().close();
  });

  it('a customer viewer reads but gets no write controls', { timeout: 60_000 }, async () => {
    const page = await signIn('web-viewer');
    await nav(page, 'Alert rules');
    await page.getByRole('cell', { name: 'Too hot', exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'New rule' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Delete' }).count()).toBe(0);
    await shot(page, 'viewer-rules');
  });

  it(
    'an operator admin sees both tenants, the system and the audit log; an operator cannot open the audit log',
    { timeout: 90_000 },
    async () => {
      const page = await signIn('web-op-admin');
      await page.getByRole('heading', { name: 'Operator overview' }).waitFor();
      await shot(page, 'operator-overview');
      await nav(page, 'Tenants');
      const tenants = page.getByTestId('tenants-table');
      await tenants.getByRole('link', { name: 'tenant-a' }).waitFor();
      await tenants.getByRole('link', { name: 'tenant-b' }).waitFor();
      await shot(page, 'operator-tenants');
      // Editing a tenant's name keeps the contact email the list does not show.
      await pulse.db.withOperator((tx) =>
        tx.query(`UPDATE tenants SET contact_email = 'ops@a.example' WHERE tenant_id = 'tenant-a'`),
      );
      await tenants
        .getByRole('row', { name: /tenant-a/ })
        .getByRole('button', { name: 'Edit' })
        .click();
      const form = page.getByRole('form', { name: 'Tenant' });
      await form.getByLabel('Name').fill('Tenant A renamed');
      await form.getByRole('button', { name: 'Save' }).click();
      await form.waitFor({ state: 'detached' });
      const { rows: edited } = await pulse.db.withOperator((tx) =>
        tx.query<{ name: string; contact_email: string | null }>(
          `SELECT name, contact_email FROM tenants WHERE tenant_id = 'tenant-a'`,
        ),
      );
      expect(edited).toEqual([{ name: 'Tenant A renamed', contact_email: 'ops@a.example' }]);
      await tenants.getByRole('link', { name: 'tenant-b' }).click();
      await page.getByRole('heading', { name: 'Tenant tenant-b' }).waitFor();
      await shot(page, 'operator-tenant-detail');
      for (const [label, name] of [
        ['All devices', 'operator-devices'],
        ['Quarantine', 'operator-quarantine'],
        ['System', 'operator-system'],
        ['Settings', 'operator-settings'],
      ] as const) {
        await nav(page, label);
        await page.waitForLoadState('networkidle');
        await shot(page, name);
      }
      // Operators see every tenant's silences.
      await nav(page, 'Silences');
      const silencesTable = page.getByTestId('silences-table');
      await silencesTable.getByText('firmware rollout').waitFor();
      await silencesTable.getByRole('link', { name: 'tenant-a' }).waitFor();
      expect(await page.getByRole('button', { name: 'New silence' }).count()).toBe(0);
      await nav(page, 'Settings');
      // The dark theme, kept across the reload it triggers.
      await page.getByRole('button', { name: 'Switch to dark theme' }).click();
      await page.getByRole('button', { name: 'Switch to light theme' }).waitFor();
      expect(await page.evaluate('document.documentElement.classList.contains("dark")')).toBe(true);
      await page.getByRole('heading', { name: 'Settings', exact: true }).waitFor();
      await shot(page, 'operator-settings-dark');
      await nav(page, 'Audit log');
      // Changes first (the tenant edit above), with how they ended; every read one click away.
      const audit = page.getByTestId('audit-table');
      await audit
        .getByRole('row', { name: /update_tenant/ })
        .getByText('ok')
        .first()
        .waitFor();
      expect(await audit.getByText('list_all_devices').count()).toBe(0);
      // (The box follows the URL: click, then wait for the rows it brings.)
      await page.getByLabel('Changes only').click();
      await audit.getByText('list_all_devices').first().waitFor();
      // The filter is in the URL: a reload (or a shared link) shows the same entries.
      expect(new URL(page.url()).searchParams.get('changes')).toBe('all');
      await page.reload();
      await audit.getByText('list_all_devices').first().waitFor();
      expect(await page.getByLabel('Changes only').isChecked()).toBe(false);
      await shot(page, 'operator-audit');

      const operator = await signIn('web-operator');
      expect(await operator.getByRole('link', { name: 'Audit log' }).count()).toBe(0);
      await operator.goto(`${origin}/app/operator/audit`);
      await operator.getByText('Not available for your role').waitFor();
      // It says who the page is for: operator admins, not "customers".
      await operator.getByText('This page is for operator admins (operator_admin); your role is operator.').waitFor();
    },
  );
  it(
    "a customer admin retries a failed notification, follows the alert's timeline, notes and acknowledges it, bulk-acknowledges, edits a route and reads the audit log",
    { timeout: 120_000 },
    async () => {
      const token = await tokenFor(pulse, { username: 'web-admin', role: 'customer_admin', tenantId: 'tenant-a' });
      const call = (path: string, method = 'GET', json?: unknown) =>
        pulse.call(path, { admin: false, method, headers: bearer(token), ...(json !== undefined && { json }) });
      const hook = await call('/customer/integrations', 'POST', { name: 'flaky hook', webhook_url: flaky.url });
      const route = await call('/customer/integration-routes', 'POST', {
        integration_id: hook.body.integration_id,
        name: 'story',
        device_prefixes: ['story-'],
      });
      expect(route.status).toBe(200);
      const alertId = await seedAlert(pulse.db, { tenantId: 'tenant-a', deviceId: 'story-1' });
      pulse.bus.publish('alert.changed', {
        event: 'OPENED',
        alert_id: alertId,
        tenant_id: 'tenant-a',
        fingerprint: 'x',
      });
      await waitFor(
        async () =>
          (await call('/customer/deliveries?status=FAILED')).body.jobs.some((j: any) => j.alert_id === alertId),
        20_000,
      );

      const page = await signIn('web-admin');
      await nav(page, 'Deliveries');
      await page.getByLabel('Status').selectOption('FAILED');
      // The alert's notifications through the flaky hook (the first test's route sends them elsewhere too).
      const flakyRow = () =>
        page
          .getByTestId('deliveries-table')
          .locator('tbody tr')
          .filter({ hasText: `#${alertId} ` })
          .filter({ hasText: 'flaky hook' });
      await flakyRow().getByText('HTTP 500').waitFor();
      await shot(page, 'customer-deliveries');
      flakyAnswer = 200;
      await flakyRow().getByRole('button', { name: 'Retry now' }).click();
      await page.getByLabel('Status').selectOption('COMPLETED');
      await flakyRow().getByText('COMPLETED').waitFor({ timeout: 15_000 });
      expect(flaky.received.filter((r) => r.json?.alert_id === alertId)).toHaveLength(3);

      // The alert's page tells its story, attempts included; a note and the acknowledgement join it.
      await flakyRow()
        .getByRole('link', { name: new RegExp(`#${alertId} `) })
        .click();
      await page.getByRole('heading', { level: 1, name: `Alert #${alertId}` }).waitFor();
      const timeline = page.getByTestId('alert-timeline');
      await timeline.getByText('OPEN to flaky hook, attempt 3: sent (HTTP 200)').waitFor();
      expect(await timeline.locator('[data-kind="NOTIFY_FAILED"]').count()).toBe(2);
      await page.getByLabel('Note', { exact: true }).fill('Crew dispatched');
      await page.getByRole('button', { name: 'Add note' }).click();
      await timeline.getByText('web-admin: Crew dispatched').waitFor();
      // A long note, one unbroken word even, wraps inside the page.
      await page.getByLabel('Note', { exact: true }).fill('x'.repeat(3000));
      await page.getByRole('button', { name: 'Add note' }).click();
      await timeline.getByText(`web-admin: ${'x'.repeat(3000)}`).waitFor();
      expect(await overflows(page)).toBe(false);
      await page.getByRole('button', { name: 'Acknowledge' }).click();
      await timeline.getByText('Acknowledged by web-admin').waitFor();
      await shot(page, 'customer-alert-detail');

      // The integration shows its last attempts.
      await nav(page, 'Integrations');
      await page
        .getByTestId('integrations-table')
        .getByRole('row', { name: /flaky hook/ })
        .getByRole('button', { name: 'Attempts' })
        .click();
      await page.getByRole('region', { name: 'Last attempts of flaky hook' }).getByTestId('attempts-table').waitFor();
      expect(await page.getByTestId('attempts-table').locator('tbody tr').count()).toBe(3);

      // Two alerts acknowledged at once.
      const more = [
        await seedAlert(pulse.db, { tenantId: 'tenant-a', deviceId: 'story-2' }),
        await seedAlert(pulse.db, { tenantId: 'tenant-a', deviceId: 'story-3' }),
      ];
      await nav(page, 'Alerts');
      for (const id of more) await page.getByLabel(`Select alert ${id}`).check();
      await page.getByRole('region', { name: 'Selected alerts' }).getByText('2 selected').waitFor();
      await page.getByRole('button', { name: 'Acknowledge selected' }).click();
      await page.getByRole('region', { name: 'Selected alerts' }).waitFor({ state: 'detached' });
      for (const id of more) {
        expect((await call(`/customer/alerts/${id}`)).body.alert).toMatchObject({
          status: 'ACKNOWLEDGED',
          acknowledged_by: 'web-admin',
        });
      }

      // A route edited in place: it now repeats what nobody acknowledges.
      await nav(page, 'Routes');
      await page
        .getByTestId('routes-table')
        .getByRole('row', { name: /story/ })
        .getByRole('button', { name: 'Edit' })
        .click();
      const routeForm = page.getByRole('form', { name: 'Route' });
      expect(await routeForm.getByLabel('Device id prefixes').inputValue()).toBe('story-');
      await routeForm.getByLabel('Repeat every (minutes)').fill('5');
      await routeForm.getByLabel('Escalation 1 after minutes').fill('15');
      await routeForm.getByLabel('Escalation 1 integration').selectOption({ label: 'flaky hook (webhook)' });
      await routeForm.getByRole('button', { name: 'Save route' }).click();
      await page.getByTestId('routes-table').getByText('repeat every 5 min · escalate after 15 min').waitFor();

      // Every change above is on the tenant's record.
      await nav(page, 'Audit log');
      const audit = page.getByTestId('customer-audit-table');
      await audit.getByText('POST /customer/deliveries/:job_id/retry').waitFor();
      await audit.getByText('PATCH /customer/integration-routes/:route_id').waitFor();
      await audit.getByText('POST /customer/alerts/bulk').waitFor();
      await shot(page, 'customer-audit');
      await page.context().close();
    },
  );

  it(
    'every page fits a phone (390 × 844) and a desktop (1440 × 900), in light and dark theme; all are saved',
    { timeout: 240_000 },
    async () => {
      const overflowing: string[] = [];
      for (const username of ['web-admin', 'web-op-admin']) {
        for (const [width, height] of [
          [390, 844],
          [1440, 900],
        ] as const) {
          for (const dark of [false, true]) {
            const page = await signIn(username, { width, height, dark });
            const phone = width < 768;
            const menu = page.getByRole('button', { name: 'Menu' });
            const nav = page.getByRole('navigation', { name: 'Main' });
            // On a phone the navigation is a drawer behind the Menu button.
            if (phone) expect(await nav.isVisible()).toBe(false);
            const labels = phone
              ? (await menu.click(), await nav.getByRole('link').allTextContents())
              : await nav.getByRole('link').allTextContents();
            // The drawer closes on a tap beside it.
            if (phone) await page.mouse.click(width - 10, height / 2);
            for (const label of labels) {
              if (phone) await menu.click();
              const before = await page.title();
              await nav.getByRole('link', { name: label, exact: true }).click();
              // Each page names itself in the title: wait for the new one before saving it.
              if (label !== labels[0]) await waitInPage(page, `document.title !== ${JSON.stringify(before)}`);
              await page.getByRole('heading', { level: 1 }).first().waitFor();
              const name = `${username}-${label.toLowerCase().replace(/\W+/g, '-')}-${width}-${dark ? 'dark' : 'light'}`;
              await shot(page, name);
              if (await overflows(page)) {
                overflowing.push(name);
              }
            }
            if (username === 'web-admin') {
              // A device's page, reached through the list.
              if (phone) await menu.click();
              await nav.getByRole('link', { name: 'Devices', exact: true }).click();
              await page.getByTestId('devices-table').getByRole('link', { name: 'dev-0001' }).click();
              await page.getByRole('heading', { level: 1, name: 'Device dev-0001' }).waitFor();
              await page.getByTestId('resolution').waitFor();
              const name = `web-admin-device-detail-${width}-${dark ? 'dark' : 'light'}`;
              await shot(page, name);
              if (await overflows(page)) {
                overflowing.push(name);
              }
            }
            await page.context().close();
          }
        }
      }
      expect(overflowing).toEqual([]);
    },
  );
});
