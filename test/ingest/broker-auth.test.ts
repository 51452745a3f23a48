// Devices log in to the embedded broker as <tenant_id>/<device_id> with their provision token (issue 16):
// in PROD nobody else gets in, a device publishes to its own topics only (its payload may then leave the
// token out), reads no other device's, and is put out when its token is rotated or it is revoked.
import { connect as tcpConnect } from 'node:net';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionDevices } from '../helpers/provision.js';
import { startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { storedRows } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'broker-auth';
const SECRETS_KEY = 'ab'.repeat(32);

describe('the embedded broker in PROD', () => {
  let pulse: TestPlatform;
  let tokens: Map<string, string>;
  const clients: mqtt.MqttClient[] = [];
  const login = (deviceId: string, token: string | undefined) =>
    mqtt.connectAsync(pulse.mqttUrl!, {
      username: `${TENANT}/${deviceId}`,
      password: token,
      reconnectPeriod: 0,
      clientId: `broker-auth-${deviceId}-${Math.random().toString(36).slice(2)}`,
    });
  const stored = (deviceId: string) => storedRows(pulse.db, TENANT, deviceId);
  const telemetry = (extra: object = {}) => JSON.stringify({ site_id: 'site-1', metrics: { temp_c: 21.5 }, ...extra });

  beforeAll(async () => {
    pulse = await startTestPlatform('pglite', { MODE: 'PROD', SECRETS_KEY }, undefined, { embeddedBroker: true });
    tokens = await provisionDevices(
      pulse.base,
      TEST_ADMIN_KEY,
      ['dev-a', 'dev-b', 'dev-c', 'dev-d'].map((device_id) => ({ tenant_id: TENANT, device_id, site_id: 'site-1' })),
    );
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true).catch(() => undefined)));
    await pulse?.close();
  });

  it('refuses anonymous clients, wrong tokens and unknown devices at CONNECT', async () => {
    await expect(
      mqtt.connectAsync(pulse.mqttUrl!, { reconnectPeriod: 0, clientId: 'broker-auth-anon' }),
    ).rejects.toThrow(/Not authorized/);
    await expect(login('dev-a', 'not-the-token')).rejects.toThrow(/Bad username or password/);
    await expect(login('no-such-device', tokens.get(`${TENANT}/dev-a`))).rejects.toThrow(/Bad username or password/);
    await expect(
      mqtt.connectAsync(pulse.mqttUrl!, { username: 'pulse', password: 'guess', reconnectPeriod: 0 }),
    ).rejects.toThrow(/Bad username or password/);
  });

  it('stores what a logged-in device publishes without a token in its payload', async () => {
    const device = await login('dev-a', tokens.get(`${TENANT}/dev-a`));
    clients.push(device);
    await device.publishAsync(`tenant/${TENANT}/device/dev-a/telemetry`, telemetry(), { qos: 1 });
    // QoS 1: the PUBACK means stored.
    expect(await stored('dev-a')).toBe(1);
  });

  it('lets a device publish to its own topics only, even with the other device’s real token', async () => {
    const device = await login('dev-b', tokens.get(`${TENANT}/dev-b`));
    clients.push(device);
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device
      .publishAsync(
        `tenant/${TENANT}/device/dev-c/telemetry`,
        telemetry({ provision_token: tokens.get(`${TENANT}/dev-c`) }),
        { qos: 1 },
      )
      .catch(() => undefined);
    await closed;
    expect(await stored('dev-c')).toBe(0);
  });

  it('grants no subscription to # or to other devices’ topics; a device’s own commands subtree is allowed', async () => {
    const device = await login('dev-c', tokens.get(`${TENANT}/dev-c`));
    clients.push(device);
    // mqtt.js rejects a SUBACK that refuses (0x80).
    for (const filter of [
      '#',
      'tenant/#',
      `tenant/${TENANT}/device/dev-a/telemetry`,
      `tenant/${TENANT}/device/dev-c/+`,
    ]) {
      await expect(device.subscribeAsync(filter), filter).rejects.toThrow(/Subscribe error/);
    }
    const own = await device.subscribeAsync(`tenant/${TENANT}/device/dev-c/commands/#`);
    expect(own.map((grant) => grant.qos)).toEqual([0]);
  });

  it('puts a device out when its token is rotated: the old token is refused, the new one accepted', async () => {
    const oldToken = tokens.get(`${TENANT}/dev-d`)!;
    const device = await login('dev-d', oldToken);
    clients.push(device);
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    const rotated = await pulse.call(`/api/admin/devices/${TENANT}/dev-d/rotate-token`, { method: 'POST' });
    expect(rotated.status).toBe(200);
    await closed;
    await expect(login('dev-d', oldToken)).rejects.toThrow(/Bad username or password/);
    const again = await login('dev-d', rotated.body.new_provision_token);
    clients.push(again);
    await again.publishAsync(`tenant/${TENANT}/device/dev-d/telemetry`, telemetry(), { qos: 1 });
    expect(await stored('dev-d')).toBe(1);
  });

  it('puts a revoked device out and refuses it from then on', async () => {
    const token = tokens.get(`${TENANT}/dev-a`)!;
    const device = await login('dev-a', token);
    clients.push(device);
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    expect((await pulse.call(`/api/admin/devices/${TENANT}/dev-a/revoke`, { method: 'POST' })).status).toBe(200);
    await closed;
    await expect(login('dev-a', token)).rejects.toThrow(/Bad username or password/);
  });

  it('closes a connection that declares a packet over MQTT_MAX_PACKET_BYTES before reading it', async () => {
    const { port } = new URL(pulse.mqttUrl!);
    const socket = tcpConnect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let closed = false;
    socket.once('close', () => (closed = true));
    // A CONNECT declaring 100 MB: four length bytes 0x80 0x80 0x80 0x30 (= 100,663,296).
    socket.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x30]));
    socket.write(Buffer.alloc(1024));
    await waitFor(() => closed, 5000);
    expect(closed).toBe(true);
  });
});
