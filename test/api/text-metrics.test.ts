// Text states and positions as metric values (issue 31) on both engines: published over MQTT (embedded
// broker) and HTTP, stored, shown as the latest value, exported, read back as a state timeline, a track
// and the fleet's last positions; a position out of range is refused with its own reason; another tenant
// reads none of it.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { stateSegments } from '../../src/model/telemetry-states.js';
import { bearer, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { provisionDevices } from '../helpers/provision.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'txt-a';

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
    pulse = await startTestPlatform(engine, { API_RATE_LIMIT: '100000', FLUSH_INTERVAL_MS: '50' }, undefined, {
      embeddedBroker: true,
    });
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
    expect((await post({ door: 'x'.repeat(300) }, 12)).status).toBe(400);

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

  it('opens and closes alerts from a text rule and a geofence rule', async () => {
    const create = async (rule: object): Promise<{ status: number; body: Record<string, any> }> => {
      const response = await fetch(`${pulse.base}/customer/alert-rules`, {
        method: 'POST',
        headers: { ...bearer(users.admin!), 'content-type': 'application/json' },
        body: JSON.stringify(rule),
      });
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    };
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

    const now = () => new Date().toISOString();
    const send = (device: string, site: string, metrics: object) =>
      fetch(`${pulse.base}/ingest/v1/tenant/${TENANT}/device/${device}/telemetry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-provision-token': tokens.get(`${TENANT}/${device}`)! },
        body: JSON.stringify({ ts: now(), site_id: site, metrics }),
      });
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
    // 950 m from the centre: inside, but not 100 m inside: the alert stays open; 800 m closes it.
    await send('truck-1', 'road', { position: { lat: 52.37 + 0.00855, lon: 4.89 } });
    await waitFor(async () => (await openAlerts()).length === 1, 10_000);
    await send('truck-1', 'road', { position: { lat: 52.37 + 0.0072, lon: 4.89 } });
    await waitFor(async () => (await openAlerts()).length === 0, 10_000);
  });

  it('shows another tenant none of it', async () => {
    expect((await get('b', '/api/v2/devices/fridge-1/states?metric=door')).status).toBe(404);
    expect((await get('b', '/api/v2/devices/truck-1/track')).status).toBe(404);
    expect((await get('b', '/api/v2/fleet/positions')).body.devices).toEqual([]);
  });
});
