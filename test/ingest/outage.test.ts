// A database outage mid-stream: QoS 1 messages keep arriving over Mosquitto while every connection to
// PostgreSQL is cut and refused for two seconds. Pulse keeps running and stores every message.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, releaseDatabase, uniqueName } from '../helpers/databases.js';
import { clearMqttSession, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { saveSettings } from '../../src/model/settings.js';

const BROKER = 'mqtt://127.0.0.1:1883';

interface Setup {
  pulse: TestPlatform;
  proxy: TcpProxy;
  tenant: string;
  token: string;
  close(): Promise<void>;
}

/** Pulse on PostgreSQL through a cuttable proxy and on the machine's Mosquitto, one device activated. */
async function startBehindProxy(name: string, env: Record<string, string>): Promise<Setup> {
  const clientId = uniqueName(`pulse_test_${name}`);
  const tenant = uniqueName(name);
  const database = uniqueName(`pulse_test_${name}`);
  await createPostgresDatabase({ migrated: true, name: database });
  const proxy = await startTcpProxy('127.0.0.1', 5432);
  // The engine argument only matters without DATABASE_URL; here PostgreSQL is reached through the proxy.
  const pulse = await startTestPlatform('pglite', {
    DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/${database}`,
    MQTT_URL: BROKER,
    MQTT_CLIENT_ID: clientId,
    MQTT_SHARED_GROUP: clientId,
    SETTINGS_POLL_SECONDS: '1',
    ...env,
  });
  const created = await pulse.call('/api/admin/devices', {
    json: { tenant_id: tenant, device_id: 'd1', site_id: 's' },
  });
  const activated = await pulse.call('/api/device/activate', {
    admin: false,
    json: { tenant_id: tenant, device_id: 'd1', activation_code: created.body.activation_code },
  });
  await pulse.db.withOperator((tx) => saveSettings(tx, { RATE_LIMIT_RPS: '10000', RATE_LIMIT_BURST: '10000' }));
  const ingest = pulse.roles.find((role) => role.name === 'ingest')!;
  await waitFor(async () => ((await ingest.health()) as any).settings.rateLimitRps === 10000); // the settings poll
  return {
    pulse,
    proxy,
    tenant,
    token: activated.body.provision_token,
    async close() {
      await pulse.close();
      await proxy.close();
      await releaseDatabase(database);
      await clearMqttSession(BROKER, clientId);
    },
  };
}

describe('a database outage during ingest', () => {
  let setup: Setup;
  beforeAll(async () => {
    setup = await startBehindProxy('outage', { FLUSH_INTERVAL_MS: '200' });
  });
  afterAll(() => setup?.close());

  it('stores every QoS 1 message published before, during and after the outage', async () => {
    const { pulse, proxy, tenant, token } = setup;
    const device = await mqtt.connectAsync(BROKER);
    const total = 300;
    for (let seq = 0; seq < total; seq++) {
      if (seq === 100) proxy.cut();
      if (seq === 200) proxy.restore();
      await device.publishAsync(
        `tenant/${tenant}/device/d1/telemetry`,
        JSON.stringify({ site_id: 's', provision_token: token, seq, metrics: { v: seq } }),
        { qos: 1 },
      );
      await new Promise((resolve) => setTimeout(resolve, 10)); // about 3 s of traffic, 1 s of it cut off
    }
    await device.endAsync();

    const stored = async () =>
      (
        await pulse.db.withTenant(tenant, (tx) =>
          tx.query<{ n: number; distinct: number }>(
            `SELECT count(*)::int AS n, count(DISTINCT seq)::int AS distinct FROM telemetry`,
          ),
        )
      ).rows[0]!;
    await expect.poll(async () => (await stored()).distinct, { timeout: 30_000, interval: 500 }).toBe(total);
    const health = await pulse.call('/health', { admin: false });
    expect(health.status).toBe(200);
    expect(health.body.components.ingest.counters.messages_written).toBeGreaterThanOrEqual(total);
    expect(health.body.components.ingest.write_retries).toBeGreaterThan(0); // the outage really hit the writer
  });
});

describe('a full backlog', () => {
  let setup: Setup;
  beforeAll(async () => {
    setup = await startBehindProxy('full', { INGEST_QUEUE_SIZE: '5', FLUSH_INTERVAL_MS: '100' });
  });
  afterAll(() => setup?.close());

  it('rejects QoS 0 messages it cannot hold as OVERLOADED, counted, never silently', async () => {
    const { pulse, proxy, tenant, token } = setup;
    const device = await mqtt.connectAsync(BROKER);
    proxy.cut();
    for (let seq = 0; seq < 100; seq++) {
      await device.publishAsync(
        `tenant/${tenant}/device/d1/telemetry`,
        JSON.stringify({ site_id: 's', provision_token: token, seq }),
        { qos: 0 },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    proxy.restore();
    await device.endAsync();

    const tally = async () => {
      const stored = await pulse.db.withTenant(tenant, (tx) =>
        tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM telemetry`),
      );
      const overloaded = await pulse.db.withOperator((tx) =>
        tx.query<{ n: number }>(
          `SELECT coalesce(sum(cnt), 0)::int AS n FROM quarantine_counters_minute WHERE reason = 'OVERLOADED' AND tenant_id = $1`,
          [tenant],
        ),
      );
      return { stored: stored.rows[0]!.n, overloaded: overloaded.rows[0]!.n };
    };
    await expect
      .poll(
        async () => {
          const { stored, overloaded } = await tally();
          return stored + overloaded;
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe(100);
    const { stored, overloaded } = await tally();
    expect(overloaded).toBeGreaterThan(0);
    expect(stored).toBeGreaterThanOrEqual(5);
  });

  it('stops reading while messages wait for registry lookups the database cannot answer', async () => {
    const { pulse, proxy, tenant } = setup;
    // Registered after ingest started: not in its cache, so each first message needs a lookup.
    const tokens: string[] = [];
    for (let i = 0; i < 8; i++) {
      const created = await pulse.call('/api/admin/devices', {
        json: { tenant_id: tenant, device_id: `cold-${i}`, site_id: 's' },
      });
      const activated = await pulse.call('/api/device/activate', {
        admin: false,
        json: { tenant_id: tenant, device_id: `cold-${i}`, activation_code: created.body.activation_code },
      });
      tokens.push(activated.body.provision_token);
    }
    const ingest = pulse.roles.find((role) => role.name === 'ingest')!;
    const received = async () =>
      ((await ingest.health()) as unknown as { counters: { messages_received: number } }).counters.messages_received;
    const before = await received();
    const device = await mqtt.connectAsync(BROKER);
    proxy.cut();
    for (let seq = 0; seq < 40; seq++) {
      await device.publishAsync(
        `tenant/${tenant}/device/cold-${seq % 8}/telemetry`,
        JSON.stringify({ site_id: 's', provision_token: tokens[seq % 8], seq }),
        { qos: 1 },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // INGEST_QUEUE_SIZE is 5: the rest waits at the broker, not in Pulse's memory.
    expect((await received()) - before).toBeLessThanOrEqual(6);
    proxy.restore();
    await device.endAsync();

    await expect
      .poll(
        async () =>
          (
            await pulse.db.withTenant(tenant, (tx) =>
              tx.query<{ n: number }>(
                `SELECT count(DISTINCT seq)::int AS n FROM telemetry WHERE device_id LIKE 'cold-%'`,
              ),
            )
          ).rows[0]!.n,
        { timeout: 30_000, interval: 500 },
      )
      .toBe(40);
  });
});
