// Commands, desired configuration and fleet jobs in the web app (issue 30), in Debian's Chromium against a
// real Pulse (PostgreSQL, the built-in issuer, the embedded broker) whose devices speak the documented
// protocol over MQTT: a customer admin sends a command and reads its answer, saves and removes a template,
// cancels a command an offline device never got, replaces a desired configuration and watches it go out
// of sync and back, and starts a job whose devices are counted while chosen; a viewer sees all of it with
// no control to act; the pages fit a phone. Pages are saved under test-results/screenshots/.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overflows, shot, signIn as signInAs, waitInPage, type SignInOptions } from '../helpers/browser.js';
import { launchChromium } from '../helpers/chromium.js';
import { TestDevice } from '../helpers/command-device.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { provisionDevices } from '../helpers/provision.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'web-cmd';
const ADMIN = 'cmd-web-admin';
const VIEWER = 'cmd-web-viewer';
const FLEET = ['fleet-01', 'fleet-02', 'fleet-03', 'fleet-04', 'fleet-05'];
/** The one fleet device that refuses every command. */
const BROKEN = 'fleet-05';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1440, height: 900 };

describe('commands, configuration and jobs in Chromium', () => {
  let pulse: TestPlatform;
  let browser: Browser;
  let origin: string;
  const devices: TestDevice[] = [];
  let pump: TestDevice;
  const users: Record<string, string> = {};
  const call = callerFor(() => pulse, users);
  /** Set by the job test, read by the viewer's. */
  let jobPath = '';

  beforeAll(async () => {
    pulse = await startTestPlatform('postgres', { COMMAND_SWEEP_SECONDS: '1', API_RATE_LIMIT: '100000' }, undefined, {
      embeddedBroker: true,
    });
    origin = `http://localhost:${pulse.httpPort}`;
    await pulse.call('/operator/tenants', { json: { tenant_id: TENANT, name: TENANT } });
    const tokens = await provisionDevices(pulse.base, TEST_ADMIN_KEY, [
      { tenant_id: TENANT, device_id: 'pump-1', site_id: 'lab' },
      { tenant_id: TENANT, device_id: 'pump-2', site_id: 'lab' },
      ...FLEET.map((device_id) => ({ tenant_id: TENANT, device_id, site_id: 'plant' })),
    ]);
    const connect = async (deviceId: string, answer: ConstructorParameters<typeof TestDevice>[4]) => {
      const device = new TestDevice(pulse.mqttUrl!, TENANT, deviceId, tokens.get(`${TENANT}/${deviceId}`)!, answer);
      await device.connect();
      devices.push(device);
      return device;
    };
    // pump-2 never connects: what is sent to it waits QUEUED.
    pump = await connect('pump-1', (command) => ({ status: 'SUCCEEDED', result: { echo: command.params } }));
    for (const deviceId of FLEET)
      await connect(deviceId, () =>
        deviceId === BROKEN
          ? { status: 'FAILED', error: 'battery too low' }
          : { status: 'SUCCEEDED', result: { rebooted: true } },
      );
    users.admin = await tokenFor(pulse, { username: ADMIN, role: 'customer_admin', tenantId: TENANT });
    await tokenFor(pulse, { username: VIEWER, role: 'customer_viewer', tenantId: TENANT });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    for (const device of devices) await device.disconnect();
    await pulse?.close();
  });

  const signIn = async (username: string, options: SignInOptions) => {
    const page = await signInAs(browser, origin, username, options);
    // Deleting a template and cancelling a job ask first.
    page.on('dialog', (dialog) => void dialog.accept());
    return page;
  };
  const row = (page: Page, table: string, text: string) =>
    page.getByTestId(table).locator('tbody tr').filter({ hasText: text });
  const expectFits = async (page: Page, name: string) => {
    await shot(page, name);
    expect(await overflows(page), `${name} is wider than the window`).toBe(false);
  };

  it(
    'an admin sends a command with parameters, waits for its answer and reads the result; templates are saved and removed',
    { timeout: 90_000 },
    async () => {
      const page = await signIn(ADMIN, { ...DESKTOP, path: '/devices/pump-1?tab=commands' });
      await page.getByRole('heading', { level: 1, name: 'Device pump-1' }).waitFor();
      expect(await page.getByRole('tab', { name: 'Commands' }).getAttribute('aria-selected')).toBe('true');
      const form = page.getByRole('form', { name: 'Send a command' });
      await form.getByLabel('Command').fill('echo');
      const params = form.getByLabel('Parameters (JSON)');
      // JSON that is not: said at once, and nothing can be sent.
      await params.fill('{"hello": }');
      await form
        .getByRole('alert')
        .getByText(/^Not valid JSON/)
        .waitFor();
      expect(await form.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
      await params.fill('{"hello": "world"}');
      expect(await form.getByRole('alert').count()).toBe(0);
      await form.getByLabel('Wait for the answer (s)').fill('10');
      await form.getByRole('button', { name: 'Send' }).click();
      await page.getByTestId('command-outcome').getByText('answered SUCCEEDED').waitFor();

      const sent = row(page, 'commands-table', 'echo');
      await sent.getByText('SUCCEEDED', { exact: true }).waitFor();
      for (const step of ['created', 'sent', 'delivered', 'succeeded'])
        await sent.getByText(step, { exact: true }).waitFor();
      await sent.getByText('Result').click();
      expect(await sent.getByTestId('json-details').textContent()).toContain('"hello": "world"');
      expect(pump.commands().map((c) => c.name)).toEqual(['echo']);
      await shot(page, 'commands-device-1440');

      // The typed command becomes a template; choosing it fills the form again; it can be removed.
      await form.getByLabel('Template label').fill('Echo hello');
      await form.getByRole('button', { name: 'Save as template' }).click();
      const templates = form.getByLabel('Template', { exact: true });
      await waitFor(async () => (await templates.locator('option:checked').textContent()) === 'Echo hello', 10_000);
      await form.getByLabel('Command').fill('');
      await params.fill('');
      await templates.selectOption({ label: '— type one —' });
      await templates.selectOption({ label: 'Echo hello' });
      expect(await form.getByLabel('Command').inputValue()).toBe('echo');
      expect(JSON.parse(await params.inputValue())).toEqual({ hello: 'world' });
      await form.getByRole('button', { name: 'Delete template' }).click();
      await waitFor(async () => (await templates.locator('option').count()) === 1, 10_000);
      expect((await call('admin', '/customer/command-templates')).body.templates).toEqual([]);
      await page.context().close();
    },
  );

  it(
    'an admin cancels a command that waits QUEUED for a device that is not connected',
    { timeout: 60_000 },
    async () => {
      const page = await signIn(ADMIN, { ...DESKTOP, path: '/devices/pump-2?tab=commands' });
      const form = page.getByRole('form', { name: 'Send a command' });
      await form.getByLabel('Command').fill('reboot');
      await form.getByRole('button', { name: 'Send' }).click();
      await page.getByTestId('command-outcome').getByText('is QUEUED').waitFor();
      const queued = row(page, 'commands-table', 'reboot');
      await queued.getByText('QUEUED', { exact: true }).waitFor();
      await queued.getByRole('button', { name: 'Cancel reboot' }).click();
      await queued.getByText('CANCELED', { exact: true }).waitFor();
      await queued.getByText('canceled', { exact: true }).waitFor();
      expect(await queued.getByRole('button', { name: 'Cancel reboot' }).count()).toBe(0);
      const listed = (await call('admin', '/customer/devices/pump-2/commands')).body.commands;
      expect(listed.map((c: { state: string }) => c.state)).toEqual(['CANCELED']);
      await page.context().close();
    },
  );

  it(
    'an admin replaces the desired configuration: out of sync, the differing key highlighted, in sync once applied',
    { timeout: 60_000 },
    async () => {
      const page = await signIn(ADMIN, { ...DESKTOP, path: '/devices/pump-1' });
      await page.getByRole('tab', { name: 'Configuration' }).click();
      await page.waitForURL(/\?tab=configuration$/);
      const state = page.getByTestId('config-state');
      await state.getByText('Connected for commands').waitFor();
      await state.getByText('In sync').waitFor();
      await page.getByText('Never set.').waitFor();

      await page.getByRole('button', { name: 'Edit desired configuration' }).click();
      const editor = page.getByRole('form', { name: 'Desired configuration' });
      const desired = editor.getByLabel('Desired (JSON object)');
      await desired.fill('[1]');
      await editor.getByRole('alert').getByText('Must be a JSON object').waitFor();
      await desired.fill('{"interval": 10, "mode": "eco"}');
      await editor.getByRole('button', { name: 'Save desired configuration' }).click();
      await state.getByText('Out of sync since').waitFor();
      expect(await state.getByTestId('delta').textContent()).toBe('interval, mode');
      await page.getByText(`by ${ADMIN}`).waitFor();

      // The device gets version 1, applies half of it and says so: only the other key still differs.
      await waitFor(() => pump.configs().some((config) => config.version === 1), 10_000);
      expect(pump.configs().at(-1)!.desired).toEqual({ interval: 10, mode: 'eco' });
      await pump.reply('config_reported', { version: 0, reported: { interval: 10, mode: 'normal' } });
      await page.getByTestId('reported').waitFor();
      await waitInPage(page, `document.querySelector('[data-testid=delta]')?.textContent === 'mode'`);
      const differing = await page.getByTestId('reported').locator('[data-differs]').allTextContents();
      expect(differing).toHaveLength(1);
      expect(differing[0]).toContain('"mode": "normal"');
      expect(await state.getByText('Out of sync since').count()).toBe(1);
      await shot(page, 'config-out-of-sync-1440');

      await pump.reply('config_reported', { version: 1, reported: { interval: 10, mode: 'eco' } });
      await state.getByText('In sync').waitFor();
      expect(await state.getByTestId('delta').count()).toBe(0);
      expect(await page.getByTestId('reported').locator('[data-differs]').count()).toBe(0);
      await page.getByText('Reported · version 1').waitFor();
      await page.context().close();
    },
  );

  it(
    'an admin starts a job over a live-counted selection and follows it to COMPLETED with each device’s outcome',
    { timeout: 90_000 },
    async () => {
      const page = await signIn(ADMIN, { ...DESKTOP, path: '/jobs' });
      await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
      await page.getByRole('button', { name: 'New job' }).click();
      const form = page.getByRole('form', { name: 'New job' });
      await form.getByLabel('Name').fill('Reboot plant');
      await form.getByRole('textbox', { name: 'Command' }).fill('reboot');
      // Counted by the server as the selection is typed.
      const count = form.getByTestId('selection-count');
      const settledCount = async () => {
        await form.locator('[data-testid=selection-count][data-settled=true]').waitFor();
        return count.textContent();
      };
      await form.getByRole('textbox', { name: 'Id prefix' }).fill('fleet-');
      expect(await settledCount()).toBe('5');
      expect(await form.getByTestId('selection-sample').textContent()).toBe(FLEET.join(', '));
      await form.getByRole('radio', { name: 'Device ids' }).check();
      await form.getByRole('textbox', { name: 'Device ids' }).fill('fleet-01 fleet-02\npump-1 nobody');
      expect(await settledCount()).toBe('3');
      await form.getByRole('radio', { name: 'Sites' }).check();
      await form.getByRole('textbox', { name: 'Sites' }).fill('plant');
      expect(await settledCount()).toBe('5');
      await form.getByLabel('Devices started per minute').fill('600');
      await form.getByLabel('At most in flight').fill('2');
      await shot(page, 'job-form-filled-1440');
      await form.getByRole('button', { name: 'Start job' }).click();

      await page.getByRole('heading', { level: 1, name: 'Job Reboot plant' }).waitFor();
      jobPath = new URL(page.url()).pathname.replace(/^\/app/, '');
      await page.getByTestId('job-state').getByText('COMPLETED').waitFor({ timeout: 30_000 });
      const progress = page.getByTestId('job-progress');
      expect(await progress.getAttribute('data-done')).toBe('5');
      expect(await progress.getAttribute('aria-label')).toBe(
        '5 devices: 4 succeeded, 1 failed, 0 canceled, 0 in progress, 0 pending',
      );
      await page.getByText('600 devices a minute · at most 2 in flight · 3600 s per device · never aborted').waitFor();
      const executions = page.getByTestId('executions-table').locator('tbody tr');
      await waitFor(async () => (await executions.count()) === 5, 10_000);
      await row(page, 'executions-table', 'fleet-01').getByText('SUCCEEDED').waitFor();
      await row(page, 'executions-table', 'fleet-01').getByText('Result').click();
      expect(await row(page, 'executions-table', 'fleet-01').getByTestId('json-details').textContent()).toContain(
        '"rebooted": true',
      );
      // The failed device alone, with its error; it can be retried.
      await page.getByLabel('Device state').selectOption('FAILED');
      await waitFor(async () => (await executions.count()) === 1, 10_000);
      await row(page, 'executions-table', BROKEN).getByText('battery too low').waitFor();
      await page.getByRole('button', { name: 'Retry 1 failed' }).waitFor();
      expect(await page.getByRole('button', { name: 'Cancel job' }).count()).toBe(0);
      await shot(page, 'job-detail-1440');

      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs', exact: true }).click();
      const listed = row(page, 'jobs-table', 'Reboot plant');
      await listed.getByText('COMPLETED').waitFor();
      expect(await listed.getByTestId('job-progress').getAttribute('data-done')).toBe('5');
      await page.context().close();
    },
  );

  it('a viewer sees commands, configuration and jobs without any control to act', { timeout: 60_000 }, async () => {
    const page = await signIn(VIEWER, { ...DESKTOP, path: '/devices/pump-1?tab=commands' });
    await row(page, 'commands-table', 'echo').getByText('SUCCEEDED', { exact: true }).waitFor();
    expect(await page.getByRole('form', { name: 'Send a command' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Cancel/ }).count()).toBe(0);

    await page.getByRole('tab', { name: 'Configuration' }).click();
    await page.getByTestId('config-state').getByText('In sync').waitFor();
    expect(await page.getByTestId('desired').textContent()).toContain('"mode": "eco"');
    expect(await page.getByRole('button', { name: 'Edit desired configuration' }).count()).toBe(0);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs', exact: true }).click();
    await row(page, 'jobs-table', 'Reboot plant').getByRole('link').click();
    await page.getByTestId('job-state').getByText('COMPLETED').waitFor();
    await page.getByTestId('executions-table').getByText(BROKEN).waitFor();
    expect(await page.getByRole('button', { name: 'New job' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^(Cancel job|Retry)/ }).count()).toBe(0);
    await page.context().close();
  });

  it('the device, jobs and job pages fit a phone (390 px) and a desktop (1440 px)', { timeout: 120_000 }, async () => {
    for (const [size, label] of [
      [PHONE, '390'],
      [DESKTOP, '1440'],
    ] as const) {
      for (const username of [ADMIN, VIEWER]) {
        const who = username === ADMIN ? 'admin' : 'viewer';
        const page = await signIn(username, { ...size, path: '/devices/pump-1?tab=commands' });
        await row(page, 'commands-table', 'echo').waitFor();
        await expectFits(page, `commands-${who}-${label}`);
        await page.getByRole('tab', { name: 'Configuration' }).click();
        await page.getByTestId('config-state').waitFor();
        await expectFits(page, `config-${who}-${label}`);
        await page.goto(`${origin}/app/jobs`);
        await row(page, 'jobs-table', 'Reboot plant').waitFor();
        await expectFits(page, `jobs-${who}-${label}`);
        if (username === ADMIN) {
          await page.getByRole('button', { name: 'New job' }).click();
          await page.getByRole('form', { name: 'New job' }).getByRole('textbox', { name: 'Id prefix' }).fill('fleet-');
          await page.getByTestId('selection-count').waitFor();
          await expectFits(page, `job-form-${label}`);
          await page.getByRole('button', { name: 'Close' }).click();
        }
        await page.goto(`${origin}/app${jobPath}`);
        await page.getByTestId('job-state').getByText('COMPLETED').waitFor();
        await expectFits(page, `job-detail-${who}-${label}`);
        await page.context().close();
      }
    }
  });
});
