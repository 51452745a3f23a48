// Removing an ingest instance strands nothing: on Mosquitto a stopped instance's persistent session stays
// a member of the $share group and keeps its round-robin share of QoS 1 messages; `pulse ingest drain`
// stores what the session holds, takes it out of the group and ends it.
import { spawnSync } from 'node:child_process';
import mqtt from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseDatabase, urlFor } from '../helpers/databases.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { migratedDatabase, pulseCommand, startPulse, type PulseProcess } from '../helpers/processes.js';
import { provisionDevices } from '../helpers/provision.js';
import { waitFor, whenSettled } from '../helpers/wait.js';

const ADMIN_KEY = 'scale-down-admin-key-0001';

describe('scaling ingest down on Mosquitto', () => {
  let mosquitto: Mosquitto;
  let databaseName: string;
  let sql: pg.Client;
  let kept: PulseProcess;
  let removed: PulseProcess;
  const tokens = new Map<string, string>();

  const env = () => ({
    DATABASE_URL: urlFor(databaseName),
    MQTT_URL: mosquitto.url,
    MQTT_SHARED_GROUP: 'scale-down',
    ADMIN_KEY,
  });
  const stored = async () => Number((await sql.query(`SELECT count(*) AS n FROM telemetry`)).rows[0].n);

  beforeAll(async () => {
    mosquitto = await startMosquitto();
    databaseName = await migratedDatabase('pulse_test_scale');
    sql = new pg.Client({ connectionString: urlFor(databaseName) });
    await sql.connect();
    [kept, removed] = await Promise.all([
      startPulse('ingest-kept', ['run', 'ingest', 'provision'], { ...env(), MQTT_CLIENT_ID: 'scale-kept' }),
      startPulse('ingest-removed', ['run', 'ingest', 'provision'], { ...env(), MQTT_CLIENT_ID: 'scale-removed' }),
    ]);
    // 20 devices: each sends at most 15 messages here, within the default per-device burst of 20.
    const plan = Array.from({ length: 20 }, (_, i) => ({ tenant_id: 'acme', device_id: `d${i + 1}`, site_id: 's' }));
    for (const [key, token] of await provisionDevices(kept.base, ADMIN_KEY, plan))
      tokens.set(key.slice('acme/'.length), token);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([kept?.kill('SIGKILL'), removed?.kill('SIGKILL')]);
    await sql?.end();
    if (databaseName) await releaseDatabase(databaseName);
    await mosquitto?.close();
  });

  const publish = async (count: number, firstSeq: number) => {
    const client = await mqtt.connectAsync(mosquitto.url, { clientId: `scale-pub-${firstSeq}` });
    for (let i = 0; i < count; i++) {
      const device = `d${(i % 20) + 1}`;
      await client.publishAsync(
        `tenant/acme/device/${device}/telemetry`,
        JSON.stringify({ site_id: 's', provision_token: tokens.get(device), seq: firstSeq + i, metrics: { v: i } }),
        { qos: 1 },
      );
    }
    await client.endAsync();
  };

  it('stores what a removed instance’s session held, and routes nothing to it afterwards', async () => {
    await removed.kill('SIGTERM');
    await publish(200, 1);
    // The live instance gets its share; the rest waits in the stopped instance's session.
    const before = await whenSettled(stored, { intervalMs: 1000, timeoutMs: 20_000, accept: (n) => n > 0 });
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(200);

    const drained = spawnSync(
      process.execPath,
      [...pulseCommand(), 'ingest', 'drain', '--client-id', 'scale-removed'],
      {
        env: { PATH: process.env.PATH ?? '', ...env(), LOG_LEVEL: 'warn', PORT: '0', HOST: '127.0.0.1' },
        encoding: 'utf8',
      },
    );
    expect(drained.status, drained.stderr).toBe(0);
    expect(drained.stdout).toMatch(new RegExp(`drained scale-removed: ${200 - before} message\\(s\\)`));
    expect(await stored()).toBe(200);

    // The group now has one member: everything goes to the instance that is left, at once.
    await publish(100, 1000);
    await waitFor(async () => (await stored()) === 300, 5000);
  }, 60_000);
});
