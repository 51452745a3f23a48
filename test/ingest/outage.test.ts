// A database outage mid-stream: QoS 1 messages keep arriving over Mosquitto while every connection to
// PostgreSQL is cut and refused until ingest's writer has met the outage. Pulse keeps running and stores
// every message.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, releaseDatabase, uniqueName } from '../helpers/databases.js';
import { clearMqttSession, roleHealth, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor, whenSettled } from '../helpers/wait.js';
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
  await waitFor(async () => (await roleHealth(pulse, 'ingest')).settings.rateLimitRps === 10000); // the settings poll
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
    const publish = async (from: number, to: number) => {
      for (let seq = from; seq < to; seq++) {
        await device.publishAsync(
          `tenant/${tenant}/device/d1/telemetry`,
          JSON.stringify({ site_id: 's', provision_token: token, seq, metrics: { v: seq } }),
          { qos: 1 },
        );
      }
    };
    await publish(0, 100);
    proxy.cut();
    await publish(100, 200);
    // Back once the outage has really hit the writer.
    await waitFor(async () => (await roleHealth(pulse, 'ingest')).write_retries > 0, 10_000);
    proxy.restore();
    await publish(200, total);
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
    // Back once ingest, full, has stopped taking messages while the database was away.
    const received = async (): Promise<number> => (await roleHealth(pulse, 'ingest')).counters.messages_received;
    await whenSettled(received, { intervalMs: 250, timeoutMs: 10_000, accept: (n) => n > 0 }).finally(() =>
      proxy.restore(),
    );
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
    const received = async (): Promise<number> => (await roleHealth(pulse, 'ingest')).counters.messages_received;
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
    // INGEST_QUEUE_SIZE is 5: once ingest stops reading, the rest waits at the broker, not in Pulse's memory.
    const taken = await whenSettled(received, { intervalMs: 250, timeoutMs: 10_000 });
    expect(taken - before).toBeLessThanOrEqual(6);
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
