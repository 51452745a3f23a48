// Dashboards customers build (issue 32) in Debian's Chromium against a real Pulse with seeded readings: an
// admin builds a dashboard with every widget type, moves and resizes widgets (react-grid-layout), sets a
// variable and a range, reloads (all kept, from the URL and the saved layout), edits widgets through
// their forms at 1440 px and on a phone, exports, deletes and imports
// it; an absolute range and a refresh are kept; a viewer on a phone sees it stacked and cannot edit, and
// opening it makes one data call; kiosk mode is the board alone, dark, on a desktop and a phone; another
// tenant's user finds nothing at its address; a share link shows that one dashboard without a login, on a
// phone and a wall screen, and stops when revoked. Screenshots under test-results/.
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overflows, shot, signIn, waitInPage } from '../helpers/browser.js';
import { launchChromium } from '../helpers/chromium.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedAlert, seedDevice, seedReadings } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'web-dash';
const ADMIN = 'dash-web-admin';
const VIEWER = 'dash-web-viewer';
/** A user of another tenant. */
const OTHER = 'dash-web-other';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1440, height: 900 };
const TYPES = [
  'Time series',
  'Single stat',
  'Gauge',
  'Bar by group',
  'Device table',
  'Alert list',
  'State timeline',
  'Map',
  'Text (Markdown)',
];

/** Waits until every widget on the page has its data drawn (charts: ECharts finished). */
const allDrawn = (page: Page, count: number) =>
  waitInPage(
    page,
    `document.querySelectorAll('[data-widget][data-state=drawn]').length === ${count} &&
     [...document.querySelectorAll('[data-chart]')].every((chart) => chart.dataset.drawn === 'true')`,
  );

describe('dashboards in Chromium', () => {
  let pulse: TestPlatform;
  let browser: Browser;
  let origin: string;
  const users: Record<string, string> = {};
  const call = callerFor(() => pulse, users);
  let dashboardId: string;
  let exportedFile: string;

  beforeAll(async () => {
    pulse = await startTestPlatform('postgres', { API_RATE_LIMIT: '100000' });
    origin = `http://localhost:${pulse.httpPort}`;
    await seedDevice(pulse.db, TENANT, 'fr-1', 'plant');
    await seedDevice(pulse.db, TENANT, 'fr-2', 'depot', 'STALE');
    const base = { 'fr-1': 3, 'fr-2': 6 } as Record<string, number>;
    await seedReadings(pulse.db, TENANT, ['fr-1', 'fr-2'], { count: 40, stepMinutes: 4 }, (device, i) => ({
      temp_c: base[device]! + (i % 5),
      battery_pct: 90 - i,
      door: i % 8 < 4 ? 'open' : 'closed',
      position: { lat: 48.1 + i / 1000, lon: 11.5 + (device === 'fr-2' ? 1 : 0) },
    }));
    await seedAlert(pulse.db, { tenantId: TENANT, deviceId: 'fr-2' });
    users.admin = await tokenFor(pulse, { username: ADMIN, role: 'customer_admin', tenantId: TENANT });
    users.viewer = await tokenFor(pulse, { username: VIEWER, role: 'customer_viewer', tenantId: TENANT });
    await tokenFor(pulse, { username: OTHER, role: 'customer_admin', tenantId: 'web-dash-other' });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await pulse?.close();
  });

  const saved = async () => (await call('admin', `/customer/dashboards/${dashboardId}`)).body.definition;

  it(
    'builds a dashboard of every widget type, moves and resizes widgets, and keeps variable, range and layout over a reload',
    { timeout: 120_000 },
    async () => {
      const page = await signIn(browser, origin, ADMIN, { ...DESKTOP, path: '/dashboards' });
      await page.getByRole('heading', { level: 1, name: 'Dashboards' }).waitFor();
      await page.getByTestId('dashboard-list').getByText('Fleet overview').waitFor();
      await page.getByRole('button', { name: 'New dashboard' }).click();
      await page.getByLabel('Name').fill('Cold room');
      await page.getByRole('button', { name: 'Create' }).click();
      await page.getByRole('heading', { level: 1, name: 'Cold room' }).waitFor();
      dashboardId = new URL(page.url()).pathname.split('/').pop()!;

      await page.getByRole('button', { name: 'Edit', exact: true }).click();
      for (const kind of ['site', 'device']) await page.getByLabel(`Variable ${kind} on`).check();
      for (const type of TYPES) {
        await page.getByLabel('Add widget').selectOption({ label: type });
        await page.getByTestId('widget-editor').waitFor();
        await page.getByRole('button', { name: 'Apply' }).click();
        await page.getByTestId('widget-editor').waitFor({ state: 'detached' });
      }
      expect(await page.locator('[data-widget]').count()).toBe(TYPES.length);
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('button', { name: 'Edit', exact: true }).waitFor();
      const before = await saved();
      expect(before.widgets.map((w: { type: string }) => w.type)).toEqual([
        'timeseries',
        'stat',
        'gauge',
        'bar',
        'table',
        'alerts',
        'states',
        'map',
        'text',
      ]);

      // Move the single stat to the right of the time series, and make the gauge larger by its corner.
      await page.getByRole('button', { name: 'Edit', exact: true }).click();
      const stat = page.locator('[data-widget=w2] header');
      const statBox = (await stat.boundingBox())!;
      await page.mouse.move(statBox.x + 40, statBox.y + 8);
      await page.mouse.down();
      await page.mouse.move(statBox.x + 800, statBox.y - 150, { steps: 12 });
      await page.mouse.move(statBox.x + 820, statBox.y - 200, { steps: 4 });
      await page.mouse.up();
      const handle = page.locator('.react-grid-item:has([data-widget=w3]) .react-resizable-handle-se');
      const handleBox = (await handle.boundingBox())!;
      await page.mouse.move(handleBox.x + 5, handleBox.y + 5);
      await page.mouse.down();
      await page.mouse.move(handleBox.x + 300, handleBox.y + 130, { steps: 12 });
      await page.mouse.up();
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('button', { name: 'Edit', exact: true }).waitFor();
      const after = await saved();
      const layoutOf = (doc: { widgets: { id: string; layout: object }[] }, id: string) =>
        doc.widgets.find((w) => w.id === id)!.layout as { x: number; y: number; w: number; h: number };
      expect(layoutOf(after, 'w2').x).toBeGreaterThan(layoutOf(before, 'w2').x);
      expect(layoutOf(after, 'w3').w).toBeGreaterThan(layoutOf(before, 'w3').w);
      expect(layoutOf(after, 'w3').h).toBeGreaterThan(layoutOf(before, 'w3').h);

      await page.getByLabel('Variable device').selectOption('fr-1');
      await page.getByLabel('Range').selectOption({ label: 'Last 7 days' });
      await waitInPage(page, "location.search.includes('device=fr-1') && location.search.includes('from=now-7d')");
      await allDrawn(page, TYPES.length);
      const checkBoard = async () => {
        expect(await page.getByLabel('Variable device').inputValue()).toBe('fr-1');
        expect(await page.getByLabel('Range').inputValue()).toBe('now-7d');
        expect(await page.locator('[data-widget=w7] [data-testid=state-segment]').count()).toBeGreaterThan(3);
        expect(await page.locator('[data-widget=w1] [data-testid=resolution]').textContent()).toMatch(
          /raw|1-minute|1-hour/,
        );
        expect(await page.locator('[data-widget=w6] [data-testid=widget-alert]').count()).toBe(1);
        expect(await page.locator('[data-widget=w9] [data-testid=markdown] h2').textContent()).toBe('Note');
        const box = (id: string) => page.locator(`.react-grid-item:has([data-widget=${id}])`).boundingBox();
        expect((await box('w3'))!.width).toBeGreaterThan(400);
      };
      await checkBoard();
      await shot(page, 'dashboard-built-1440');
      await page.reload();
      await page.getByTestId('whoami').waitFor();
      await page.getByRole('heading', { level: 1, name: 'Cold room' }).waitFor();
      await allDrawn(page, TYPES.length);
      await checkBoard();

      // An absolute range, and a refresh: kept in the address, the data read for that range.
      const bodies: { time?: { from: string; to: string } }[] = [];
      page.on('request', (request) => {
        if (request.method() === 'POST' && request.url().endsWith('/data')) bodies.push(request.postDataJSON());
      });
      await page.getByLabel('Range').selectOption({ label: 'From … to …' });
      await page.getByLabel('From').fill('2026-01-02T03:04');
      await waitInPage(page, "new URLSearchParams(location.search).get('from') !== null");
      const from = await page.evaluate("new URLSearchParams(location.search).get('from')");
      expect(from).toBe(new Date(2026, 0, 2, 3, 4).toISOString());
      await page.getByLabel('Refresh').selectOption({ label: '5 min' });
      await waitInPage(page, "location.search.includes('refresh=300')");
      await waitFor(() => bodies.some((body) => body.time?.from === from));
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'Cold room' }).waitFor();
      expect(await page.getByLabel('Range').inputValue()).toBe('custom');
      expect(await page.getByLabel('From').inputValue()).toBe('2026-01-02T03:04');
      expect(await page.getByLabel('Refresh').inputValue()).toBe('300');
      await page.context().close();
    },
  );

  it(
    "edits widgets through their type's form at 1440 px and on a phone, the JSON view showing the same options",
    { timeout: 120_000 },
    async () => {
      const page = await signIn(browser, origin, ADMIN, { ...DESKTOP, path: `/dashboards/${dashboardId}` });
      await page.getByRole('heading', { level: 1, name: 'Cold room' }).waitFor();
      await page.getByRole('button', { name: 'Edit', exact: true }).click();
      const editor = page.getByTestId('widget-editor');
      const open = async (id: string, type: string) => {
        await page.getByLabel(`Edit ${id}`).click();
        await page.locator(`[data-testid=widget-editor][data-type=${type}]`).waitFor();
      };
      const apply = async () => {
        await editor.getByRole('button', { name: 'Apply' }).click();
        await editor.waitFor({ state: 'detached' });
      };

      await open('w1', 'timeseries');
      await editor.getByLabel('Add metric').fill('battery_pct');
      await editor.getByLabel('Add metric').press('Enter');
      await editor.getByLabel('Add device').selectOption('fr-2');
      await editor.getByLabel('min', { exact: true }).check();
      await apply();

      await open('w2', 'stat');
      await editor.getByLabel('Title').fill('Hottest fr-1');
      await editor.getByLabel('Metric', { exact: true }).fill('temp_c');
      await editor.getByLabel('Device').selectOption('fr-1');
      await editor.getByLabel('Statistic').selectOption('max');
      await editor.getByLabel('Unit').fill('°C');
      await editor.getByRole('button', { name: 'Add threshold' }).click();
      await editor.getByLabel('Threshold 2 value').fill('5');
      await editor.getByLabel('Threshold 2 colour').fill('#16a34a');
      await shot(page, 'dashboard-widget-editor-1440');
      // The JSON view holds what the form says, and the form takes back what is typed there.
      await editor.getByLabel('Edit the options as JSON').check();
      const json = JSON.parse(await editor.getByLabel('Options (JSON)').inputValue());
      expect(json).toMatchObject({ metric: 'temp_c', device: 'fr-1', stat: 'max', unit: '°C' });
      await editor.getByLabel('Options (JSON)').fill(JSON.stringify({ ...json, unit: 'C' }));
      await editor.getByLabel('Edit the options as JSON').uncheck();
      expect(await editor.getByLabel('Unit').inputValue()).toBe('C');
      await apply();

      await open('w5', 'table');
      await editor.getByLabel('temp_c (latest)').check();
      await editor.getByLabel('Sort by').selectOption('device_id');
      await apply();

      await open('w6', 'alerts');
      await editor.getByLabel('Status').selectOption('ALL');
      await editor.getByLabel('Alert type').selectOption('THRESHOLD');
      await apply();

      await open('w9', 'text');
      await editor.getByLabel('Markdown').fill('## Note\nEdited **here**.');
      await apply();
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('button', { name: 'Edit', exact: true }).waitFor();

      const options = (id: string) =>
        saved().then((doc) => doc.widgets.find((w: { id: string }) => w.id === id).options);
      expect(await options('w1')).toEqual({
        metrics: ['temp_c', 'battery_pct'],
        devices: ['fr-2'],
        stats: ['avg', 'min'],
      });
      expect(await options('w2')).toEqual({
        metric: 'temp_c',
        device: 'fr-1',
        stat: 'max',
        unit: 'C',
        thresholds: [
          { value: 30, color: '#dc2626' },
          { value: 5, color: '#16a34a' },
        ],
      });
      expect((await options('w5')).columns).toContain('metric:temp_c');
      expect((await options('w5')).sort).toBe('device_id');
      expect(await options('w6')).toMatchObject({ status: 'ALL', alert_type: 'THRESHOLD' });
      expect((await options('w9')).markdown).toBe('## Note\nEdited **here**.');
      expect((await saved()).widgets.find((w: { id: string }) => w.id === 'w2').title).toBe('Hottest fr-1');
      await page.context().close();

      const phone = await signIn(browser, origin, ADMIN, { ...PHONE, path: `/dashboards/${dashboardId}` });
      await phone.getByRole('heading', { level: 1, name: 'Cold room' }).waitFor();
      await phone.getByRole('button', { name: 'Edit', exact: true }).click();
      await phone.getByLabel('Edit w4').click();
      const phoneEditor = phone.locator('[data-testid=widget-editor][data-type=bar]');
      await phoneEditor.getByLabel('Bars').selectOption('site');
      await phoneEditor.getByLabel('Metric', { exact: true }).fill('temp_c');
      await phoneEditor.getByLabel('Statistic').selectOption('max');
      expect(await overflows(phone)).toBe(false);
      await shot(phone, 'dashboard-widget-editor-390');
      await phoneEditor.getByRole('button', { name: 'Apply' }).click();
      await phone.getByRole('button', { name: 'Save' }).click();
      await phone.getByRole('button', { name: 'Edit', exact: true }).waitFor();
      expect(await options('w4')).toEqual({ group_by: 'site', metric: 'temp_c', stat: 'max' });
      await allDrawn(phone, TYPES.length);
      expect(await phone.locator('[data-widget=w4]').textContent()).not.toContain('Nothing to count');
      const data = await call('admin', `/customer/dashboards/${dashboardId}/data`, 'POST', {});
      expect(data.body.widgets.w4.bars.map((bar: { label: string }) => bar.label)).toEqual(['depot', 'plant']);
      await phone.context().close();
    },
  );

  it(
    'exports, deletes and imports the dashboard; kiosk mode shows the board alone and dark',
    { timeout: 60_000 },
    async () => {
      const page = await signIn(browser, origin, ADMIN, { ...DESKTOP, path: `/dashboards/${dashboardId}` });
      await page.getByRole('heading', { level: 1, name: 'Cold room' }).waitFor();
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Export' }).click(),
      ]);
      exportedFile = (await download.path())!;
      const exported = JSON.parse(readFileSync(exportedFile, 'utf8'));
      expect(exported).toMatchObject({ version: 1, name: 'Cold room' });
      expect(exported.widgets).toHaveLength(TYPES.length);

      await page.getByRole('link', { name: 'Kiosk' }).click();
      await page.getByTestId('kiosk').waitFor();
      await allDrawn(page, TYPES.length);
      expect(await page.evaluate("document.documentElement.classList.contains('dark')")).toBe(true);
      expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
      await shot(page, 'dashboard-kiosk-1440');
      await page.goBack();
      await page.getByRole('heading', { level: 1, name: 'Cold room' }).waitFor();

      page.once('dialog', (dialog) => void dialog.accept());
      await page.getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('heading', { level: 1, name: 'Dashboards' }).waitFor();
      expect((await call('admin', `/customer/dashboards/${dashboardId}`)).status).toBe(404);

      // A file that is not JSON, and a document of another version: each says what is wrong, nothing is made.
      await page.getByTestId('import-dashboard').setInputFiles({
        name: 'notes.txt',
        mimeType: 'application/json',
        buffer: Buffer.from('not json'),
      });
      await page.getByRole('alert').getByText('notes.txt is not JSON').waitFor();
      await page.getByTestId('import-dashboard').setInputFiles({
        name: 'future.json',
        mimeType: 'application/json',
        buffer: Buffer.from(JSON.stringify({ ...exported, version: 2 })),
      });
      await page.getByRole('alert').getByText('/version').waitFor();
      expect((await call('admin', '/customer/dashboards')).body.dashboards).toHaveLength(0);

      await page.getByTestId('import-dashboard').setInputFiles(exportedFile);
      await page.getByRole('heading', { level: 1, name: 'Cold room' }).waitFor();
      dashboardId = new URL(page.url()).pathname.split('/').pop()!;
      expect((await saved()).widgets).toEqual(exported.widgets);
      await allDrawn(page, TYPES.length);

      // The built-in dashboard, as the home page: counts, gauges, alerts per hour, statuses, the fleet's chart.
      await page.goto(`${origin}/app/dashboards/default`);
      await page.getByRole('heading', { level: 1, name: 'Fleet overview' }).waitFor();
      await allDrawn(page, 13);
      await page.locator('[data-widget=alert-trend] [data-chart][data-drawn=true]').waitFor();
      await page.locator('[data-widget=fleet-temperature] [data-chart][data-drawn=true]').waitFor();
      await page.context().close();
    },
  );

  it(
    'shows a viewer the dashboard stacked on a phone, read only, with variable and range kept over a reload',
    { timeout: 60_000 },
    async () => {
      // A note holding HTML: shown as text, never run.
      const document = await saved();
      const note = document.widgets.find((w: { type: string }) => w.type === 'text');
      note.options.markdown = '## Note\n<b>bold</b><img src=x onerror="window.pwned = 1">';
      expect((await call('admin', `/customer/dashboards/${dashboardId}`, 'PUT', document)).status).toBe(200);
      const page = await signIn(browser, origin, VIEWER, { ...PHONE, path: `/dashboards/${dashboardId}` });
      await page.getByRole('heading', { level: 1, name: 'Cold room' }).waitFor();
      await page.locator('[data-testid=dashboard-grid][data-layout=stacked]').waitFor();
      const markdown = page.locator(`[data-widget=${note.id}] [data-testid=markdown]`);
      await markdown.getByText('<b>bold</b>', { exact: false }).waitFor();
      expect(await markdown.locator('b, img').count()).toBe(0);
      expect(await page.evaluate('window.pwned')).toBeUndefined();
      for (const action of ['Edit', 'Delete', 'Share', 'Duplicate'])
        expect(await page.getByRole('button', { name: action }).count(), action).toBe(0);
      await page.getByLabel('Variable device').selectOption('fr-1');
      await page.getByLabel('Variable site').selectOption('depot');
      await page.getByLabel('Range').selectOption({ label: 'Last 6 hours' });
      await allDrawn(page, TYPES.length);
      // The site variable narrows the device table to depot's device.
      expect(await page.locator('[data-widget=w5] tbody tr').count()).toBe(1);
      expect(await overflows(page)).toBe(false);
      await shot(page, 'dashboard-viewer-390');
      // Opening it asks the API for little: the dashboard and one call for every widget's data.
      const apiCalls: string[] = [];
      page.on('request', (request) => {
        const { pathname } = new URL(request.url());
        if (/^\/(customer|api)\//.test(pathname)) apiCalls.push(`${request.method()} ${pathname}`);
      });
      await page.reload();
      await page.getByTestId('whoami').waitFor();
      await page.getByRole('heading', { level: 1, name: 'Cold room' }).waitFor();
      await allDrawn(page, TYPES.length);
      const dataCalls = apiCalls.filter((call) => call === `POST /customer/dashboards/${dashboardId}/data`);
      expect(dataCalls, apiCalls.join(', ')).toHaveLength(1);
      expect(apiCalls.length, apiCalls.join(', ')).toBeLessThanOrEqual(6);
      expect(await page.getByLabel('Variable site').inputValue()).toBe('depot');
      expect(await page.getByLabel('Range').inputValue()).toBe('now-6h');
      expect(await page.locator('[data-widget=w5] tbody tr').count()).toBe(1);
      expect((await call('viewer', `/customer/dashboards/${dashboardId}`, 'PUT', await saved())).status).toBe(403);

      // A wall screen on a small display: the board alone, dark, stacked.
      await page.goto(`${origin}/app/kiosk/dashboards/${dashboardId}`);
      await page.getByTestId('kiosk').waitFor();
      await page.locator('[data-testid=dashboard-grid][data-layout=stacked]').waitFor();
      await allDrawn(page, TYPES.length);
      expect(await page.evaluate("document.documentElement.classList.contains('dark')")).toBe(true);
      expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
      expect(await overflows(page)).toBe(false);
      await shot(page, 'dashboard-kiosk-390');
      await page.context().close();

      // Another tenant's user, by the dashboard's own address: not found, nothing of it drawn.
      const stranger = await signIn(browser, origin, OTHER, { ...DESKTOP, path: `/dashboards/${dashboardId}` });
      await stranger.getByRole('alert').getByText('Dashboard not found').waitFor();
      expect(await stranger.getByRole('heading', { level: 1, name: 'Cold room' }).count()).toBe(0);
      expect(await stranger.locator('[data-widget]').count()).toBe(0);
      await stranger.context().close();
    },
  );

  it(
    'shares the dashboard by a link that needs no login, shows nothing else, and stops when revoked, live too',
    { timeout: 90_000 },
    async () => {
      const page = await signIn(browser, origin, ADMIN, { ...PHONE, path: `/dashboards/${dashboardId}` });
      await page.getByRole('button', { name: 'Share' }).click();
      await page.getByRole('button', { name: 'Create link' }).click();
      const link = (await page.getByTestId('share-link').locator('a').textContent())!;
      expect(link).toContain('/app/shared/dsh_');

      const stranger = await browser.newContext({ viewport: PHONE });
      const shared = await stranger.newPage();
      // Live: the link's own event stream, which also tells the page when the link stops working.
      await shared.goto(`${link}?device=fr-1&live=1`);
      await shared.getByRole('heading', { level: 1, name: 'Cold room' }).waitFor();
      await allDrawn(shared, TYPES.length);
      expect(await shared.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
      expect(await shared.getByRole('button', { name: 'Sign in' }).count()).toBe(0);
      // No link into the app: device ids and alerts are text here.
      expect(await shared.locator('a[href^="/app/"]').count()).toBe(0);
      expect(await overflows(shared)).toBe(false);
      await shot(shared, 'dashboard-shared-390');
      // On a wall screen's width too: the grid, nothing else of the app.
      const wall = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await wall.goto(link);
      await wall.locator('[data-testid=dashboard-grid][data-layout=grid]').waitFor();
      await allDrawn(wall, TYPES.length);
      expect(await wall.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
      expect(await wall.locator('a[href^="/app/"]').count()).toBe(0);
      expect(await overflows(wall)).toBe(false);
      await shot(wall, 'dashboard-shared-1440');
      await wall.context().close();

      expect(await shared.getByLabel('Live').isChecked()).toBe(true);
      await page.getByRole('button', { name: 'Revoke' }).click();
      await page.getByTestId('share-list').getByText('revoked').waitFor();
      // Without a reload: the open page is told within the stream's recheck (15 s).
      await shared.getByRole('alert').getByText('unknown, expired or revoked').waitFor({ timeout: 30_000 });
      await shared.reload();
      await shared.getByRole('alert').getByText('unknown, expired or revoked').waitFor();
      await stranger.close();
      await page.context().close();
    },
  );
});
