// Positions and text states in the web app (issue 31), in Debian's Chromium against a real Pulse whose
// devices post telemetry over HTTP, the truck over MQTT too: the fleet map draws the country outlines shipped
// with the app and asks nothing of any host but Pulse, every device sits at its last position coloured by
// its status, two devices close together form a cluster that splits when clicked, and a device's popup
// leads to its page; that page shows a state timeline per text metric (segments with their times on hover,
// the latest value as text) beside the charts of its numbers, and its track as a line, all following live
// readings. With MAP_TILE_URL the tiles (allowed by the CSP) go above the outlines, credited. The pages fit
// a phone and a desktop; screenshots go under test-results/screenshots/.
import mqtt from 'mqtt';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveFrames, nav, overflows, shot, signIn as signInAs, type SignInOptions } from '../helpers/browser.js';
import { launchChromium } from '../helpers/chromium.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { provisionDevices } from '../helpers/provision.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'web-map';
const ADMIN = 'map-web-admin';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1440, height: 900 };
/** The badges' colours (DEVICE_STATUS_COLOR) as the browser reports them. */
const STATUS_RGB: Record<string, string> = {
  ONLINE: 'rgb(16, 185, 129)',
  STALE: 'rgb(245, 158, 11)',
  REVOKED: 'rgb(100, 116, 139)',
};
const PLACES = {
  amsterdam: { lat: 52.3702, lon: 4.8952 },
  amsterdamNearby: { lat: 52.3712, lon: 4.8965 },
  munich: { lat: 48.137, lon: 11.575 },
  lyon: { lat: 45.764, lon: 4.8357 },
  dijon: { lat: 47.322, lon: 5.0415 },
  paris: { lat: 48.8566, lon: 2.3522 },
  northSea: { lat: 56.0, lon: 3.0 },
  copenhagen: { lat: 55.676, lon: 12.568 },
  saintDenis: { lat: 48.9362, lon: 2.3574 },
};
/** Who is where, each device's status once set up, and its site. */
const DEVICES = [
  { device_id: 'bike-1', site_id: 'city', status: 'ONLINE' },
  { device_id: 'bike-2', site_id: 'city', status: 'ONLINE' },
  { device_id: 'fridge-1', site_id: 'plant', status: 'ONLINE' },
  { device_id: 'truck-1', site_id: 'road', status: 'ONLINE' },
  { device_id: 'buoy-1', site_id: 'sea', status: 'STALE' },
  { device_id: 'old-1', site_id: 'depot', status: 'REVOKED' },
];
const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
/** A CSS property of each element `locator` finds, as computed in the page. */
const computed = (locator: Locator, property: string): Promise<string[]> =>
  locator.evaluateAll(
    (elements, name) =>
      elements.map((element) => element.ownerDocument.defaultView!.getComputedStyle(element).getPropertyValue(name)),
    property,
  );

describe('the fleet map, state timelines and tracks in Chromium', () => {
  let pulse: TestPlatform;
  let browser: Browser;
  let origin: string;
  let publisher: mqtt.MqttClient;
  let tokens: Map<string, string>;
  const users: Record<string, string> = {};
  const call = callerFor(() => pulse, users);

  beforeAll(async () => {
    // A device stays ONLINE for the whole test; one heard of only 15 minutes ago is STALE.
    pulse = await startTestPlatform(
      'postgres',
      { API_RATE_LIMIT: '100000', FLUSH_INTERVAL_MS: '50', HEARTBEAT_STALE_SECONDS: '600' },
      undefined,
      { embeddedBroker: true },
    );
    origin = `http://localhost:${pulse.httpPort}`;
    await pulse.call('/operator/tenants', { json: { tenant_id: TENANT, name: TENANT } });
    tokens = await provisionDevices(
      pulse.base,
      TEST_ADMIN_KEY,
      DEVICES.map(({ device_id, site_id }) => ({ tenant_id: TENANT, device_id, site_id })),
    );
    users.admin = await tokenFor(pulse, { username: ADMIN, role: 'customer_admin', tenantId: TENANT });
    const post = async (deviceId: string, minutes: number, metrics: object) => {
      const response = await fetch(`${pulse.base}/ingest/v1/tenant/${TENANT}/device/${deviceId}/telemetry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-provision-token': tokens.get(`${TENANT}/${deviceId}`)! },
        body: JSON.stringify({
          ts: minutesAgo(minutes),
          site_id: DEVICES.find((d) => d.device_id === deviceId)!.site_id,
          metrics,
        }),
      });
      expect(response.status, `${deviceId} at -${minutes} min`).toBe(202);
    };
    await post('bike-1', 0.1, { position: PLACES.amsterdam, battery_pct: 80 });
    await post('bike-2', 0.1, { position: PLACES.amsterdamNearby, battery_pct: 70 });
    for (const [minutes, door] of [
      [40, 'closed'],
      [30, 'open'],
      [29, 'open'],
      [20, 'closed'],
      [0.1, 'closed'],
    ] as const)
      await post('fridge-1', minutes, { door, temp_c: 4 + minutes / 10, position: PLACES.munich });
    // The truck's first reading comes over HTTP, the next two over MQTT: the map, band and track show both.
    await post('truck-1', 50, { position: PLACES.lyon, mode: 'DRIVING', speed_kmh: 80 });
    publisher = await mqtt.connectAsync(pulse.mqttUrl!);
    for (const [minutes, position, mode] of [
      [35, PLACES.dijon, 'RESTING'],
      [0.1, PLACES.paris, 'DRIVING'],
    ] as const)
      await publishTruck({ ts: minutesAgo(minutes), metrics: { position, mode, speed_kmh: 80 } });
    await post('buoy-1', 15, { position: PLACES.northSea, wave_m: 1.5 });
    await post('old-1', 0.1, { position: PLACES.copenhagen });
    await waitFor(async () => (await call('admin', '/api/v2/fleet/positions')).body.devices.length === 6, 15_000);
    await waitFor(
      async () => (await call('admin', '/api/v2/devices/truck-1/track?hours=1')).body.points.length === 3,
      15_000,
    );
    expect((await call('admin', '/customer/devices/revoke', 'POST', { device_ids: ['old-1'] })).status).toBe(200);
    const statuses = async () =>
      Object.fromEntries(
        (await call('admin', '/api/v2/fleet/positions')).body.devices.map(
          (d: { device_id: string; status: string }) => [d.device_id, d.status],
        ),
      );
    await waitFor(async () => {
      const current = await statuses();
      return DEVICES.every(({ device_id, status }) => current[device_id] === status);
    }, 15_000);
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await publisher?.endAsync();
    await pulse?.close();
  });

  let truckSeq = 0;
  /** The truck's telemetry over MQTT (the embedded broker), as a device sends it. */
  const publishTruck = async (message: { ts: string; metrics: object }) => {
    truckSeq += 1;
    await publisher.publishAsync(
      `tenant/${TENANT}/device/truck-1/telemetry`,
      JSON.stringify({ site_id: 'road', provision_token: tokens.get(`${TENANT}/truck-1`), seq: truckSeq, ...message }),
      { qos: 1 },
    );
  };
  const signIn = (options: SignInOptions) => signInAs(browser, origin, ADMIN, options);
  const expectFits = async (page: Page, name: string) => {
    await shot(page, name);
    expect(await overflows(page), `${name} is wider than the window`).toBe(false);
  };
  /** Records every request the page's context makes to a host that is not this Pulse. */
  const foreignRequests = (page: Page): string[] => {
    const foreign: string[] = [];
    page.context().on('request', (request) => {
      const url = new URL(request.url());
      if (['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) && url.host !== new URL(origin).host)
        foreign.push(request.url());
    });
    return foreign;
  };
  const outlinesDrawn = async (page: Page, map: string) => {
    await page.locator(`[data-testid=${map}][data-outlines=loaded]`).waitFor();
    // One SVG path per country of Natural Earth's 1:110m outlines.
    expect(await page.getByTestId(map).locator('.leaflet-outlines-pane path').count()).toBeGreaterThan(150);
  };

  it(
    'shows every device at its last position coloured by status on the shipped outlines, splits a cluster when clicked and leads to the device, asking no other host',
    { timeout: 60_000 },
    async () => {
      const page = await signIn(DESKTOP);
      const foreign = foreignRequests(page);
      await nav(page, 'Map');
      await outlinesDrawn(page, 'fleet-map');

      // The two bikes 100 m apart are one cluster; every other device has its own marker.
      const cluster = page.locator('[data-testid=map-cluster][data-count="2"]');
      await cluster.waitFor();
      expect(await cluster.locator('..').getAttribute('title')).toBe('2 devices (2 ONLINE): zoom in');
      for (const { device_id, status } of DEVICES.filter((d) => !d.device_id.startsWith('bike'))) {
        const marker = page.locator(`[data-testid=map-device][data-device="${device_id}"]`);
        await marker.waitFor();
        expect(await marker.getAttribute('data-status'), device_id).toBe(status);
        expect(await computed(marker, 'background-color'), device_id).toEqual([STATUS_RGB[status]]);
      }
      expect(await page.getByTestId('map-device').count()).toBe(4);
      // The truck's last reading, over MQTT, put it in Paris: north of the fridge in Munich (Lyon and Dijon,
      // where its earlier readings had it, are south).
      const y = async (device: string) =>
        (await page.locator(`[data-testid=map-device][data-device="${device}"]`).boundingBox())!.y;
      expect(await y('truck-1')).toBeLessThan(await y('fridge-1'));
      expect(await page.getByTestId('map-legend').textContent()).toBe('ONLINE 4STALE 1OFFLINE 0REVOKED 1');
      await shot(page, 'map-fleet-1440');

      await cluster.click();
      for (const bike of ['bike-1', 'bike-2']) await page.locator(`[data-device="${bike}"]`).waitFor();
      expect(await cluster.count()).toBe(0);
      await shot(page, 'map-cluster-split-1440');

      await page.locator('[data-device="bike-1"]').click();
      const popup = page.getByTestId('map-popup');
      await popup.waitFor();
      for (const text of ['Site city', 'ONLINE']) await popup.getByText(text).waitFor();
      await popup.getByText(/^Here .*(second|minute|now)/).waitFor();
      await shot(page, 'map-popup-1440');
      await popup.getByRole('link', { name: 'bike-1' }).click();
      await page.getByRole('heading', { level: 1, name: 'Device bike-1' }).waitFor();

      // The device page's small map (one position: a point) asks no other host either.
      await outlinesDrawn(page, 'track-map');
      await page.getByTestId('track-position').getByText('One position').waitFor();
      expect(foreign).toEqual([]);
      await page.context().close();
    },
  );

  it(
    'shows a state band per text metric with its values and times, the latest as text, numbers as charts, and the track as a line',
    { timeout: 60_000 },
    async () => {
      const page = await signIn({ ...DESKTOP, path: '/devices/fridge-1' });
      const door = page.getByTestId('states-door');
      await door.getByTestId('state-segment').first().waitFor();
      const values = await door
        .getByTestId('state-segment')
        .evaluateAll((segments) => segments.map((segment) => segment.getAttribute('data-value')));
      expect(values).toEqual(['closed', 'open', 'closed']);
      expect(await door.getByTestId('latest-state').textContent()).toBe('closed');
      const colors = await computed(door.getByTestId('state-segment'), 'background-color');
      expect(colors[0]).toBe(colors[2]);
      expect(colors[0]).not.toBe(colors[1]);

      await door.locator('[data-value=open]').hover();
      const detail = await door.getByTestId('state-detail').textContent();
      expect(detail).toMatch(/^open from .+ to .+$/);
      const open = await door.locator('[data-value=open]').getAttribute('title');
      expect(open).toBe(detail!.replace(' from ', ': '));
      // Numbers keep their charts and gauges.
      await page.getByTestId('chart-temp_c').waitFor();
      await page.getByTestId('gauge-temp_c').waitFor();
      await shot(page, 'map-device-states-1440');

      await page.goto(`${origin}/app/devices/truck-1`);
      const mode = page.getByTestId('states-mode');
      await mode.getByTestId('state-segment').first().waitFor();
      expect(
        await mode
          .getByTestId('state-segment')
          .evaluateAll((segments) => segments.map((segment) => segment.getAttribute('data-value'))),
      ).toEqual(['DRIVING', 'RESTING', 'DRIVING']);
      const track = page.getByTestId('track-position');
      await outlinesDrawn(page, 'track-map');
      const line = track.locator('path.track-line');
      await line.waitFor();
      // Lyon, Dijon, Paris: a move and two lines.
      expect((await line.getAttribute('d'))?.match(/[ML]/g)).toEqual(['M', 'L', 'L']);
      await track.getByText('3 positions').waitFor();
      await shot(page, 'map-device-track-1440');
      await page.context().close();
    },
  );

  it('the map and device pages fit a phone (390 px) and a desktop (1440 px)', { timeout: 90_000 }, async () => {
    for (const [size, label] of [
      [PHONE, '390'],
      [DESKTOP, '1440'],
    ] as const) {
      const page = await signIn({ ...size, path: '/map' });
      await outlinesDrawn(page, 'fleet-map');
      await page.locator('[data-testid=map-device], [data-testid=map-cluster]').first().waitFor();
      await expectFits(page, `map-fleet-fits-${label}`);
      await page.goto(`${origin}/app/devices/truck-1`);
      await page.getByTestId('track-position').locator('path.track-line').waitFor();
      await page.getByTestId('states-mode').getByTestId('state-segment').first().waitFor();
      await expectFits(page, `map-device-fits-${label}`);
      await page.context().close();
    }
  });

  it(
    'follows a text state and a position the device publishes while its page is open, without a reload',
    { timeout: 60_000 },
    async () => {
      const page = await signIn(DESKTOP);
      const frames = liveFrames(page);
      await page.goto(`${origin}/app/devices/truck-1`);
      const mode = page.getByTestId('states-mode');
      const track = page.getByTestId('track-position');
      await mode.getByTestId('state-segment').first().waitFor();
      await track.getByText('3 positions').waitFor();
      // The page's socket watches the truck before it publishes.
      await waitFor(() => frames.some((frame) => frame.includes('"subscribed"') && frame.includes('"truck-1"')));

      await publishTruck({ ts: new Date().toISOString(), metrics: { mode: 'PARKED', position: PLACES.saintDenis } });
      // Sooner than the page refetches anything (10 s, 30 s): the live frame brought them.
      const soon = { timeout: 5000 };
      await mode.getByTestId('latest-state').getByText('PARKED', { exact: true }).waitFor(soon);
      const parked = mode.locator('[data-testid=state-segment][data-value=PARKED]');
      await parked.waitFor(soon);
      expect(
        await mode
          .getByTestId('state-segment')
          .evaluateAll((segments) => segments.map((segment) => segment.getAttribute('data-value'))),
      ).toEqual(['DRIVING', 'RESTING', 'DRIVING', 'PARKED']);
      // The state in force grows as time passes.
      await waitFor(async () => (await parked.boundingBox())!.width > 0, 5000);
      await track.getByText('4 positions').waitFor(soon);
      expect((await track.locator('path.track-line').getAttribute('d'))?.match(/[ML]/g)).toEqual(['M', 'L', 'L', 'L']);
      await shot(page, 'map-device-live-1440');
      await page.context().close();
    },
  );

  it(
    "reads a signed-in dashboard's data again in live mode when its fleet reports, told over the live socket",
    { timeout: 60_000 },
    async () => {
      const page = await signIn(DESKTOP);
      const frames = liveFrames(page);
      let dataCalls = 0;
      page.on('request', (request) => {
        if (request.method() === 'POST' && request.url().endsWith('/customer/dashboards/default/data')) dataCalls += 1;
      });
      await page.goto(`${origin}/app/dashboards/default?live=1`);
      await page.locator('[data-widget][data-state=drawn]').first().waitFor();
      await waitFor(() => frames.some((frame) => frame.includes('"subscribed"') && frame.includes('"dashboard"')));
      const before = dataCalls;
      await publishTruck({ ts: new Date().toISOString(), metrics: { speed_kmh: 42 } });
      await waitFor(() => frames.some((frame) => frame.includes('"changed"')), 5000);
      // Read again once the last answer is 10 s old (LIVE_REFETCH_GAP_MS), not at every frame.
      await waitFor(() => dataCalls > before, 15_000);
      await page.context().close();
    },
  );
});

describe('map tiles from MAP_TILE_URL in Chromium', () => {
  const TILES = 'http://tiles.map-test.invalid';
  // A 1×1 PNG stands for every tile.
  const PNG = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
    'base64',
  );
  let pulse: TestPlatform;
  let browser: Browser;

  beforeAll(async () => {
    pulse = await startTestPlatform('pglite', {
      MAP_TILE_URL: `${TILES}/{z}/{x}/{y}.png`,
      MAP_TILE_ATTRIBUTION: '© Test Tiles <b>contributors</b>',
    });
    await tokenFor(pulse, { username: ADMIN, role: 'customer_viewer', tenantId: TENANT });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await pulse?.close();
  });

  it('draws the tiles above the outlines, allowed by the CSP, and credits them as plain text', async () => {
    const origin = `http://localhost:${pulse.httpPort}`;
    const page = await signInAs(browser, origin, ADMIN, DESKTOP);
    const served: string[] = [];
    await page.context().route(`${TILES}/**`, (route) => {
      served.push(route.request().url());
      return route.fulfill({ status: 200, contentType: 'image/png', body: PNG });
    });
    await nav(page, 'Map');
    await page.locator('[data-testid=fleet-map][data-outlines=loaded]').waitFor();
    await page.locator('.leaflet-tile-pane img.leaflet-tile-loaded').first().waitFor();
    expect(served.length).toBeGreaterThan(0);
    expect(served.every((url) => /^http:\/\/tiles\.map-test\.invalid\/\d+\/\d+\/\d+\.png$/.test(url))).toBe(true);
    const attribution = page.locator('.leaflet-control-attribution');
    expect(await attribution.textContent()).toContain('© Test Tiles <b>contributors</b>');
    expect(await attribution.textContent()).toContain('Outlines: Natural Earth');
    // Tiles (pane z-index 200) cover the outlines (150), which show wherever a tile does not load.
    const zIndex = async (pane: string) =>
      Number((await computed(page.locator(`.leaflet-${pane}-pane`), 'z-index'))[0]);
    expect(await zIndex('tile')).toBeGreaterThan(await zIndex('outlines'));
    await shot(page, 'map-tiles-1440');
    await page.context().close();
  });
});
