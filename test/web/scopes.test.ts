// Device scopes in the web app (issue 31), in Debian's Chromium against a real Pulse on PostgreSQL: a rule
// scoped to a tag and a silence scoped to an attribute made through the forms are what the API then holds,
// and their lists say them in words; a device page shows what the device reported of itself beside what
// people set; the dashboard's fleet chart grouped by site draws one line per site; a fleet job picking a
// tag counts the devices that carry it; the forms fit a 390 px phone; a tag and an attribute set in a
// device's form filter the devices list, the filters kept in its URL. Screenshots go under
// test-results/screenshots/.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overflows, shot, signIn } from '../helpers/browser.js';
import { launchChromium } from '../helpers/chromium.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { provisionDevices } from '../helpers/provision.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'web-scopes';
const ADMIN = 'scopes-web-admin';
const PHONE = { width: 390, height: 844 };
/** Who is where, with which tags and attributes people set. */
const DEVICES = [
  { device_id: 'fridge-1', site_id: 'north', tags: ['cold-chain'], attributes: { model: 'X200' } },
  { device_id: 'fridge-2', site_id: 'south', tags: ['cold-chain', 'batch-2025'], attributes: { model: 'X300' } },
  { device_id: 'pump-1', site_id: 'south', tags: [], attributes: {} },
];
const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

describe('device scopes, reported attributes, grouped fleet charts and tag-picked jobs in Chromium', () => {
  let pulse: TestPlatform;
  let browser: Browser;
  let origin: string;
  let tokens: Map<string, string>;
  const users: Record<string, string> = {};
  const call = callerFor(() => pulse, users);
  const open = (path: string, viewport?: { width: number; height: number }): Promise<Page> =>
    signIn(browser, origin, ADMIN, { path, ...viewport });

  beforeAll(async () => {
    pulse = await startTestPlatform('postgres', { API_RATE_LIMIT: '100000', FLUSH_INTERVAL_MS: '50' });
    origin = `http://localhost:${pulse.httpPort}`;
    await pulse.call('/operator/tenants', { json: { tenant_id: TENANT, name: TENANT } });
    tokens = await provisionDevices(
      pulse.base,
      TEST_ADMIN_KEY,
      DEVICES.map(({ device_id, site_id }) => ({ tenant_id: TENANT, device_id, site_id })),
    );
    users.admin = await tokenFor(pulse, { username: ADMIN, role: 'customer_admin', tenantId: TENANT });
    for (const { device_id, tags, attributes } of DEVICES)
      expect((await call('admin', `/customer/devices/${device_id}`, 'PATCH', { tags, attributes })).status).toBe(200);
    for (const { device_id, site_id } of DEVICES)
      for (const minutes of [30, 20, 10]) {
        const response = await fetch(`${pulse.base}/ingest/v1/tenant/${TENANT}/device/${device_id}/telemetry`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-provision-token': tokens.get(`${TENANT}/${device_id}`)! },
          body: JSON.stringify({ ts: minutesAgo(minutes), site_id, metrics: { temp_c: 4 + minutes / 10 } }),
        });
        expect(response.status, `${device_id} at -${minutes} min`).toBe(202);
      }
    await waitFor(
      async () => (await call('admin', '/api/v2/telemetry/summary?hours=1')).body.metrics.temp_c?.samples === 9,
      15_000,
    );
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await pulse?.close();
  });

  it('saves a rule scoped to a tag from the form, as the API then holds it, and lists it in words', async () => {
    const page = await open('/rules');
    await page.getByRole('button', { name: 'New rule' }).click();
    const form = page.getByRole('form', { name: 'Alert rule' });
    await form.getByLabel('Name').fill('Cold chain too warm');
    await form.getByLabel('Metric').fill('temp_c');
    await form.getByLabel('Threshold', { exact: true }).fill('8');
    await form.getByLabel('Any of these tags').fill('Cold-Chain');
    await form.getByLabel('Any of these tags').press('Enter');
    // Enter added the tag; it did not submit the form.
    await form.getByTestId('scope-words').getByText('tags cold-chain').waitFor();
    expect(await form.count()).toBe(1);
    await form.getByRole('button', { name: 'Save rule' }).click();
    await form.waitFor({ state: 'detached' });
    const row = page.getByRole('row').filter({ hasText: 'Cold chain too warm' });
    await row.getByText('devices: tags cold-chain').waitFor();

    const rules = (await call('admin', '/customer/alert-rules')).body.rules;
    const saved = rules.find((rule: { name: string }) => rule.name === 'Cold chain too warm');
    expect(saved).toMatchObject({ metric_name: 'temp_c', threshold: 8, site_ids: null });
    expect(saved.selector).toEqual({ tags_any: ['cold-chain'] });

    // Edited, the scope is kept and an id prefix added; removed tags leave no scope at all.
    await row.getByRole('button', { name: 'Edit' }).click();
    await form.getByTestId('scope-words').getByText('tags cold-chain').waitFor();
    await form.getByLabel('Device id prefix').fill('fridge-');
    await form.getByRole('button', { name: 'Save rule' }).click();
    await row.getByText('devices: ids starting fridge-; tags cold-chain').waitFor();
    const edited = (await call('admin', `/customer/alert-rules/${saved.rule_id}`)).body;
    expect(edited.selector).toEqual({ device_prefix: 'fridge-', tags_any: ['cold-chain'] });
    await row.getByRole('button', { name: 'Edit' }).click();
    await form.getByLabel('Device id prefix').fill('');
    await form.getByRole('button', { name: 'Remove cold-chain' }).click();
    await form.getByRole('button', { name: 'Save rule' }).click();
    await form.waitFor({ state: 'detached' });
    await waitFor(async () => (await call('admin', `/customer/alert-rules/${saved.rule_id}`)).body.selector === null);
    await page.context().close();
  });

  it('starts a silence scoped to an attribute condition, held by the API as a typed condition', async () => {
    const page = await open('/silences');
    await page.getByRole('button', { name: 'New silence' }).click();
    const form = page.getByRole('form', { name: 'New silence' });
    await form.getByLabel('Attribute', { exact: true }).fill('model');
    await form.getByLabel('Comparison').selectOption('eq');
    await form.getByLabel('Compare with').fill('X200');
    await form.getByRole('button', { name: 'Add condition' }).click();
    await form.getByLabel('Any of these tags').fill('cold-chain');
    await form.getByLabel('Any of these tags').press('Enter');
    await form.getByLabel('Why').fill('defrost test');
    await form.getByRole('button', { name: 'Start silence' }).click();
    // A scope by attributes is a scope: no whole-fleet warning, the silence starts.
    await form.waitFor({ state: 'detached' });
    await page.getByTestId('silences-table').getByText('tags cold-chain; model = X200').waitFor();
    await shot(page, 'customer-silence-scoped');

    const silences = (await call('admin', '/customer/silences')).body.silences;
    expect(silences).toHaveLength(1);
    expect(silences[0]).toMatchObject({ comment: 'defrost test', site_ids: null, device_ids: null });
    expect(silences[0].selector).toEqual({
      tags_any: ['cold-chain'],
      attributes: [{ key: 'model', op: 'eq', value: 'X200' }],
    });
    await page.context().close();
  });

  it("shows what a device reported of itself beside people's attributes, theirs winning", async () => {
    const reported = await fetch(`${pulse.base}/ingest/v1/tenant/${TENANT}/device/fridge-1/attributes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-provision-token': tokens.get(`${TENANT}/fridge-1`)! },
      body: JSON.stringify({ attributes: { model: 'X100', build: '2026.12', cells: 4 } }),
    });
    expect(reported.status).toBe(200);
    const page = await open('/devices/fridge-1');
    const shown = page.getByTestId('device-reported-attributes');
    await shown.getByText('build: 2026.12').waitFor();
    expect((await shown.locator('li').allTextContents()).sort()).toEqual([
      'build: 2026.12',
      'cells: 4',
      'model: X100 (set by people: X200, which wins)',
    ]);
    expect(await page.getByTestId('device-attributes').textContent()).toBe('model: X200');
    // A device that reported nothing shows none.
    await page.goto(`${origin}/app/devices/pump-1`);
    await page.getByTestId('device-site').getByText('south').waitFor();
    expect(await page.getByTestId('device-reported-attributes').count()).toBe(0);
    await page.context().close();
  });

  it('draws the fleet chart as one line per site when grouped by site, and one line without grouping', async () => {
    const page = await open('/');
    const chart = page.getByTestId('fleet-chart');
    await chart.waitFor();
    const lines = async () => JSON.parse((await chart.getAttribute('data-lines')) ?? '[]') as string[];
    expect(await lines()).toEqual(['temp_c']);
    await page.getByLabel('Group by').selectOption('site');
    await waitFor(async () => (await lines()).length === 2, 10_000);
    expect((await lines()).sort()).toEqual(['north', 'south']);
    await page.getByLabel('Group by').selectOption('tag');
    await waitFor(async () => (await lines()).sort().join() === 'batch-2025,cold-chain', 10_000);
    await shot(page, 'customer-dashboard-by-tag');
    await page.context().close();
  });

  it('counts the devices a fleet job picks by tag and by attribute', async () => {
    const page = await open('/jobs');
    await page.getByRole('button', { name: 'New job' }).click();
    const count = page.getByTestId('selection-count');
    const settledCount = async () => {
      await page.locator('[data-testid=selection-count][data-settled=true]').waitFor();
      return Number(await count.textContent());
    };
    await page.getByRole('radio', { name: 'Tags' }).check();
    await page.getByRole('textbox', { name: 'Tags' }).fill('cold-chain');
    await waitFor(async () => (await settledCount()) === 2, 10_000);
    expect((await page.getByTestId('selection-sample').textContent())?.split(', ').sort()).toEqual([
      'fridge-1',
      'fridge-2',
    ]);
    await page.getByRole('textbox', { name: 'Tags' }).fill('batch-2025');
    await waitFor(async () => (await settledCount()) === 1, 10_000);
    await page.getByRole('radio', { name: 'Attributes' }).check();
    await page.getByLabel('Attribute', { exact: true }).fill('model');
    await page.getByLabel('Comparison').selectOption('one_of');
    await page.getByLabel('Compare with').fill('X200|X300');
    await page.getByRole('button', { name: 'Add condition' }).click();
    await waitFor(async () => (await settledCount()) === 2, 10_000);
    await page.context().close();
  });

  it('keeps the rule, route and silence forms usable at 390 px', async () => {
    const page = await open('/rules', PHONE);
    const fits = async (name: string, save: string) => {
      const form = page.getByRole('form', { name });
      await form.getByLabel('Any of these tags').waitFor();
      expect(await overflows(page), `${name} overflows the page`).toBe(false);
      expect(await form.evaluate((element) => element.scrollWidth <= element.clientWidth + 1)).toBe(true);
      await form.getByLabel('Compare with').scrollIntoViewIfNeeded();
      expect(await form.getByLabel('Compare with').isVisible()).toBe(true);
      await form.getByRole('button', { name: save }).scrollIntoViewIfNeeded();
      expect(await form.getByRole('button', { name: save }).isVisible()).toBe(true);
    };
    await page.getByRole('button', { name: 'New rule' }).click();
    await fits('Alert rule', 'Save rule');
    await shot(page, 'phone-rule-form');
    await page.goto(`${origin}/app/routes`);
    await page.getByRole('button', { name: 'New route' }).click();
    await fits('Route', 'Create route');
    await page.goto(`${origin}/app/silences`);
    await page.getByRole('button', { name: 'New silence' }).click();
    await fits('New silence', 'Start silence');
    await shot(page, 'phone-silence-form');
    await page.context().close();
  });

  it('filters the devices list by a tag and an attribute set in the device form, the filters kept in the URL', async () => {
    const page = await open('/devices/pump-1');
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    const form = page.getByRole('form', { name: 'Edit device' });
    await form.getByLabel('Add tag').fill('Cold-Chain');
    await form.getByLabel('Add tag').press('Enter');
    await form.getByRole('button', { name: 'Remove cold-chain' }).waitFor();
    await form.getByRole('button', { name: 'Add attribute' }).click();
    await form.getByLabel('Attribute key').fill('flow_lpm');
    await form.getByLabel('Attribute type').selectOption('number');
    await form.getByLabel('Attribute value').fill('120');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    await page.getByTestId('device-attributes').getByText('flow_lpm: 120').waitFor();
    expect((await call('admin', '/api/v2/devices/pump-1')).body.device).toMatchObject({
      tags: ['cold-chain'],
      attributes: { flow_lpm: 120 },
    });

    await page.goto(`${origin}/app/devices`);
    const table = page.getByTestId('devices-table');
    const listed = async () => (await table.locator('tbody tr').getByRole('link').allTextContents()).join();
    await page.getByLabel('Filter by tag').fill('cold-chain');
    await page.getByLabel('Filter by tag').press('Enter');
    await waitFor(async () => (await listed()) === 'fridge-1,fridge-2,pump-1', 10_000);
    await page.getByLabel('Attribute', { exact: true }).fill('flow_lpm');
    await page.getByLabel('Comparison').selectOption('gt');
    await page.getByLabel('Compare with').fill('100');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await waitFor(async () => (await listed()) === 'pump-1', 10_000);
    const filters = () => new URL(page.url()).searchParams;
    expect(filters().getAll('tag')).toEqual(['cold-chain']);
    expect(filters().getAll('attr')).toEqual(['flow_lpm:gt:100']);

    await page.reload();
    // Both filters show as chips again, each with its button to take it off.
    const chips = page.getByTestId('device-filters');
    await chips.getByRole('button', { name: 'Remove flow_lpm:gt:100' }).waitFor();
    expect(await chips.getByRole('button', { name: 'Remove cold-chain' }).count()).toBe(1);
    await waitFor(async () => (await listed()) === 'pump-1', 10_000);
    expect(filters().getAll('tag')).toEqual(['cold-chain']);
    expect(filters().getAll('attr')).toEqual(['flow_lpm:gt:100']);
    await shot(page, 'customer-devices-filtered');
    await page.context().close();
  });
});
