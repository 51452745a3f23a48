// A PUBACK from the embedded broker means the message is stored (ADR 008), on both engines: while the
// telemetry table is locked no QoS 1 message is acknowledged; once it is free every one is, and every
// acknowledged message has its row.
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { urlFor } from '../helpers/databases.js';
import { roleHealth, startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { provisionDevices } from '../helpers/provision.js';
import { waitFor } from '../helpers/wait.js';

const ENGINES: Engine[] = ['pglite', 'postgres'];

/** Holds an exclusive lock on telemetry until the returned function is called. */
async function lockTelemetry(pulse: TestPlatform): Promise<() => Promise<void>> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  if (pulse.engine === 'pglite') {
    // PGlite is one connection: a transaction held open holds the whole database, the table with it.
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const done = pulse.db.withService(async (tx) => {
      await tx.query('LOCK TABLE telemetry IN ACCESS EXCLUSIVE MODE');
      locked();
      await released;
    });
    await isLocked;
    return async () => {
      release();
      await done;
    };
  }
  const client = new pg.Client({ connectionString: urlFor(pulse.databaseLocation.split('/').pop()!) });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE telemetry IN ACCESS EXCLUSIVE MODE');
  return async () => {
    await client.query('COMMIT');
    await client.end();
  };
}

describe.each(ENGINES)('the embedded broker on %s', (engine) => {
  let pulse: TestPlatform;
  let device: MqttClient;
  let token: string;

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, {}, undefined, { embeddedBroker: true });
    const tokens = await provisionDevices(pulse.base, TEST_ADMIN_KEY, [
      { tenant_id: 'acme', device_id: 'd1', site_id: 's' },
    ]);
    token = tokens.get('acme/d1')!;
    device = await mqtt.connectAsync(pulse.mqttUrl!, { clientId: `puback-${engine}` });
  });
  afterAll(async () => {
    await device?.endAsync(true);
    await pulse?.close();
  });

  const stored = async () =>
    (
      await pulse.db.withTenant('acme', (tx) =>
        tx.query<{ seq: number }>(`SELECT seq FROM telemetry WHERE device_id = 'd1' ORDER BY seq`),
      )
    ).rows.map((row) => row.seq);
  const message = (seq: number) => JSON.stringify({ site_id: 's', provision_token: token, seq, metrics: { v: seq } });

  it('acknowledges no QoS 1 message while telemetry is locked, and each one once its row is written', async () => {
    await device.publishAsync('tenant/acme/device/d1/telemetry', message(0), { qos: 1 }); // the device is known
    const unlock = await lockTelemetry(pulse);
    const acknowledged: number[] = [];
    const publishes = Array.from({ length: 10 }, (_, i) =>
      device.publishAsync('tenant/acme/device/d1/telemetry', message(i + 1), { qos: 1 }).then(() => {
        acknowledged.push(i + 1);
      }),
    );
    // Every one taken by ingest and waiting for the locked table.
    await waitFor(async () => (await roleHealth(pulse, 'ingest')).counters.messages_accepted >= 11, 10_000);
    expect(acknowledged).toEqual([]);
    await unlock();
    await Promise.all(publishes);
    expect(acknowledged.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await stored()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('still delivers other topics to subscribers and acknowledges them at once', async () => {
    const listener = await mqtt.connectAsync(pulse.mqttUrl!, { clientId: `puback-listener-${engine}` });
    await listener.subscribeAsync('site/+/status', { qos: 1 });
    const received = new Promise<string>((resolve) =>
      listener.once('message', (_topic, payload) => resolve(payload.toString())),
    );
    await device.publishAsync('site/s1/status', 'up', { qos: 1 });
    expect(await received).toBe('up');
    await listener.endAsync();
  });
});
