// The web app's request budget and sign-in addresses in Debian's Chromium against a real Pulse (PostgreSQL,
// the built-in issuer): a dashboard, the alerts page and the devices page open for a minute of live alert
// traffic stay far below the per-user limit and still show the changes; a 429 pauses a tab visibly until
// Retry-After; signing in works from 127.0.0.1 as from localhost, and an address the issuer does not know
// says which one to open.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, TEST_PASSWORD, tokenFor } from '../helpers/identity.js';
import { seedAlert, seedDevice } from '../helpers/seed.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

const USER = 'budget-admin';
const TENANT = 'tenant-budget';
/** A name Chromium resolves to 127.0.0.1 (see launch): an address the server answers on but was not told of. */
const UNKNOWN_HOST = 'pulse-elsewhere.test';
const MEASURE_MS = 60_000;
/** The default API_RATE_LIMIT is 100 a minute: three pages of one user must leave most of it unused. */
const BUDGET_PER_MINUTE = 30;

describe('web app request budget and sign-in addresses in Chromium', () => {
  let pulse: TestPlatform;
  let browser: Browser;
  let token: string;

  beforeAll(async () => {
    pulse = await startTestPlatform('postgres', { API_RATE_LIMIT: '100', API_RATE_WINDOW_SECONDS: '60' }, ['api']);
    for (let i = 1; i <= 6; i += 1) await seedDevice(pulse.db, TENANT, `dev-${i}`);
    token = await tokenFor(pulse, { username: USER, role: 'customer_admin', tenantId: TENANT });
    browser = await launchChromium([`--host-resolver-rules=MAP ${UNKNOWN_HOST} 127.0.0.1`]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await pulse?.close();
  });

  /** Opens `path` in a new tab of `context` and signs in (with the password the first time only). */
  async function open(context: BrowserContext, origin: string, path: string, heading: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error('page error:', error.message));
    await page.goto(`${origin}/app${path}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const form = page.getByLabel('Username');
    await Promise.race([
      form.waitFor().then(async () => {
        await form.fill(USER);
        await page.getByLabel('Password').fill(TEST_PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
      }),
      page.getByTestId('whoami').waitFor(),
    ]);
    await page.getByTestId('whoami').waitFor();
    await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor();
    return page;
  }

  const isLimited = (url: string) => /^\/(api\/v2|customer)\//.test(new URL(url).pathname) && !url.includes('/ws');

  /** Alert changes as the evaluator makes them: many UPDATED, now and then an OPENED or a CLOSED. */
  function startAlertTraffic() {
    const open: number[] = [];
    let tick = 0;
    let busy = false;
    const timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      tick += 1;
      try {
        if (tick % 12 === 1) {
          const alertId = await seedAlert(pulse.db, { tenantId: TENANT, deviceId: `dev-${(tick % 6) + 1}` });
          open.push(alertId);
          pulse.bus.publish('alert.changed', {
            event: 'OPENED',
            alert_id: alertId,
            tenant_id: TENANT,
            fingerprint: '',
          });
        } else if (tick % 20 === 0 && open.length > 1) {
          const alertId = open.shift()!;
          await pulse.db.withService((tx) =>
            tx.query(`UPDATE fleet_alert SET status = 'CLOSED', closed_at = now() WHERE id = $1`, [alertId]),
          );
          pulse.bus.publish('alert.changed', {
            event: 'CLOSED',
            alert_id: alertId,
            tenant_id: TENANT,
            fingerprint: '',
          });
        } else {
          for (const alertId of open) {
            pulse.bus.publish('alert.changed', {
              event: 'UPDATED',
              alert_id: alertId,
              tenant_id: TENANT,
              fingerprint: '',
            });
          }
        }
      } finally {
        busy = false;
      }
    }, 500);
    return { open, stop: () => clearInterval(timer) };
  }

  const openAlertCount = async () =>
    (await pulse.call('/customer/alerts?status=OPEN&limit=1', { admin: false, headers: bearer(token) })).body
      .total as number;

  it(
    'a dashboard, the alerts page and the devices page under a minute of live alert traffic stay far below the limit and show the changes',
    { timeout: 180_000 },
    async () => {
      const origin = `http://localhost:${pulse.httpPort}`;
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const dashboard = await open(context, origin, '/', 'Dashboard');
      const alerts = await open(context, origin, '/alerts', 'Alerts');
      await open(context, origin, '/devices', 'Devices');
      for (const page of context.pages()) {
        await page.getByTestId('live-status').and(page.locator('[data-status="live"]')).waitFor({ timeout: 15_000 });
      }

      let requests = 0;
      let limited = 0;
      context.on('request', (request) => void (isLimited(request.url()) && (requests += 1)));
      context.on('response', (response) => void (response.status() === 429 && (limited += 1)));
      const traffic = startAlertTraffic();
      await dashboard.waitForTimeout(MEASURE_MS);
      traffic.stop();
      const perMinute = Math.round((requests * 60_000) / MEASURE_MS);
      console.log(
        `web app API calls: ${perMinute}/min for a dashboard + alerts + devices tab (${limited} answered 429)`,
      );
      expect(limited).toBe(0);
      expect(perMinute).toBeLessThanOrEqual(BUDGET_PER_MINUTE);

      // The views still follow the traffic: the alerts page lists every open alert, the dashboard counts them.
      const openNow = await openAlertCount();
      expect(openNow).toBeGreaterThan(1);
      await alerts
        .getByTestId('alerts-table')
        .locator('tbody tr')
        .nth(openNow - 1)
        .waitFor({ timeout: 15_000 });
      expect(await alerts.getByTestId('alerts-table').locator('tbody tr').count()).toBe(openNow);
      await dashboard
        .getByTestId('fleet-counts')
        .getByText('Open alerts')
        .locator('..')
        .getByText(String(openNow), { exact: true })
        .waitFor({ timeout: 15_000 });
      await context.close();
    },
  );

  it(
    'a tab answered 429 says it is paused until Retry-After and that its data is stale, then recovers',
    {
      timeout: 180_000,
    },
    async () => {
      const origin = `http://localhost:${pulse.httpPort}`;
      const context = await browser.newContext();
      const page = await open(context, origin, '/devices', 'Devices');
      const status = page.getByTestId('live-status');
      await status.and(page.locator('[data-status="live"]')).waitFor({ timeout: 15_000 });
      // The same user through the same client spends the budget from elsewhere and keeps it spent.
      let spending = true;
      const spend = (async () => {
        while (spending) {
          await pulse.call('/api/v2/alert-rules', { admin: false, headers: bearer(token) });
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      try {
        // The page asks again on its own schedule: on a busy machine that can take longer than half a minute.
        await status.and(page.locator('[data-status="paused"]')).waitFor({ timeout: 75_000 });
        expect(await status.textContent()).toMatch(/Stale · paused — retrying in \d+ s/);
      } finally {
        spending = false;
        await spend;
      }
      await status.and(page.locator('[data-status="live"]')).waitFor({ timeout: 70_000 });
      await context.close();
    },
  );

  it('signing in from http://127.0.0.1 lands on the dashboard', { timeout: 60_000 }, async () => {
    const context = await browser.newContext();
    const page = await open(context, `http://127.0.0.1:${pulse.httpPort}`, '/', 'Dashboard');
    expect(new URL(page.url()).origin).toBe(`http://127.0.0.1:${pulse.httpPort}`);
    expect(await page.getByTestId('whoami').textContent()).toContain(USER);
    await context.close();
  });

  it('an address the issuer does not know says which address to open', { timeout: 60_000 }, async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://${UNKNOWN_HOST}:${pulse.httpPort}/app/`);
    const message = page.getByRole('alert');
    await message.waitFor();
    expect(await message.textContent()).toContain(`http://localhost:${pulse.httpPort}/app/`);
    await message.getByRole('link', { name: `http://localhost:${pulse.httpPort}/app/` }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(new URL(page.url()).host).toBe(`localhost:${pulse.httpPort}`);
    await context.close();
  });
});
