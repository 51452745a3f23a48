// `kill -9` under QoS 1 load loses no acknowledged message: `pulse up` (embedded broker) on each engine
// takes a steady stream from 200 devices, dies mid-stream, starts again on the same data, and every
// message the broker acknowledged before the kill has its row.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connection.js';
import type { Engine } from '../../src/db/connection.js';
import { asSuperuser, dropDatabase, uniqueName, urlFor } from '../helpers/databases.js';
import { freePort } from '../helpers/mosquitto.js';
import { startPulse } from '../helpers/processes.js';
import { provisionDevices } from '../helpers/provision.js';

const ADMIN_KEY = 'kill-test-admin-key-00001';
const DEVICES = 200;
/** Per device at most 8 messages: inside the default rate limit (burst 20), so none is RATE_LIMITED. */
const KILL_AFTER_ACKS = DEVICES * 4;
const MAX_MESSAGES = DEVICES * 8;
const IN_FLIGHT = 64;

describe.each(['pglite', 'postgres'] as Engine[])('kill -9 of pulse up on %s', (engine) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pulse-kill-'));
  const database = uniqueName('pulse_test_kill');
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (engine === 'postgres') await dropDatabase(database);
  });

  it('loses no message the broker acknowledged', async () => {
    if (engine === 'postgres') await asSuperuser((client) => client.query(`CREATE DATABASE ${database}`));
    const mqttPort = await freePort();
    const env = {
      PULSE_DATA_DIR: dataDir,
      MQTT_PORT: String(mqttPort),
      ADMIN_KEY,
      ...(engine === 'postgres' && { DATABASE_URL: urlFor(database) }),
    };
    const first = await startPulse('up', ['up'], env);
    const plan = Array.from({ length: DEVICES }, (_, i) => ({ tenant_id: 'acme', device_id: `d${i}`, site_id: 's' }));
    const tokens = await provisionDevices(first.base, ADMIN_KEY, plan);

    const acknowledged: string[] = [];
    const publisher = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 });
    publisher.on('error', () => undefined);
    // mqtt.js keeps unacknowledged QoS 1 messages for a reconnect: their promises never settle on close.
    const closed = new Promise<'closed'>((resolve) => publisher.once('close', () => resolve('closed')));
    let sent = 0;
    let killed: Promise<void> | undefined;
    const publishOne = async (): Promise<void> => {
      while (sent < MAX_MESSAGES && !killed) {
        const n = sent++;
        const device = `d${n % DEVICES}`;
        const body = JSON.stringify({
          site_id: 's',
          provision_token: tokens.get(`acme/${device}`),
          seq: n,
          metrics: { v: n },
        });
        const outcome = await Promise.race([
          publisher.publishAsync(`tenant/acme/device/${device}/telemetry`, body, { qos: 1 }).catch(() => 'closed'),
          closed,
        ]);
        if (outcome === 'closed') return; // the connection died with the process: not acknowledged
        acknowledged.push(`${device}:${n}`);
        if (acknowledged.length === KILL_AFTER_ACKS) killed = first.kill('SIGKILL');
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, publishOne));
    await killed;
    publisher.end(true);
    expect(killed, 'the process was killed mid-stream').toBeDefined();
    expect(acknowledged.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    expect(sent, 'messages were still in flight at the kill').toBeGreaterThan(acknowledged.length);

    // The same data starts again (recovering from the kill), then is read directly.
    const second = await startPulse('up-again', ['up'], env);
    await second.kill('SIGTERM');
    const connection = await connect({ databaseUrl: env.DATABASE_URL, dataDir });
    try {
      const { rows } = await connection.pool.query<{ key: string }>(
        `SELECT device_id || ':' || seq AS key FROM telemetry WHERE tenant_id = 'acme'`,
      );
      const stored = new Set(rows.map((row) => row.key));
      const lost = acknowledged.filter((key) => !stored.has(key));
      expect(lost, `${lost.length} of ${acknowledged.length} acknowledged messages lost`).toEqual([]);
    } finally {
      await connection.close();
    }
  }, 180_000);
});
