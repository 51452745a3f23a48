// The embedded broker's gates (issue 36 items 1–4), on the broker alone with real MQTT clients: nobody but
// Pulse gets in before every gate is installed (and is told to retry), no device message is acknowledged
// while nothing would store it, a client id belongs to the login that holds it, every forwarded message is
// checked against the receiver's rights, and `$SYS` is Pulse's own.
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/broker/embedded.js';
import { createLogger } from '../../src/app/log.js';
import { reconnectWithBackoff } from '../../src/simulator/index.js';
import { waitFor } from '../helpers/wait.js';

const log = createLogger('silent', { pretty: false });
const TOKEN = 'tok-good';

let broker: EmbeddedBroker | undefined;
const clients: mqtt.MqttClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true).catch(() => undefined)));
  await broker?.stop();
  broker = undefined;
});

async function start(options: { open?: boolean; requireAuth?: boolean } = {}) {
  broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    log,
    requireAuth: options.requireAuth ?? false,
    maxPacketBytes: 65536,
  });
  broker.checkDevicesWith(async (_tenant, _device, token) => token === TOKEN);
  broker.checkReadersWith(async (_tenant, _name, password) => password === 'reader-pw');
  if (options.open ?? true) broker.open();
  return broker;
}

async function client(options: mqtt.IClientOptions = {}) {
  const connected = await mqtt.connectAsync(broker!.url, { reconnectPeriod: 0, ...options });
  connected.on('error', () => undefined);
  clients.push(connected);
  return connected;
}
const device = (tenant: string, id: string, options: mqtt.IClientOptions = {}) =>
  client({ username: `${tenant}/${id}`, password: TOKEN, clientId: `${tenant}/${id}`, ...options });
const service = (options: mqtt.IClientOptions = {}) => client({ ...options, ...credentialsOf(broker!.serviceUrl) });
const credentialsOf = (url: string) => {
  const parsed = new URL(url);
  return { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) };
};
const closed = (c: mqtt.MqttClient) => new Promise<void>((resolve) => c.once('close', () => resolve()));

describe('the embedded broker before and after its gates', () => {
  it('tells devices, readers and anonymous clients to retry until open, and lets Pulse in at once', async () => {
    await start({ open: false });
    await expect(device('t', 'd1')).rejects.toThrow(/Server unavailable/);
    await expect(client({ clientId: 'anon-early' })).rejects.toThrow(/Server unavailable/);
    await expect(client({ username: 't/alerts/ops', password: 'reader-pw' })).rejects.toThrow(/Server unavailable/);
    await service(); // the MQTT integration connects while the roles start
    broker!.open();
    await device('t', 'd1');
  });

  it('brings back a device that was told to retry, with backoff, once the broker opens', async () => {
    await start({ open: false });
    const retrying = reconnectWithBackoff(
      mqtt.connect(broker!.url, {
        username: 't/d1',
        password: TOKEN,
        clientId: 't/d1',
        reconnectPeriod: 100,
        reconnectOnConnackError: true,
      }),
    );
    clients.push(retrying);
    const refusals: number[] = [];
    retrying.on('close', () => refusals.push(retrying.options.reconnectPeriod!));
    await waitFor(() => refusals.length >= 3, 10_000);
    expect(refusals[2]).toBeGreaterThan(refusals[0]!); // waiting longer each time
    broker!.open();
    await waitFor(() => retrying.connected, 10_000);
    expect(retrying.options.reconnectPeriod).toBe(1000);
  });

  it('acknowledges no device message while no gate would store it, and closes the connection instead', async () => {
    await start();
    const anonymous = await client({ clientId: 'anon-publisher' });
    const out = closed(anonymous);
    let acknowledged = false;
    anonymous.publish('tenant/t/device/d1/telemetry', '{}', { qos: 1 }, (error) => (acknowledged = !error));
    await out;
    expect(acknowledged).toBe(false);

    // With a gate the same message is handed over, and acknowledged after.
    const seen: string[] = [];
    const ungate = broker!.gatePublishes(
      (topic) => topic.startsWith('tenant/'),
      (packet, done) => {
        seen.push(packet.topic);
        done();
      },
    );
    const again = await client({ clientId: 'anon-publisher-2' });
    await again.publishAsync('tenant/t/device/d1/telemetry', '{}', { qos: 1 });
    expect(seen).toEqual(['tenant/t/device/d1/telemetry']);
    // Ingest stopping removes its gate: refused again.
    ungate();
    const after = closed(again);
    again.publish('tenant/t/device/d1/telemetry', '{}', { qos: 1 });
    await after;
  });
});

describe('client ids belong to their login', () => {
  it('refuses another tenant’s device, and an anonymous client, the id a device holds; the device stays', async () => {
    await start();
    const owner = await device('tenant-b', 'pump');
    let kicked = false;
    owner.on('close', () => (kicked = true));
    await expect(client({ username: 'tenant-a/intruder', password: TOKEN, clientId: 'tenant-b/pump' })).rejects.toThrow(
      /Identifier rejected/,
    );
    await expect(client({ clientId: 'tenant-b/pump' })).rejects.toThrow(/Identifier rejected/);
    expect(kicked).toBe(false);
    expect(owner.connected).toBe(true);
  });

  it('lets a device take its own id over (a reconnect before the broker noticed it left)', async () => {
    await start();
    const first = await device('t', 'd1', { clean: false });
    const out = closed(first);
    await device('t', 'd1', { clean: false });
    await out;
  });

  it('keeps a reader’s stored session and its queued alerts from anyone else', async () => {
    await start({ requireAuth: false });
    const reader = await client({
      username: 'tenant-b/alerts/ops',
      password: 'reader-pw',
      clientId: 'tenant-b/alerts/ops',
      clean: false,
    });
    await reader.subscribeAsync('alerts/tenant-b/#', { qos: 1 });
    await reader.endAsync();
    const pulse = await service({ clientId: 'pulse-integration' });
    await pulse.publishAsync('alerts/tenant-b/site/NO_HEARTBEAT', '{"alert":"queued"}', { qos: 1 });

    // An anonymous client (DEV) with the reader's id and clean=false would get the queued alert: refused.
    await expect(client({ clientId: 'tenant-b/alerts/ops', clean: false })).rejects.toThrow(/Identifier rejected/);
    // A device of another tenant likewise.
    await expect(
      client({ username: 'tenant-a/d', password: TOKEN, clientId: 'tenant-b/alerts/ops', clean: false }),
    ).rejects.toThrow(/Identifier rejected/);

    // The reader itself gets it.
    const back = await mqtt.connectAsync(broker!.url, {
      username: 'tenant-b/alerts/ops',
      password: 'reader-pw',
      clientId: 'tenant-b/alerts/ops',
      clean: false,
      reconnectPeriod: 0,
    });
    clients.push(back);
    const messages: string[] = [];
    back.on('message', (_topic, payload) => messages.push(payload.toString()));
    await waitFor(() => messages.length === 1, 5000);
    expect(messages).toEqual(['{"alert":"queued"}']);
  });

  it('keeps an id of its own choosing to a device while it is connected, and frees it when its clean session ends', async () => {
    await start();
    const first = await device('t', 'd1', { clientId: 'pump-controller-7' });
    await expect(device('t', 'd2', { clientId: 'pump-controller-7' })).rejects.toThrow(/Identifier rejected/);
    await first.endAsync();
    const second = await device('t', 'd2', { clientId: 'pump-controller-7', clean: false });
    // A stored session keeps the id its login's after the connection ends.
    await second.endAsync();
    await expect(device('t', 'd1', { clientId: 'pump-controller-7' })).rejects.toThrow(/Identifier rejected/);
    await device('t', 'd2', { clientId: 'pump-controller-7', clean: false });
  });

  it('keeps an id spelled as a login to that login, even from whoever used it first', async () => {
    await start();
    // Another tenant's device takes the id devices are told to use, with a stored session, and leaves.
    await expect(
      client({ username: 'tenant-a/evil', password: TOKEN, clientId: 'tenant-b/pump', clean: false }),
    ).rejects.toThrow(/Identifier rejected/);
    await expect(client({ clientId: 'tenant-b/alerts/ops' })).rejects.toThrow(/Identifier rejected/);
    // The device still gets in with it.
    await device('tenant-b', 'pump');
  });
});

describe('what a client receives', () => {
  it('forwards a device its own commands only, and nothing under tenant/ or alerts/ to anonymous clients', async () => {
    await start();
    const own = await device('t', 'd1');
    await own.subscribeAsync('tenant/t/device/d1/commands/#', { qos: 1 });
    const anonymous = await client({ clientId: 'anon-reader' });
    // DEV: a filter beyond the 5-level device topics is granted, but nothing under it is delivered.
    await anonymous.subscribeAsync('tenant/t/device/d1/commands/reboot', { qos: 1 });
    await anonymous.subscribeAsync('public/#', { qos: 1 });
    const received = { own: [] as string[], anonymous: [] as string[] };
    own.on('message', (topic) => received.own.push(topic));
    anonymous.on('message', (topic) => received.anonymous.push(topic));

    const pulse = await service({ clientId: 'pulse-commands' });
    await pulse.publishAsync('tenant/t/device/d1/commands/reboot', '{}', { qos: 1 });
    await pulse.publishAsync('public/notice', '{}', { qos: 1 });
    await waitFor(() => received.own.length === 1 && received.anonymous.length === 1, 5000);
    expect(received).toEqual({ own: ['tenant/t/device/d1/commands/reboot'], anonymous: ['public/notice'] });
  });

  it('grants $SYS to Pulse’s own login only', async () => {
    await start();
    // mqtt.js rejects a SUBACK that refuses (0x80).
    const anonymous = await client({ clientId: 'anon-sys' });
    await expect(anonymous.subscribeAsync('$SYS/#')).rejects.toThrow(/Subscribe error/);
    const logged = await device('t', 'd1');
    await expect(logged.subscribeAsync('$SYS/+/new/clients')).rejects.toThrow(/Subscribe error/);
    const pulse = await service({ clientId: 'pulse-sys' });
    const [serviceGrant] = await pulse.subscribeAsync('$SYS/#');
    expect(serviceGrant!.qos).toBe(0);
    const seen: string[] = [];
    pulse.on('message', (topic) => seen.push(topic));
    await device('t', 'd2');
    await waitFor(() => seen.some((topic) => topic.endsWith('/new/clients')), 5000);
  });
});
