// Issue 33 in Debian's Chromium against a real Pulse on PostgreSQL: a customer admin creates an API key on
// its page (the secret shown once), a script uses it, the list shows that use, and revoking it in the page
// refuses the script; a Slack integration made through the Integrations form sends its test message as
// Block Kit; the tenant's rejected messages show with the token replaced. Pages saved under
// test-results/screenshots/.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nav, shot, signIn } from '../helpers/browser.js';
import { launchChromium } from '../helpers/chromium.js';
import { tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { schemaProblems } from '../helpers/service-schemas.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'web-adopt';
const ADMIN = 'adopt-web-admin';
const LEAKED = 'tok-WebLeakedToken0123456789abcdef';

describe('API keys, native channels and rejected messages in Chromium', () => {
  let pulse: TestPlatform;
  let browser: Browser;
  let origin: string;
  let slack: Awaited<ReturnType<typeof startWebhookReceiver>>;

  beforeAll(async () => {
    slack = await startWebhookReceiver();
    pulse = await startTestPlatform('postgres', { SSRF_ALLOWLIST: '127.0.0.1', API_RATE_LIMIT: '100000', MODE: 'DEV' });
    origin = `http://localhost:${pulse.httpPort}`;
    await pulse.call('/operator/tenants', { json: { tenant_id: TENANT, name: TENANT } });
    await tokenFor(pulse, { username: ADMIN, role: 'customer_admin', tenantId: TENANT });
    await pulse.call('/api/admin/devices', { json: { tenant_id: TENANT, device_id: 'proto-7', site_id: 'lab' } });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await pulse?.close();
    await slack?.close();
  });

  it('an admin creates a key, sees its use, and revokes it; the script is refused', { timeout: 60_000 }, async () => {
    const page = await signIn(browser, origin, ADMIN, { path: '/' });
    await nav(page, 'API keys');
    const form = page.getByRole('form', { name: 'New API key' });
    await form.getByLabel('Name').fill('nightly-export');
    await form.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.getByTestId('secret-API key').textContent())!.trim();
    expect(secret).toMatch(/^pulse_/);
    const script = () =>
      fetch(`${pulse.base}/api/v2/devices`, { headers: { authorization: `Bearer ${secret}` } }).then((r) => r.status);
    expect(await script()).toBe(200);

    await page.reload();
    const row = page.getByTestId('api-keys-table').locator('tbody tr').filter({ hasText: 'nightly-export' });
    await row.getByText(/from 127\.0\.0\.1/).waitFor();
    expect(await row.textContent()).not.toContain(secret.slice(14));
    await shot(page, 'customer-api-keys');
    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByText('REVOKED').waitFor();
    expect(await script()).toBe(401);
  });

  it('a Slack integration made through the form sends its test as Block Kit', { timeout: 60_000 }, async () => {
    const page = await signIn(browser, origin, ADMIN, { path: '/integrations' });
    await page.getByRole('button', { name: 'New integration' }).click();
    const dialog = page.getByRole('form', { name: 'New integration' });
    await dialog.getByRole('tab', { name: 'Slack' }).click();
    await dialog.getByLabel('Name').fill('ops channel');
    await dialog.getByLabel('Incoming webhook URL').fill(`${slack.url}/services/T1/B1/secretpart`);
    await dialog.getByRole('button', { name: 'Create Slack' }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.getByTestId('integrations-table').locator('tbody tr').filter({ hasText: 'ops channel' });
    expect(await row.textContent()).not.toContain('secretpart');
    await row.getByRole('button', { name: 'Test' }).click();
    await page
      .getByRole('status')
      .getByText(/sent in \d+ ms/)
      .waitFor();
    expect(slack.received).toHaveLength(1);
    expect(schemaProblems('slack', slack.received[0]!.json)).toEqual([]);
    await shot(page, 'customer-integrations-slack');
  });

  it("the tenant's rejected messages show with the token replaced", { timeout: 60_000 }, async () => {
    await pulse.call(`/ingest/v1/tenant/${TENANT}/device/proto-7/telemetry`, {
      admin: false,
      headers: { 'x-provision-token': LEAKED },
      json: { site_id: 'lab', provision_token: LEAKED, metrics: { temp_c: 19 } },
    });
    await waitFor(async () => {
      const { rows } = await pulse.db.withOperator((tx) =>
        tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM quarantine_events WHERE device_id = 'proto-7'`),
      );
      return rows[0]!.n >= 1;
    }, 10_000);
    const page = await signIn(browser, origin, ADMIN, { path: '/' });
    await nav(page, 'Rejected messages');
    const row = page.getByTestId('quarantine-table').locator('tbody tr').filter({ hasText: 'proto-7' }).first();
    await row.getByText('Show').click();
    const payload = await row.getByTestId('quarantine-payload').textContent();
    expect(payload).toContain('"temp_c": 19');
    expect(payload).toContain('[REDACTED]');
    expect(payload).not.toContain(LEAKED);
    await shot(page, 'customer-rejected-messages');
  });
});
