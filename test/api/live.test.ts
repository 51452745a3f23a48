// WebSocket /api/v2/ws on PostgreSQL with the embedded broker: authentication and its close codes,
// telemetry (numbers, text states, positions) pushed as ingest accepts it, alert changes as they happen,
// and nothing across tenants.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { customToken, tokenFor } from '../helpers/identity.js';
import { roleHealth, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedAlert } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

interface LiveClient {
  socket: WebSocket;
  frames: any[];
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  next(type: string, predicate?: (frame: any) => boolean): Promise<any>;
}

function connect(url: string): Promise<LiveClient> {
  const socket = new WebSocket(url);
  const frames: any[] = [];
  socket.on('message', (data) => frames.push(JSON.parse(data.toString())));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const client: LiveClient = {
    socket,
    frames,
    closed,
    send: (message) => socket.send(JSON.stringify(message)),
    async next(type, predicate = () => true) {
      let found: any;
      await waitFor(() => (found = frames.find((f) => f.type === type && predicate(f))) !== undefined);
      return found;
    },
  };
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(client));
    socket.once('error', reject);
  });
}

describe('WebSocket /api/v2/ws', () => {
  let pulse: TestPlatform;
  let ws: string;
  let publisher: mqtt.MqttClient;
  let deviceToken: string;
  const tokens: Record<string, string> = {};
  const clients: LiveClient[] = [];
  const open = async (query = '') => {
    const client = await connect(`${ws}${query}`);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    // Telemetry is flushed every 10 s here: frames that arrive sooner were pushed on acceptance.
    pulse = await startTestPlatform(
      'postgres',
      { FLUSH_INTERVAL_MS: '10000', BATCH_SIZE: '5000' },
      ['api', 'provision', 'ingest'],
      { embeddedBroker: true },
    );
    ws = `ws://127.0.0.1:${pulse.httpPort}/api/v2/ws`;
    const created = await pulse.call('/api/admin/devices', {
      json: { tenant_id: 'tenant-a', device_id: 'a-1', site_id: 's' },
    });
    const activated = await pulse.call('/api/device/activate', {
      admin: false,
      json: { tenant_id: 'tenant-a', device_id: 'a-1', activation_code: created.body.activation_code },
    });
    deviceToken = activated.body.provision_token;
    await pulse.call('/api/admin/devices', { json: { tenant_id: 'tenant-b', device_id: 'b-1', site_id: 's' } });
    tokens.a = await tokenFor(pulse, { username: 'ws-a', role: 'customer_viewer', tenantId: 'tenant-a' });
    tokens.b = await tokenFor(pulse, { username: 'ws-b', role: 'customer_admin', tenantId: 'tenant-b' });
    tokens.operator = await tokenFor(pulse, { username: 'ws-op', role: 'operator' });
    publisher = await mqtt.connectAsync(pulse.mqttUrl!);
  }, 60_000);
  afterAll(async () => {
    for (const client of clients) client.socket.terminate();
    await publisher?.endAsync();
    await pulse?.close();
  });

  it('pushes a device telemetry message to its subscriber as soon as ingest accepts it', async () => {
    const client = await open(`?token=${tokens.a}`);
    expect(await client.next('authenticated')).toMatchObject({ role: 'customer_viewer', tenant_id: 'tenant-a' });
    client.send({ action: 'subscribe', type: 'device', device_id: 'a-1' });
    expect(await client.next('subscribed')).toEqual({ type: 'subscribed', channel: 'device', device_id: 'a-1' });

    await publisher.publishAsync(
      'tenant/tenant-a/device/a-1/telemetry',
      JSON.stringify({
        site_id: 's',
        provision_token: deviceToken,
        seq: 7,
        metrics: { temp_c: 22.5, door_open: false },
      }),
      { qos: 0 },
    );
    const frame = await client.next('telemetry');
    expect(frame).toEqual({
      type: 'telemetry',
      device_id: 'a-1',
      data: { timestamp: expect.any(String), metrics: { temp_c: 22.5, door_open: false }, seq: 7 },
    });
    expect(Number.isNaN(Date.parse(frame.data.timestamp))).toBe(false);

    // The last watcher leaving stops the hub's telemetry subscription; the next one starts it again.
    client.send({ action: 'unsubscribe', type: 'device', device_id: 'a-1' });
    await client.next('unsubscribed');
    client.send({ action: 'subscribe', type: 'device', device_id: 'a-1' });
    await waitFor(() => client.frames.filter((f) => f.type === 'subscribed').length === 2);
    await publisher.publishAsync(
      'tenant/tenant-a/device/a-1/telemetry',
      JSON.stringify({ site_id: 's', provision_token: deviceToken, seq: 8, metrics: { temp_c: 23 } }),
      { qos: 0 },
    );
    expect(await client.next('telemetry', (f) => f.data.seq === 8)).toMatchObject({
      data: { metrics: { temp_c: 23 } },
    });
    client.send({ action: 'unsubscribe', type: 'device', device_id: 'a-1' });
    await client.next('unsubscribed');
  });

  it('pushes text states and positions in the frame as the device sent them, beside numbers', async () => {
    const client = await open(`?token=${tokens.a}`);
    await client.next('authenticated');
    client.send({ action: 'subscribe', type: 'device', device_id: 'a-1' });
    await client.next('subscribed');
    const metrics = { temp_c: 4.5, door: 'open', position: { lat: 52.37, lon: 4.895, alt: 3, acc: 8 } };
    await publisher.publishAsync(
      'tenant/tenant-a/device/a-1/telemetry',
      JSON.stringify({ site_id: 's', provision_token: deviceToken, seq: 9, metrics }),
      { qos: 0 },
    );
    expect(await client.next('telemetry', (f) => f.data.seq === 9)).toEqual({
      type: 'telemetry',
      device_id: 'a-1',
      data: { timestamp: expect.any(String), metrics, seq: 9 },
    });
    client.send({ action: 'unsubscribe', type: 'device', device_id: 'a-1' });
    await client.next('unsubscribed');
  });

  it('accepts the token in a first auth message and refuses subscriptions without a device id', async () => {
    const client = await open();
    client.send({ action: 'subscribe', type: 'alerts' });
    client.send({ action: 'auth', token: tokens.a });
    await client.next('authenticated');
    client.send({ action: 'subscribe', type: 'device' });
    expect(await client.next('error')).toEqual({
      type: 'error',
      message: 'device_id required for device subscription',
    });
    // The subscribe sent before authenticating was ignored.
    expect(client.frames.some((f) => f.type === 'subscribed')).toBe(false);
  });

  it('closes with 4001 on a missing, bad or expiring token and 4003 for a role without access', async () => {
    expect(await (await open('?token=')).closed).toEqual({ code: 4001, reason: 'Missing token parameter' });
    expect(await (await open('?token=garbage')).closed).toEqual({ code: 4001, reason: 'Invalid or expired token' });
    const guest = await customToken(pulse, { role: 'guest', tenant_id: 'tenant-a' });
    expect((await (await open(`?token=${guest}`)).closed).code).toBe(4003);

    const shortLived = await customToken(
      pulse,
      { role: 'customer_viewer', tenant_id: 'tenant-a' },
      Math.floor(Date.now() / 1000) + 2,
    );
    const client = await open(`?token=${shortLived}`);
    await client.next('authenticated');
    expect(await client.closed).toEqual({ code: 4001, reason: 'Token expired' });
  });

  it("never lets a tenant subscribe to another tenant's device or receive its alerts", async () => {
    const a = await open(`?token=${tokens.a}`);
    const b = await open(`?token=${tokens.b}`);
    const operator = await open(`?token=${tokens.operator}`);
    b.send({ action: 'subscribe', type: 'device', device_id: 'a-1' });
    expect(await b.next('error')).toMatchObject({ message: 'Device not found' });
    b.send({ action: 'subscribe', type: 'device', device_id: 'a-1', tenant_id: 'tenant-a' });
    expect(await b.next('error', (f) => f.message !== 'Device not found')).toMatchObject({
      message: 'You can only subscribe to your own tenant',
    });

    for (const client of [a, b, operator]) {
      client.send({ action: 'subscribe', type: 'alerts' });
      await client.next('alerts');
    }
    const alertId = await seedAlert(pulse.db, { tenantId: 'tenant-a', deviceId: 'a-1' });
    pulse.bus.publish('alert.changed', { event: 'OPENED', alert_id: alertId, tenant_id: 'tenant-a', fingerprint: 'f' });
    const pushed = await a.next('alert');
    expect(pushed).toMatchObject({
      event: 'OPENED',
      alert: { alert_id: alertId, tenant_id: 'tenant-a', details: { reason: 'test' } },
    });
    expect((await operator.next('alert')).alert.alert_id).toBe(alertId);

    // b's own alert arrives, and is the only alert b ever saw.
    const alertOfB = await seedAlert(pulse.db, { tenantId: 'tenant-b', deviceId: 'b-1' });
    pulse.bus.publish('alert.changed', {
      event: 'OPENED',
      alert_id: alertOfB,
      tenant_id: 'tenant-b',
      fingerprint: 'g',
    });
    await b.next('alert');
    expect(b.frames.filter((f) => f.type === 'alert').map((f) => f.alert.tenant_id)).toEqual(['tenant-b']);
    const snapshot = a.frames.find((f) => f.type === 'alerts');
    expect(snapshot.alerts.every((alert: { tenant_id: string }) => alert.tenant_id === 'tenant-a')).toBe(true);
  });

  it("says when a dashboard's fleet reports, and never follows another tenant's dashboard", async () => {
    const admin = await tokenFor(pulse, { username: 'ws-a-admin', role: 'customer_admin', tenantId: 'tenant-a' });
    const created = await pulse.call('/customer/dashboards', {
      admin: false,
      headers: { authorization: `Bearer ${admin}` },
      json: {
        version: 1,
        name: 'Fleet',
        widgets: [
          { id: 'f', type: 'timeseries', layout: { x: 0, y: 0, w: 6, h: 4 }, options: { metrics: ['temp_c'] } },
        ],
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const dashboardId = created.body.dashboard_id as string;
    const a = await open(`?token=${tokens.a}`);
    a.send({ action: 'subscribe', type: 'dashboard', dashboard_id: dashboardId });
    expect(await a.next('subscribed', (f) => f.channel === 'dashboard')).toEqual({
      type: 'subscribed',
      channel: 'dashboard',
      dashboard_id: dashboardId,
    });
    // A fleet-wide line: any device of the tenant's telemetry changes it; the frame carries no data.
    await publisher.publishAsync(
      'tenant/tenant-a/device/a-1/telemetry',
      JSON.stringify({ site_id: 's', provision_token: deviceToken, seq: 40, metrics: { temp_c: 5 } }),
      { qos: 0 },
    );
    expect(await a.next('changed')).toEqual({ type: 'changed', channel: 'dashboard', dashboard_id: dashboardId });
    a.send({ action: 'unsubscribe', type: 'dashboard', dashboard_id: dashboardId });
    expect(await a.next('unsubscribed', (f) => f.channel === 'dashboard')).toMatchObject({ dashboard_id: dashboardId });

    const b = await open(`?token=${tokens.b}`);
    b.send({ action: 'subscribe', type: 'dashboard', dashboard_id: dashboardId });
    expect(await b.next('error')).toEqual({ type: 'error', message: 'Dashboard not found' });
    expect(b.frames.some((f) => f.type === 'subscribed')).toBe(false);

    // Each follow is a subscription of the server's: a connection holds ten at most.
    for (let i = 0; i < 11; i += 1)
      a.send({ action: 'subscribe', type: 'dashboard', dashboard_id: 'default', device: `d-${i}` });
    expect(await a.next('error')).toEqual({
      type: 'error',
      message: 'A connection follows at most 10 dashboards: unsubscribe one first',
    });
    expect(a.frames.filter((f) => f.type === 'subscribed' && f.dashboard_id === 'default')).toHaveLength(10);
  });

  it('ends the connection on a message that is not JSON', async () => {
    const client = await open(`?token=${tokens.a}`);
    await client.next('authenticated');
    client.socket.send('hello');
    expect((await client.closed).code).toBe(1003);
  });

  it('holds at most ten unauthenticated connections per address; authenticating frees a place', async () => {
    // Earlier tests' connections that never authenticated are closed first.
    for (const client of clients.splice(0)) client.socket.terminate();
    await waitFor(async () => (await roleHealth(pulse, 'api')).websocket_connections === 0);
    const waiting = await Promise.all(Array.from({ length: 10 }, () => open()));
    const refused = await open();
    expect(await refused.closed).toEqual({
      code: 1008,
      reason: 'Too many connections waiting to authenticate from this address',
    });
    waiting[0]!.send({ action: 'auth', token: tokens.a });
    await waiting[0]!.next('authenticated');
    const admitted = await open();
    admitted.send({ action: 'auth', token: tokens.a });
    expect(await admitted.next('authenticated')).toMatchObject({ tenant_id: 'tenant-a' });
  });
});
