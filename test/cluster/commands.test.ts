// Commands over the production adapters (issue 30): Mosquitto with dynamic security, one NATS node, and
// Pulse as separate `pulse run` processes — api+provision, ingest, and two dispatchers. Devices speak the
// documented protocol only. A two-way call crosses four processes; a device sees each command of a job
// once although two dispatchers send; another device can neither read nor answer its commands; and a
// command to an offline device waits through a kill -9 of every Pulse process and a broker restart, and
// arrives when the device connects.
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseDatabase, urlFor } from '../helpers/databases.js';
import { bearer, tokenFor } from '../helpers/identity.js';
import { startDynsecMosquitto } from '../helpers/mosquitto.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats.js';
import { migratedDatabase, startPulse, type PulseProcess } from '../helpers/processes.js';
import { provisionDevices } from '../helpers/provision.js';
import { waitFor } from '../helpers/wait.js';
import { connect as connectDatabase, type Connection } from '../../src/db/connection.js';
import { createDatabase } from '../../src/db/database.js';
import { createSecretBox } from '../../src/lib/secrets.js';

const ADMIN_KEY = 'commands-cluster-admin-key-01';
const SECRETS_KEY = 'd'.repeat(64);
const TENANT = 'cmd-cluster';
const run = `${process.pid}-${Date.now().toString(36)}`;

describe('commands over Mosquitto (dynsec), NATS and separate processes', () => {
  let nats: NatsCluster;
  let broker: Awaited<ReturnType<typeof startDynsecMosquitto>>;
  let databaseName: string;
  let connection: Connection;
  let api: PulseProcess;
  let ingest: PulseProcess;
  let dispatchers: PulseProcess[] = [];
  let tokens: Map<string, string>;
  let adminToken: string;
  const clients: MqttClient[] = [];
  const received = new Map<string, string[]>();

  const env = () => ({
    DATABASE_URL: urlFor(databaseName),
    NATS_URL: nats.urls,
    MQTT_URL: broker.adminUrl,
    MQTT_BROKER_AUTH: 'dynsec',
    MQTT_SHARED_GROUP: `commands-${run}`,
    ADMIN_KEY,
    SECRETS_KEY,
    COMMAND_SWEEP_SECONDS: '1',
    API_RATE_LIMIT: '100000',
    HEARTBEAT_STALE_SECONDS: '3600',
  });
  const start = (name: string, roles: string[], extra: Record<string, string> = {}) =>
    startPulse(name, ['run', ...roles], { ...env(), ...extra });
  const startIngest = () => start('ingest', ['ingest'], { MQTT_CLIENT_ID: `commands-ingest-${run}` });
  const startDispatchers = () =>
    Promise.all([start('dispatcher-1', ['dispatcher']), start('dispatcher-2', ['dispatcher'])]);

  const customer = async (path: string, method = 'GET', body?: unknown) => {
    const response = await fetch(`${api.base}${path}`, {
      method,
      headers: { ...bearer(adminToken), ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  /** A device of the documented protocol; answers every command SUCCEEDED unless told to keep quiet. */
  async function connectDevice(deviceId: string, options: { answer?: boolean } = {}): Promise<MqttClient> {
    const own = `tenant/${TENANT}/device/${deviceId}`;
    const client = await mqtt.connectAsync(broker.url, {
      username: `${TENANT}/${deviceId}`,
      password: tokens.get(`${TENANT}/${deviceId}`),
      clientId: `${TENANT}/${deviceId}`,
      clean: true,
      reconnectPeriod: 0,
      will: { topic: `${own}/commands_offline`, payload: Buffer.from('{}'), qos: 1, retain: false },
    });
    clients.push(client);
    client.on('message', (topic, payload) => {
      const message = JSON.parse(payload.toString()) as { id?: string; name?: string };
      if (!message.id || !message.name) return;
      received.set(deviceId, [...(received.get(deviceId) ?? []), message.id]);
      if (options.answer === false) return;
      void client
        .publishAsync(
          `${own}/command_result`,
          JSON.stringify({ id: message.id, status: 'SUCCEEDED', result: { by: deviceId } }),
          {
            qos: 1,
          },
        )
        .catch(() => undefined);
    });
    await client.subscribeAsync(`${own}/commands/#`, { qos: 1 });
    await client.publishAsync(`${own}/commands_ready`, '{}', { qos: 1 });
    return client;
  }

  beforeAll(async () => {
    [nats, broker] = await Promise.all([startNatsCluster(1), startDynsecMosquitto('commands-admin-pw')]);
    databaseName = await migratedDatabase('pulse_test_commands');
    api = await start('api', ['api', 'provision']);
    [ingest, dispatchers] = await Promise.all([startIngest(), startDispatchers()]);
    const devices = ['two-way', 'sleepy', 'intruder', ...Array.from({ length: 8 }, (_, i) => `fleet-${i}`)];
    tokens = await provisionDevices(
      api.base,
      ADMIN_KEY,
      devices.map((device_id) => ({ tenant_id: TENANT, device_id, site_id: 'site-1' })),
    );
    connection = await connectDatabase({ databaseUrl: urlFor(databaseName), dataDir: 'memory://' });
    adminToken = await tokenFor(
      { db: createDatabase(connection), deps: { secrets: createSecretBox(Buffer.from(SECRETS_KEY, 'hex')) } },
      { username: 'commands-admin', role: 'customer_admin', tenantId: TENANT },
    );
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true).catch(() => undefined)));
    for (const process_ of [api, ingest, ...dispatchers]) await process_?.kill();
    await connection?.close();
    await nats?.close();
    await broker?.close();
    if (databaseName) await releaseDatabase(databaseName);
  });

  it('answers a two-way call across the processes', async () => {
    await connectDevice('two-way');
    const sent = await customer('/customer/devices/two-way/commands?wait=15', 'POST', { name: 'ping' });
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    expect(sent.body).toMatchObject({ state: 'SUCCEEDED', result: { by: 'two-way' } });
  });

  it('lets no device read or answer another device’s commands', async () => {
    const intruder = await connectDevice('intruder', { answer: false });
    await expect(intruder.subscribeAsync(`tenant/${TENANT}/device/two-way/commands/#`, { qos: 1 })).rejects.toThrow(
      /Subscribe error/,
    );
    const target = await customer('/customer/devices/sleepy/commands', 'POST', { name: 'ping' });
    // Publishing as another device is dropped by the broker: the command is not answered.
    await intruder
      .publishAsync(
        `tenant/${TENANT}/device/sleepy/command_result`,
        JSON.stringify({ id: target.body.command_id, status: 'FAILED' }),
        {
          qos: 1,
        },
      )
      .catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await customer(`/customer/commands/${target.body.command_id}`)).body.state).toBe('QUEUED');
  });

  it('sends each of a job’s commands once although two dispatchers run it', async () => {
    for (let i = 0; i < 8; i++) await connectDevice(`fleet-${i}`);
    const job = await customer('/customer/jobs', 'POST', {
      name: 'ping fleet',
      kind: 'command',
      command_name: 'ping',
      selector: { device_prefix: 'fleet-' },
      max_in_flight: 4,
    });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    await waitFor(async () => (await customer(`/customer/jobs/${job.body.job_id}`)).body.state === 'COMPLETED', 30_000);
    expect((await customer(`/customer/jobs/${job.body.job_id}`)).body.counts).toMatchObject({ total: 8, SUCCEEDED: 8 });
    for (let i = 0; i < 8; i++) expect(received.get(`fleet-${i}`)).toHaveLength(1);
  });

  it('keeps an offline device’s command through a kill -9 of Pulse and a broker restart, and delivers it on connect', async () => {
    const waiting = (await customer('/customer/devices/sleepy/commands', 'POST', { name: 'reboot' })).body;
    for (const process_ of [ingest, ...dispatchers]) await process_.kill('SIGKILL');
    await broker.stop();
    await broker.start();
    [ingest, dispatchers] = await Promise.all([startIngest(), startDispatchers()]);
    expect((await customer(`/customer/commands/${waiting.command_id}`)).body.state).toBe('QUEUED');
    await connectDevice('sleepy');
    await waitFor(
      async () => (await customer(`/customer/commands/${waiting.command_id}`)).body.state === 'SUCCEEDED',
      20_000,
    );
    expect(received.get('sleepy')).toContain(waiting.command_id);
  });
});
