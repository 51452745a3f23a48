// Text states and positions as metric values (issue 31) on both engines: published over MQTT (embedded
// broker) and HTTP, stored, shown as the latest value, exported, read back as a state timeline, a track
// and the fleet's last positions; a position out of range is refused with its own reason; another tenant
// reads none of it.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { stateSegments } from '../../src/model/telemetry-states.js';
import { bearer, tokenFor } from '../helpers/identity.js';
import { rulesInForce, startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { provisionDevices } from '../helpers/provision.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'txt-a';
/** TEXT_METRIC_MAX_LENGTH of the platform under test: well below the default 256. */
const TEXT_LIMIT = 40;

describe('state segments', () => {
  const at = (minute: number) => new Date(Date.UTC(2026, 11, 7, 10, minute));
  it('merges equal values, opens with the value in force at the start and closes at the end', () => {
    const readings = [
      { time: at(0), value: 'closed' },
      { time: at(10), value: 'open' },
      { time: at(12), value: 'open' },
      { time: at(20), value: 'closed' },
    ];
    expect(stateSegments(readings, at(5), at(30))).toEqual([
      { value: 'closed', from: at(5), to: at(10) },
      { value: 'open', from: at(10), to: at(20) },
      { value: 'closed', from: at(20), to: at(30) },
    ]);
    expect(stateSegments([], at(5), at(30))).toEqual([]);
  });
});

describe.each<Engine>(['pglite', 'postgres'])('text and position metrics on %s', (engine) => {
  let pulse: TestPlatform;
  let tokens: Map<string, string>;
  const users: Record<string, string> = {};
  const get = async (who: string, path: string): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${pulse.base}${path}`, { headers: bearer(users[who]!) });
    return {
      status: response.status,
      body: response.headers.get('content-type')?.includes('json') ? await response.json() : await response.text(),
    };
  };

  beforeAll(async () => {
    pulse = await startTestPlatform(
      engine,
      { API_RATE_LIMIT: '100000', FLUSH_INTERVAL_MS: '50', TEXT_METRIC_MAX_LENGTH: String(TEXT_LIMIT) },
      undefined,
      { embeddedBroker: true },
    );
    tokens = await provisionDevices(pulse.base, TEST_ADMIN_KEY, [
      { tenant_id: TENANT, device_id: 'truck-1', site_id: 'road' },
      { tenant_id: TENANT, device_id: 'fridge-1', site_id: 'plant' },
      { tenant_id: 'txt-b', device_id: 'other', site_id: 'x' },
    ]);
    users.a = await tokenFor(pulse, { username: `txt-a-${engine}`, role: 'customer_viewer', tenantId: TENANT });
    users.b = await tokenFor(pulse, { username: `txt-b-${engine}`, role: 'customer_viewer', tenantId: 'txt-b' });
    users.admin = await tokenFor(pulse, { username: `txt-admin-${engine}`, role: 'customer_admin', tenantId: TENANT });
  }, 60_000);
  afterAll(() => pulse?.close());

  const base = Date.now() - 3600_000;
  const ts = (minute: number) => new Date(base + minute * 60_000).toISOString();
  const create = async (rule: object): Promise<{ status: number; body: Record<string, any> }> => {
    const response = await fetch(`${pulse.base}/customer/alert-rules`, {
      method: 'POST',
      headers: { ...bearer(users.admin!), 'content-type': 'application/json' },
      body: JSON.stringify(rule),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  /** A reading sent now over HTTP; resolves to the response. */
  const send = (device: string, site: string, metrics: object) =>
    fetch(`${pulse.base}/ingest/v1/tenant/${TENANT}/device/${device}/telemetry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-provision-token': tokens.get(`${TENANT}/${device}`)! },
      body: JSON.stringify({ ts: new Date().toISOString(), site_id: site, metrics }),
    });
  /** The device's latest state as the evaluator wrote it, with its alert decisions for the same readings. */
  const stateOf = async (device: string) => (await get('a', `/customer/devices/${device}`)).body.device.state;
  /** Sends the reading and waits until the evaluator has taken it. */
  const sendTaken = async (device: string, site: string, metric: string, value: unknown) => {
    expect((await send(device, site, { [metric]: value })).status).toBe(202);
    await waitFor(async () => JSON.stringify((await stateOf(device))[metric]) === JSON.stringify(value), 10_000);
  };
  /** The newest alert whose summary matches, in that status (OPEN, CLOSED or ALL). */
  const alertLike = async (summary: RegExp, status = 'OPEN') =>
    ((await get('admin', `/customer/alerts?status=${status}&limit=100`)).body.alerts as Record<string, any>[]).find(
      (alert) => summary.test(alert.summary),
    );

  it('stores text states and positions from MQTT and HTTP, and refuses a position out of range', async () => {
    const token = tokens.get(`${TENANT}/truck-1`)!;
    const client = await mqtt.connectAsync(pulse.mqttUrl!, {
      username: `${TENANT}/truck-1`,
      password: token,
      clientId: `${TENANT}/truck-1`,
    });
    const route = [
      { lat: 52.37, lon: 4.89 },
      { lat: 52.09, lon: 5.12, alt: 5, acc: 8 },
      { lat: 51.92, lon: 4.48 },
    ];
    for (const [i, position] of route.entries()) {
      await client.publishAsync(
        `tenant/${TENANT}/device/truck-1/telemetry`,
        JSON.stringify({
          ts: ts(i * 10),
          site_id: 'road',
          metrics: { position, mode: i === 1 ? 'UNLOADING' : 'DRIVING', speed: 50 - i },
        }),
        { qos: 1 },
      );
    }
    await client.endAsync();

    const fridge = tokens.get(`${TENANT}/fridge-1`)!;
    const post = (metrics: object, minute: number) =>
      fetch(`${pulse.base}/ingest/v1/tenant/${TENANT}/device/fridge-1/telemetry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-provision-token': fridge },
        body: JSON.stringify({ ts: ts(minute), site_id: 'plant', metrics }),
      });
    for (const [minute, door] of [
      [0, 'closed'],
      [5, 'open'],
      [6, 'open'],
      [9, 'closed'],
    ] as const)
      expect((await post({ door, temp_c: 4 }, minute)).status).toBe(202);
    const refused = await post({ here: { lat: 95, lon: 0 } }, 11);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ detail: 'INVALID_POSITION' });
    const oversize = await post({ door: 'x'.repeat(300) }, 12);
    expect(oversize.status).toBe(400);
    expect(await oversize.json()).toEqual({ detail: 'INVALID_METRICS' });

    await waitFor(async () => (await get('a', '/api/v2/devices/fridge-1/telemetry?hours=3')).body.count === 4);
    const rows = (await get('a', '/api/v2/devices/truck-1/telemetry?hours=3')).body.telemetry;
    expect(rows.map((row: { metrics: { mode: string } }) => row.metrics.mode)).toEqual([
      'DRIVING',
      'UNLOADING',
      'DRIVING',
    ]);
    expect(rows[1].metrics.position).toEqual({ lat: 52.09, lon: 5.12, alt: 5, acc: 8 });
  });

  it('reads a state timeline, a track and the fleet’s last positions', async () => {
    const window = `start=${encodeURIComponent(ts(-1))}&end=${encodeURIComponent(ts(30))}`;
    const states = (await get('a', `/api/v2/devices/fridge-1/states?metric=door&${window}`)).body;
    expect(states.segments.map((s: { value: string }) => s.value)).toEqual(['closed', 'open', 'closed']);
    const { from, to } = states.segments[1];
    expect([Date.parse(from), Date.parse(to)]).toEqual([Date.parse(ts(5)), Date.parse(ts(9))]);

    const route = (await get('a', `/api/v2/devices/truck-1/track?${window}`)).body;
    expect(route.points.map((p: { lat: number }) => p.lat)).toEqual([52.37, 52.09, 51.92]);

    await waitFor(async () => (await get('a', '/api/v2/fleet/positions')).body.devices.length === 1);
    const map = (await get('a', '/api/v2/fleet/positions')).body;
    expect(map.devices[0]).toMatchObject({ device_id: 'truck-1', lat: 51.92, lon: 4.48, site_id: 'road' });

    const csv = (await get('a', `/api/v2/devices/fridge-1/telemetry/export?format=csv&${window}`)).body as string;
    expect(csv).toMatch(/door/);
    expect(csv).toMatch(/,open/);
  });

  it('reads back the latest text value and position: the newest telemetry and the device state', async () => {
    const newest = (await get('a', '/api/v2/devices/truck-1/telemetry/latest?count=1')).body;
    expect(newest.telemetry[0].metrics).toEqual({ position: { lat: 51.92, lon: 4.48 }, mode: 'DRIVING', speed: 48 });
    await waitFor(async () => (await stateOf('truck-1'))?.mode === 'DRIVING');
    expect(await stateOf('truck-1')).toEqual({ position: { lat: 51.92, lon: 4.48 }, mode: 'DRIVING', speed: 48 });
    const fridge = (await get('a', '/api/v2/devices/fridge-1/telemetry/latest?count=2')).body;
    expect(fridge.telemetry.map((row: { metrics: { door: string } }) => row.metrics.door)).toEqual(['closed', 'open']);
    await waitFor(async () => (await stateOf('fridge-1'))?.door === 'closed');
    expect((await get('a', '/api/v2/devices/fridge-1')).body.device.state).toEqual({ door: 'closed', temp_c: 4 });
  });

  it('refuses a text longer than TEXT_METRIC_MAX_LENGTH with its reason, quarantined, and stores one within it', async () => {
    const longest = 'y'.repeat(TEXT_LIMIT);
    const refused = await send('fridge-1', 'plant', { note: `${longest}!` });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ detail: 'INVALID_METRICS' });
    expect((await send('fridge-1', 'plant', { note: longest })).status).toBe(202);
    await waitFor(
      async () =>
        (await get('a', '/api/v2/devices/fridge-1/telemetry/latest?count=1')).body.telemetry[0]?.metrics.note ===
        longest,
    );
    const quarantined = async () =>
      ((await get('admin', '/customer/quarantine')).body.events as Record<string, any>[]).filter(
        (event) => event.device_id === 'fridge-1' && event.reason === 'INVALID_METRICS',
      );
    await waitFor(async () => (await quarantined()).some((event) => event.payload?.metrics?.note === `${longest}!`));
  });

  it('quarantines over MQTT a text too long as INVALID_METRICS and a position out of range as INVALID_POSITION', async () => {
    const client = await mqtt.connectAsync(pulse.mqttUrl!, {
      username: `${TENANT}/truck-1`,
      password: tokens.get(`${TENANT}/truck-1`)!,
      clientId: `${TENANT}/truck-1`,
    });
    const publish = (metrics: object) =>
      client.publishAsync(
        `tenant/${TENANT}/device/truck-1/telemetry`,
        JSON.stringify({ ts: new Date().toISOString(), site_id: 'road', metrics }),
        { qos: 1 },
      );
    await publish({ mode: 'z'.repeat(TEXT_LIMIT + 1) });
    await publish({ position: { lat: 10, lon: 181 } });
    await client.endAsync();
    const reasons = async () =>
      ((await get('admin', '/customer/quarantine')).body.events as Record<string, any>[])
        .filter((event) => event.device_id === 'truck-1')
        .map((event) => `${event.reason} ${event.topic} ${JSON.stringify(event.payload.metrics)}`)
        .sort();
    await waitFor(async () => (await reasons()).length === 2, 10_000);
    expect(await reasons()).toEqual([
      `INVALID_METRICS tenant/${TENANT}/device/truck-1/telemetry {"mode":"${'z'.repeat(TEXT_LIMIT + 1)}"}`,
      `INVALID_POSITION tenant/${TENANT}/device/truck-1/telemetry {"position":{"lat":10,"lon":181}}`,
    ]);
  });

  it('opens and closes alerts from a text rule and a geofence rule', async () => {
    const door = await create({
      name: 'Door open',
      metric_name: 'door',
      operator: 'EQ',
      values: ['open'],
      severity: 4,
    });
    expect(door.status, JSON.stringify(door.body)).toBe(201);
    expect(door.body).toMatchObject({ operator: 'EQ', values: ['open'], geofence: null });
    const fence = await create({
      name: 'Left the depot',
      metric_name: 'position',
      operator: 'OUTSIDE',
      geofence: { type: 'circle', lat: 52.37, lon: 4.89, radius_m: 1000 },
      hysteresis: 100,
    });
    expect(fence.status, JSON.stringify(fence.body)).toBe(201);
    expect((await create({ name: 'x', metric_name: 'door', operator: 'EQ' })).body.detail).toMatch(/EQ needs values/);
    expect(
      (
        await create({
          name: 'x',
          metric_name: 'p',
          operator: 'INSIDE',
          geofence: { type: 'circle', lat: 0, lon: 0, radius_m: 0 },
        })
      ).status,
    ).toBe(422);
    expect((await create({ name: 'x', metric_name: 't', operator: 'GT' })).status).toBe(422);

    const openAlerts = async () =>
      ((await get('a', '/api/v2/alerts?status=OPEN')).body.alerts as { summary: string; device_id: string }[]).filter(
        (a) => /door|position/.test(a.summary),
      );
    // The evaluator picks new rules up within a few seconds: readings go on until both alerts open.
    await waitFor(async () => {
      await send('fridge-1', 'plant', { door: 'open' });
      await send('truck-1', 'road', { position: { lat: 52.5, lon: 4.89 } });
      return (await openAlerts()).length === 2;
    }, 20_000);
    expect((await openAlerts()).map((a) => a.summary).sort()).toEqual([
      'plant: fridge-1 door (open) == open',
      'road: truck-1 position (52.50000, 4.89000) outside geofence',
    ]);
    await send('fridge-1', 'plant', { door: 'closed' });
    // 950 m from the centre: inside, but not 100 m inside: the alert stays open once the evaluator has
    // taken the position (the device's latest state shows it, written with its alert decisions); 800 m closes it.
    const near = { lat: 52.37 + 0.00855, lon: 4.89 };
    await send('truck-1', 'road', { position: near });
    await waitFor(async () => (await stateOf('truck-1')).position?.lat === near.lat);
    await waitFor(async () => (await openAlerts()).length === 1, 10_000);
    expect((await openAlerts())[0]!.summary).toMatch(/^road: truck-1 position .* outside geofence$/);
    await send('truck-1', 'road', { position: { lat: 52.37 + 0.0072, lon: 4.89 } });
    await waitFor(async () => (await openAlerts()).length === 0, 10_000);
  });

  it('opens a text rule with a duration only once the state has held that long, and closes it when it changes', async () => {
    const rule = await create({
      name: 'Lid left open',
      metric_name: 'lid',
      operator: 'EQ',
      values: ['open'],
      duration_seconds: 2,
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    expect(rule.body).toMatchObject({ operator: 'EQ', values: ['open'], duration_seconds: 2 });
    await rulesInForce(pulse);
    const lid = /^plant: fridge-1 lid \(open\) == open$/;
    const firstOpen = Date.now();
    await sendTaken('fridge-1', 'plant', 'lid', 'open');
    expect(await alertLike(lid, 'ALL')).toBeUndefined();
    await waitFor(async () => {
      await send('fridge-1', 'plant', { lid: 'open' });
      return !!(await alertLike(lid));
    }, 10_000);
    const opened = (await alertLike(lid))!;
    expect(Date.parse(opened.created_at)).toBeGreaterThanOrEqual(firstOpen + 2000);
    await sendTaken('fridge-1', 'plant', 'lid', 'closed');
    expect(await alertLike(lid)).toBeUndefined();
    expect((await alertLike(lid, 'CLOSED'))?.alert_id).toBe(opened.alert_id);
  });

  it.each([
    { operator: 'NE', values: ['auto'], matching: 'manual', other: 'auto', summary: 'manual) != auto' },
    {
      operator: 'IN',
      values: ['defrost', 'fault'],
      matching: 'fault',
      other: 'cooling',
      summary: 'fault) in [defrost, fault]',
    },
  ])('opens a $operator text rule for a matching value and closes it for another', async (row) => {
    const metric = `program_${row.operator.toLowerCase()}`;
    const rule = await create({
      name: `${row.operator} rule`,
      metric_name: metric,
      operator: row.operator,
      values: row.values,
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    await rulesInForce(pulse);
    const summary = new RegExp(`^plant: fridge-1 ${metric} \\(`);
    await sendTaken('fridge-1', 'plant', metric, row.other);
    expect(await alertLike(summary, 'ALL')).toBeUndefined();
    await sendTaken('fridge-1', 'plant', metric, row.matching);
    expect((await alertLike(summary))?.summary).toBe(`plant: fridge-1 ${metric} (${row.summary}`);
    await sendTaken('fridge-1', 'plant', metric, row.other);
    expect(await alertLike(summary)).toBeUndefined();
    expect(await alertLike(summary, 'CLOSED')).toBeDefined();
  });

  it('opens an INSIDE rule on a polygon geofence when the position enters it, and closes it when it leaves', async () => {
    // A yard about 1.1 km by 0.7 km.
    const yard = {
      type: 'polygon',
      points: [
        [52.0, 5.0],
        [52.0, 5.01],
        [52.01, 5.01],
        [52.01, 5.0],
      ],
    };
    const rule = await create({ name: 'In the yard', metric_name: 'location', operator: 'INSIDE', geofence: yard });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    expect(rule.body.geofence).toEqual(yard);
    await rulesInForce(pulse);
    const entered = /^road: truck-1 location \(.*\) inside geofence$/;
    await sendTaken('truck-1', 'road', 'location', { lat: 52.02, lon: 5.005 });
    expect(await alertLike(entered, 'ALL')).toBeUndefined();
    await sendTaken('truck-1', 'road', 'location', { lat: 52.005, lon: 5.005 });
    expect((await alertLike(entered))?.summary).toBe('road: truck-1 location (52.00500, 5.00500) inside geofence');
    await sendTaken('truck-1', 'road', 'location', { lat: 52.005, lon: 5.02 });
    expect(await alertLike(entered)).toBeUndefined();
    expect(await alertLike(entered, 'CLOSED')).toBeDefined();
  });

  it('shows another tenant none of it', async () => {
    expect((await get('b', '/api/v2/devices/fridge-1/states?metric=door')).status).toBe(404);
    expect((await get('b', '/api/v2/devices/truck-1/track')).status).toBe(404);
    expect((await get('b', '/api/v2/fleet/positions')).body.devices).toEqual([]);
  });
});
