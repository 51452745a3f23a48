// Firmware in the web app (issue 30), in Debian's Chromium against a real Pulse (PostgreSQL, the built-in
// issuer, the embedded broker) whose device speaks the documented protocol over MQTT: a customer admin
// uploads an image through the page (a duplicate version and one over FIRMWARE_MAX_BYTES are refused in the
// server's words), starts a firmware job for one device from the job form, and follows the device through
// every step it reports to the new version on its page; images are deleted after a confirmation; a viewer
// sees the list with no control to act; the pages fit a phone. Pages are saved under test-results/screenshots/.
import { createHash, randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overflows, shot, signIn as signInAs, type SignInOptions } from '../helpers/browser.js';
import { launchChromium } from '../helpers/chromium.js';
import { TestDevice } from '../helpers/command-device.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { provisionDevices } from '../helpers/provision.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'web-fw';
const ADMIN = 'fw-web-admin';
const VIEWER = 'fw-web-viewer';
const DEVICE = 'gw-1';
const MAX_BYTES = 1024 * 1024;
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1440, height: 900 };
const IMAGE = randomBytes(600 * 1024);
const IMAGE_SHA256 = createHash('sha256').update(IMAGE).digest('hex');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('firmware images and updates in Chromium', () => {
  let pulse: TestPlatform;
  let browser: Browser;
  let origin: string;
  let device: TestDevice;
  const users: Record<string, string> = {};
  const call = callerFor(() => pulse, users);
  /** Set by the job test, read by the viewer's and the layout's. */
  let jobPath = '';

  beforeAll(async () => {
    pulse = await startTestPlatform(
      'postgres',
      { COMMAND_SWEEP_SECONDS: '1', API_RATE_LIMIT: '100000', FIRMWARE_MAX_BYTES: String(MAX_BYTES) },
      undefined,
      { embeddedBroker: true },
    );
    origin = `http://localhost:${pulse.httpPort}`;
    await pulse.call('/operator/tenants', { json: { tenant_id: TENANT, name: TENANT } });
    // Registered on 1.0.0 (changing a device later would end its MQTT session: it logs in again).
    const registered = [{ tenant_id: TENANT, device_id: DEVICE, site_id: 'lab', fw_version: '1.0.0' }];
    const tokens = await provisionDevices(pulse.base, TEST_ADMIN_KEY, registered);
    // No automatic answers: the test plays each step of the update itself.
    device = new TestDevice(pulse.mqttUrl!, TENANT, DEVICE, tokens.get(`${TENANT}/${DEVICE}`)!);
    await device.connect();
    users.admin = await tokenFor(pulse, { username: ADMIN, role: 'customer_admin', tenantId: TENANT });
    await tokenFor(pulse, { username: VIEWER, role: 'customer_viewer', tenantId: TENANT });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await device?.disconnect();
    await pulse?.close();
  });

  const signIn = (username: string, options: SignInOptions) => signInAs(browser, origin, username, options);
  const row = (page: Page, table: string, text: string) =>
    page.getByTestId(table).locator('tbody tr').filter({ hasText: text });
  const expectFits = async (page: Page, name: string) => {
    await shot(page, name);
    expect(await overflows(page), `${name} is wider than the window`).toBe(false);
  };
  /** Fills the upload form with `bytes` as `filename` and sends it. */
  const uploadThroughPage = async (page: Page, file: { name: string; bytes: Buffer; version: string }) => {
    await page.getByRole('button', { name: 'Upload image' }).click();
    const form = page.getByRole('form', { name: 'Upload firmware' });
    await form
      .getByLabel('Image file')
      .setInputFiles({ name: file.name, mimeType: 'application/octet-stream', buffer: file.bytes });
    await form.getByLabel('Version').fill(file.version);
    await form.getByRole('button', { name: 'Upload' }).click();
    return form;
  };

  it(
    'an admin uploads an image through the page and sees it listed; a duplicate and an image too large are refused in the server’s words',
    { timeout: 60_000 },
    async () => {
      const page = await signIn(ADMIN, { ...DESKTOP, path: '/firmware' });
      await page.getByRole('heading', { level: 1, name: 'Firmware' }).waitFor();
      await page.getByText('No firmware images yet: upload one.').waitFor();
      const form = await uploadThroughPage(page, { name: 'gw-2.0.0.bin', bytes: IMAGE, version: '2.0.0' });
      await form.waitFor({ state: 'detached' });
      const listed = row(page, 'firmware-table', '2.0.0');
      await listed.waitFor();
      for (const text of ['every model', 'gw-2.0.0.bin', '600 KiB', IMAGE_SHA256.slice(0, 12), `by ${ADMIN}`])
        await listed.getByText(text).waitFor();
      expect(await listed.getByTestId('sha256').getAttribute('title')).toBe(IMAGE_SHA256);
      await listed.getByRole('button', { name: 'Copy SHA-256 of 2.0.0' }).waitFor();
      await shot(page, 'firmware-list-1440');

      // The same version again: 409, said as the server says it, and nothing more is listed.
      const duplicate = await uploadThroughPage(page, {
        name: 'again.bin',
        bytes: randomBytes(1024),
        version: '2.0.0',
      });
      await duplicate.getByRole('alert').getByText('Firmware 2.0.0 for every model exists already').waitFor();
      await page.getByRole('button', { name: 'Close' }).click();
      // Over FIRMWARE_MAX_BYTES: 413, and nothing stored.
      const large = await uploadThroughPage(page, {
        name: 'huge.bin',
        bytes: randomBytes(MAX_BYTES + 512 * 1024),
        version: '3.0.0',
      });
      await large.getByRole('alert').getByText(`The image is larger than ${MAX_BYTES} bytes`).waitFor();
      await shot(page, 'firmware-too-large-1440');
      await page.getByRole('button', { name: 'Close' }).click();
      const { images } = (await call('admin', '/customer/firmware')).body;
      expect(images.map((image: { version: string; sha256: string }) => [image.version, image.sha256])).toEqual([
        ['2.0.0', IMAGE_SHA256],
      ]);
      await page.context().close();
    },
  );

  it(
    'an admin starts a firmware job from the form; the device downloads and checks the image, each step it reports shows, and it ends on the new version',
    { timeout: 90_000 },
    async () => {
      expect((await call('admin', `/api/v2/devices/${DEVICE}`)).body.device.fw_version).toBe('1.0.0');
      const page = await signIn(ADMIN, { ...DESKTOP, path: '/jobs' });
      await page.getByRole('button', { name: 'New job' }).click();
      const form = page.getByRole('form', { name: 'New job' });
      await form.getByLabel('Name').fill('Gateways to 2.0.0');
      await form.getByLabel('Kind').selectOption({ label: 'Firmware update' });
      expect(await form.getByRole('button', { name: 'Start job' }).isDisabled()).toBe(true);
      await form.getByLabel('Firmware image').selectOption({ label: '2.0.0 for every model · 600 KiB · gw-2.0.0.bin' });
      await form.getByRole('radio', { name: 'Device ids' }).check();
      await form.getByRole('textbox', { name: 'Device ids' }).fill(DEVICE);
      await form.locator('[data-testid=selection-count][data-settled=true]').waitFor();
      expect(await form.getByTestId('selection-count').textContent()).toBe('1');
      await shot(page, 'firmware-job-form-1440');
      await form.getByRole('button', { name: 'Start job' }).click();

      await page.getByRole('heading', { level: 1, name: 'Job Gateways to 2.0.0' }).waitFor();
      jobPath = new URL(page.url()).pathname.replace(/^\/app/, '');
      await page.getByText('firmware 2.0.0 for every model · 600 KiB').waitFor();
      await waitFor(() => device.commands().some((c) => c.name === 'firmware_update'), 15_000);
      const update = device.commands().find((c) => c.name === 'firmware_update')!;
      const params = update.params as { url: string; size: number; sha256: string; version: string };
      expect(params).toMatchObject({ version: '2.0.0', size: IMAGE.length, sha256: IMAGE_SHA256 });

      const step = row(page, 'executions-table', DEVICE).getByTestId('firmware-progress');
      const report = async (state: string, detail?: object) => {
        await device.reply('command_progress', { id: update.id, state, ...(detail && { detail }) });
        if (state !== 'UPDATED') await page.locator(`[data-testid=firmware-progress][data-step=${state}]`).waitFor();
      };
      await report('DOWNLOADING');
      const downloaded = await fetch(`${pulse.base}${params.url}`);
      expect(downloaded.status).toBe(200);
      const bytes = Buffer.from(await downloaded.arrayBuffer());
      await report('DOWNLOADED');
      expect(sha256(bytes)).toBe(params.sha256);
      await report('VERIFIED');
      await report('UPDATING');
      expect(await step.getByRole('img').getAttribute('aria-label')).toBe('Firmware update: UPDATING');
      await shot(page, 'firmware-job-updating-1440');
      await report('UPDATED', { fw_version: '2.0.0' });

      await page.getByTestId('job-state').getByText('COMPLETED').waitFor({ timeout: 15_000 });
      await step.and(page.locator('[data-step=UPDATED]')).waitFor();
      await row(page, 'executions-table', DEVICE).getByText('SUCCEEDED').waitFor();
      expect(await page.getByTestId('job-progress').getAttribute('aria-label')).toBe(
        '1 devices: 1 succeeded, 0 failed, 0 canceled, 0 in progress, 0 pending',
      );
      await shot(page, 'firmware-job-completed-1440');

      // The device's page: the new version, and the command's history reads as a firmware update.
      await row(page, 'executions-table', DEVICE).getByRole('link', { name: DEVICE }).click();
      await page.getByRole('heading', { level: 1, name: `Device ${DEVICE}` }).waitFor();
      expect(await page.getByTestId('device-firmware').textContent()).toBe('2.0.0');
      await page.getByRole('tab', { name: 'Commands' }).click();
      const command = row(page, 'commands-table', 'firmware_update');
      await command.getByText('2.0.0 for every model · 600 KiB').waitFor();
      await command.getByText('SUCCEEDED', { exact: true }).waitFor();
      await command.locator('[data-testid=firmware-progress][data-step=UPDATED]').waitFor();
      await command.getByText('Result').click();
      expect(await command.getByTestId('json-details').textContent()).toContain('"fw_version": "2.0.0"');
      await shot(page, 'firmware-device-commands-1440');
      await page.context().close();
    },
  );

  it(
    'a viewer sees the images, the job and the device’s update without any control to act',
    { timeout: 60_000 },
    async () => {
      const page = await signIn(VIEWER, { ...DESKTOP, path: '/firmware' });
      await row(page, 'firmware-table', '2.0.0').getByText('gw-2.0.0.bin').waitFor();
      expect(await page.getByRole('button', { name: 'Upload image' }).count()).toBe(0);
      expect(await page.getByRole('button', { name: /^Delete/ }).count()).toBe(0);
      await page.goto(`${origin}/app${jobPath}`);
      await page.getByTestId('job-state').getByText('COMPLETED').waitFor();
      await page.locator('[data-testid=firmware-progress][data-step=UPDATED]').waitFor();
      await page.goto(`${origin}/app/devices/${DEVICE}?tab=commands`);
      await row(page, 'commands-table', 'firmware_update').getByText('UPDATED').waitFor();
      expect(await page.getByTestId('device-firmware').textContent()).toBe('2.0.0');
      await page.context().close();
    },
  );

  it('an admin deletes an image only once the confirmation is accepted', { timeout: 60_000 }, async () => {
    const uploaded = await fetch(`${pulse.base}/customer/firmware?version=2.1.0-rc1&model=GW-9`, {
      method: 'POST',
      headers: { authorization: `Bearer ${users.admin}`, 'content-type': 'application/octet-stream' },
      body: randomBytes(2048),
    });
    expect(uploaded.status).toBe(201);
    const page = await signIn(ADMIN, { ...DESKTOP, path: '/firmware' });
    const candidate = row(page, 'firmware-table', '2.1.0-rc1');
    await candidate.getByText('GW-9').waitFor();
    const confirmations: string[] = [];
    page.once('dialog', (dialog) => {
      confirmations.push(dialog.message());
      void dialog.dismiss();
    });
    await candidate.getByRole('button', { name: 'Delete 2.1.0-rc1' }).click();
    await waitFor(() => confirmations.length === 1);
    expect(confirmations[0]).toContain('Delete firmware 2.1.0-rc1 for GW-9?');
    expect(await candidate.count()).toBe(1);
    page.once('dialog', (dialog) => void dialog.accept());
    await candidate.getByRole('button', { name: 'Delete 2.1.0-rc1' }).click();
    await candidate.waitFor({ state: 'detached' });
    await row(page, 'firmware-table', '2.0.0').waitFor();
    const { images } = (await call('admin', '/customer/firmware')).body;
    expect(images.map((image: { version: string }) => image.version)).toEqual(['2.0.0']);
    await page.context().close();
  });

  it(
    'the firmware, job and device pages fit a phone (390 px) and a desktop (1440 px)',
    { timeout: 120_000 },
    async () => {
      for (const [size, label] of [
        [PHONE, '390'],
        [DESKTOP, '1440'],
      ] as const) {
        for (const username of [ADMIN, VIEWER]) {
          const who = username === ADMIN ? 'admin' : 'viewer';
          const page = await signIn(username, { ...size, path: '/firmware' });
          await row(page, 'firmware-table', '2.0.0').waitFor();
          await expectFits(page, `firmware-${who}-${label}`);
          if (username === ADMIN) {
            await page.getByRole('button', { name: 'Upload image' }).click();
            await page.getByRole('form', { name: 'Upload firmware' }).waitFor();
            await expectFits(page, `firmware-upload-${label}`);
            await page.getByRole('button', { name: 'Close' }).click();
            await page.goto(`${origin}/app/jobs`);
            await page.getByRole('button', { name: 'New job' }).click();
            const form = page.getByRole('form', { name: 'New job' });
            await form.getByLabel('Kind').selectOption({ label: 'Firmware update' });
            await form.getByLabel('Firmware image').selectOption({ index: 1 });
            await expectFits(page, `firmware-job-form-${label}`);
            await page.getByRole('button', { name: 'Close' }).click();
          }
          await page.goto(`${origin}/app${jobPath}`);
          await page.getByTestId('job-state').getByText('COMPLETED').waitFor();
          await expectFits(page, `firmware-job-${who}-${label}`);
          await page.goto(`${origin}/app/devices/${DEVICE}?tab=commands`);
          await row(page, 'commands-table', 'firmware_update').waitFor();
          await expectFits(page, `firmware-device-${who}-${label}`);
          await page.context().close();
        }
      }
    },
  );
});
