// Devices log in to an external Mosquitto through its dynamic-security plugin, kept in step by Pulse
// (MQTT_BROKER_AUTH=dynsec, issue 16): a private Mosquitto with the plugin, Pulse on PostgreSQL. Nobody
// else gets in; a device publishes to its own topics only (without a token in its payload), reads no
// other device's; rotation and revocation reach the broker at once, and a reconcile catches up with
// changes the broker missed.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dynsec } from '../../src/broker/dynsec.js';
import { reconcileLogins } from '../../src/broker-logins/sync.js';
import { createLogger } from '../../src/app/log.js';
import { startDynsecMosquitto } from '../helpers/mosquitto.js';
import { provisionDevices } from '../helpers/provision.js';
import { tokenFor } from '../helpers/identity.js';
import { startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { storedRows } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'dynsec';
const run = `${process.pid}-${Date.now().toString(36)}`;

describe('device logins on Mosquitto with dynamic security', () => {
  let broker: Awaited<ReturnType<typeof startDynsecMosquitto>>;
  let pulse: TestPlatform;
  let tokens: Map<string, string>;
  const clients: mqtt.MqttClient[] = [];
  // A login's client id is its user name: the only one Mosquitto lets it connect with.
  const connectAs = async (username: string | undefined, password: string | undefined, clientId = username) => {
    const client = await mqtt.connectAsync(broker.url, {
      ...(username && { username }),
      ...(password && { password }),
      reconnectPeriod: 0,
      clientId: clientId ?? `dynsec-test-${Math.random().toString(36).slice(2)}`,
    });
    clients.push(client);
    return client;
  };
  const login = (deviceId: string, token = tokens.get(`${TENANT}/${deviceId}`)) =>
    connectAs(`${TENANT}/${deviceId}`, token);
  const stored = (deviceId: string) => storedRows(pulse.db, TENANT, deviceId);
  const telemetry = (extra: object = {}) => JSON.stringify({ site_id: 'site-1', metrics: { temp_c: 21.5 }, ...extra });
  const closed = (client: mqtt.MqttClient) =>
    new Promise<void>((resolve) => (client.connected ? client.once('close', () => resolve()) : resolve()));

  beforeAll(async () => {
    broker = await startDynsecMosquitto('dynsec-admin-pw');
    pulse = await startTestPlatform(
      'postgres',
      {
        MQTT_URL: broker.adminUrl,
        MQTT_BROKER_AUTH: 'dynsec',
        MQTT_SHARED_GROUP: `dynsec-${process.pid}`,
        MQTT_CLIENT_ID: `dynsec-ingest-${run}`,
      },
      ['api', 'provision', 'ingest'],
    );
    tokens = await provisionDevices(
      pulse.base,
      TEST_ADMIN_KEY,
      ['dev-a', 'dev-b', 'dev-c', 'dev-d'].map((device_id) => ({ tenant_id: TENANT, device_id, site_id: 'site-1' })),
    );
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true).catch(() => undefined)));
    await pulse?.close();
    await broker?.close();
  });

  it('refuses anonymous clients, wrong tokens and unknown devices at CONNECT', async () => {
    await expect(connectAs(undefined, undefined)).rejects.toThrow(/Not authorized|Bad username or password/);
    await expect(login('dev-a', 'not-the-token')).rejects.toThrow(/Not authorized|Bad username or password/);
    await expect(login('no-such-device', tokens.get(`${TENANT}/dev-a`))).rejects.toThrow(
      /Not authorized|Bad username or password/,
    );
  });

  it('binds each login to its own client id: no device can put another out by taking its id', async () => {
    const owner = await login('dev-a');
    let kicked = false;
    owner.on('close', () => (kicked = true));
    await expect(connectAs(`${TENANT}/dev-b`, tokens.get(`${TENANT}/dev-b`), `${TENANT}/dev-a`)).rejects.toThrow(
      /Not authorized|Bad username or password|Identifier rejected/,
    );
    // Nor with a client id of its own choosing, which is not its login's.
    await expect(connectAs(`${TENANT}/dev-b`, tokens.get(`${TENANT}/dev-b`), 'dev-b-random')).rejects.toThrow(
      /Not authorized|Bad username or password|Identifier rejected/,
    );
    expect(owner.connected).toBe(true);
    expect(kicked).toBe(false);
    await owner.endAsync();
  });

  it('tells devices the broker without the admin credentials of MQTT_URL', async () => {
    const issued = await pulse.call('/api/admin/devices', {
      json: { tenant_id: TENANT, device_id: 'dev-new', site_id: 'site-1' },
    });
    expect(issued.status).toBe(200);
    expect(JSON.stringify(pulse.mqttUrl)).not.toContain('dynsec-admin-pw');
  });

  it('stores what a logged-in device publishes without a token in its payload', async () => {
    const device = await login('dev-a');
    await device.publishAsync(`tenant/${TENANT}/device/dev-a/telemetry`, telemetry(), { qos: 1 });
    await waitFor(async () => (await stored('dev-a')) === 1, 10_000);
  });

  it('drops what a device publishes as another, even with that device’s real token', async () => {
    const device = await login('dev-b');
    await device.publishAsync(
      `tenant/${TENANT}/device/dev-c/telemetry`,
      telemetry({ provision_token: tokens.get(`${TENANT}/dev-c`) }),
      { qos: 1 },
    );
    // Its own message, sent after, arrives; the one before it never does.
    await device.publishAsync(`tenant/${TENANT}/device/dev-b/telemetry`, telemetry(), { qos: 1 });
    await waitFor(async () => (await stored('dev-b')) === 1, 10_000);
    expect(await stored('dev-c')).toBe(0);
  });

  it("lets no device read another device's topics", async () => {
    const spy = await login('dev-d');
    for (const filter of [
      '#',
      `tenant/${TENANT}/device/dev-a/+`,
      `tenant/${TENANT}/#`,
      '$share/g/tenant/+/device/+/+',
      '$SYS/#', // every client id and subscription of the broker
    ])
      await expect(spy.subscribeAsync(filter), filter).rejects.toThrow(/Subscribe error/);
    const own = await spy.subscribeAsync(`tenant/${TENANT}/device/dev-d/commands/#`);
    expect(own[0]!.qos).not.toBe(128);
    const seen: string[] = [];
    spy.on('message', (topic) => seen.push(topic));
    const sender = await login('dev-a');
    await sender.publishAsync(`tenant/${TENANT}/device/dev-a/telemetry`, telemetry(), { qos: 1 });
    await waitFor(async () => (await stored('dev-a')) === 2, 10_000);
    expect(seen).toEqual([]);
  });

  it('puts a device out when its token is rotated: the old token is refused, the new one accepted', async () => {
    const device = await login('dev-c');
    const out = closed(device);
    const rotated = await pulse.call(`/api/admin/devices/${TENANT}/dev-c/rotate-token`, { method: 'POST' });
    expect(rotated.status).toBe(200);
    await out;
    await expect(login('dev-c')).rejects.toThrow(/Not authorized|Bad username or password/);
    tokens.set(`${TENANT}/dev-c`, rotated.body.new_provision_token);
    const again = await login('dev-c');
    await again.publishAsync(`tenant/${TENANT}/device/dev-c/telemetry`, telemetry(), { qos: 1 });
    await waitFor(async () => (await stored('dev-c')) === 1, 10_000);
  });

  it('puts a revoked device out and refuses it from then on', async () => {
    const device = await login('dev-b');
    const out = closed(device);
    expect((await pulse.call(`/api/admin/devices/${TENANT}/dev-b/revoke`, { method: 'POST' })).status).toBe(200);
    await out;
    await expect(login('dev-b')).rejects.toThrow(/Not authorized|Bad username or password/);
  });

  it("gives a tenant's alert readers a login on Mosquitto that reads only alerts/<tenant>/#", async () => {
    const admin = await tokenFor(pulse, { username: 'dynsec-admin', role: 'customer_admin', tenantId: TENANT });
    const headers = { authorization: `Bearer ${admin}` };
    const created = await pulse.call('/customer/mqtt-readers', { admin: false, headers, json: { name: 'scada' } });
    expect(created.status).toBe(201);
    expect(created.body.mqtt_url).not.toContain('dynsec-admin-pw');
    const reader = await connectAs(created.body.username, created.body.password);
    for (const filter of ['alerts/#', 'alerts/other/#', `tenant/${TENANT}/#`, '$SYS/#'])
      await expect(reader.subscribeAsync(filter), filter).rejects.toThrow(/Subscribe error/);
    await reader.subscribeAsync(`alerts/${TENANT}/#`, { qos: 1 });
    const seen: string[] = [];
    reader.on('message', (topic) => seen.push(topic));
    // Published as Pulse's MQTT integration does: the service login.
    const service = await mqtt.connectAsync(pulse.deps.serviceMqttUrl!, { reconnectPeriod: 0 });
    await service.publishAsync(`alerts/${TENANT}/site-1/NO_HEARTBEAT`, '{}', { qos: 1 });
    await service.endAsync();
    await waitFor(() => seen.length === 1, 5000);

    const out = closed(reader);
    const removed = await pulse.call('/customer/mqtt-readers/scada', { admin: false, headers, method: 'DELETE' });
    expect(removed.status).toBe(204);
    await out;
    await expect(connectAs(created.body.username, created.body.password)).rejects.toThrow(
      /Not authorized|Bad username or password/,
    );
  });

  it('reconciles what changed while the broker was not told: a device revoked behind its back is put out', async () => {
    // dev-d revoked in the database alone: no event reached the broker.
    await pulse.db.withService((tx) =>
      tx.query(`UPDATE device_registry SET status = 'REVOKED' WHERE tenant_id = $1 AND device_id = 'dev-d'`, [TENANT]),
    );
    await login('dev-d'); // still let in: the broker has not heard
    const dynsec = await Dynsec.open(broker.adminUrl, createLogger('silent', { pretty: false }));
    try {
      // dev-a's login as an earlier version made it: no client id of its own.
      await dynsec.run([{ command: 'setClientId', username: `${TENANT}/dev-a` }]);
      await connectAs(`${TENANT}/dev-a`, tokens.get(`${TENANT}/dev-a`), 'dev-a-any-id');
      const actions = await reconcileLogins(dynsec, pulse.db, createLogger('silent', { pretty: false }));
      expect(actions.disable).toEqual([`${TENANT}/dev-d`]);
      expect(actions.unbound).toEqual([`${TENANT}/dev-a`]);
      await expect(connectAs(`${TENANT}/dev-a`, tokens.get(`${TENANT}/dev-a`), 'dev-a-any-id')).rejects.toThrow(
        /Not authorized|Bad username or password|Identifier rejected/,
      );
      // dev-new was registered but never activated: no token, no login, nothing to say about it.
      expect(actions.withoutLogin).toEqual([]);
    } finally {
      await dynsec.close();
    }
    await expect(login('dev-d')).rejects.toThrow(/Not authorized|Bad username or password/);
  });
});
