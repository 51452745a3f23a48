// Starts Pulse in-process on free ports against a fresh test database of either engine.
import mqtt from 'mqtt';
import type { Logger } from 'pino';
import { loadConfig } from '../../src/config.js';
import type { Engine } from '../../src/db/connection.js';
import { createLogger } from '../../src/app/log.js';
import { startPlatform, type Platform } from '../../src/app/platform.js';
import { jobCounts } from '../../src/model/deliveries.js';
import { rulesVersion } from '../../src/model/rules.js';
import { ROLE_NAMES, type RoleName } from '../../src/roles.js';
import { createPostgresDatabase, migratedPgliteDump, releaseDatabase, urlFor } from './databases.js';
import { waitFor } from './wait.js';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789';

export interface TestPlatform extends Platform {
  /** http://127.0.0.1:<port> */
  base: string;
  /** fetch against the platform with the admin key unless `admin: false`. */
  call(
    path: string,
    init?: RequestInit & { admin?: boolean; json?: unknown },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export async function startTestPlatform(
  engine: Engine,
  env: Record<string, string> = {},
  roles: readonly RoleName[] = ROLE_NAMES,
  /** `log`: a logger of the test's own, e.g. one writing to a stream the test reads. */
  options: { embeddedBroker?: boolean; log?: Logger } = {},
): Promise<TestPlatform> {
  // A copy of the migrated database (databases.ts), unless the test brings a database of its own.
  const databaseName =
    engine === 'postgres' && env.DATABASE_URL === undefined
      ? await createPostgresDatabase({ migrated: true })
      : undefined;
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    MQTT_PORT: '0',
    ADMIN_KEY: TEST_ADMIN_KEY,
    PULSE_DATA_DIR: 'memory://',
    LOG_LEVEL: 'silent',
    API_CHECK_RESPONSES: 'on',
    ...(databaseName && { DATABASE_URL: urlFor(databaseName) }),
    ...env,
  });
  const platform = await startPlatform({
    config,
    roles,
    log: options.log ?? createLogger(config.LOG_LEVEL, { pretty: false }),
    migrate: true,
    embeddedBroker: options.embeddedBroker ?? false,
    ...(!config.DATABASE_URL &&
      config.PULSE_DATA_DIR.startsWith('memory://') && { loadDataDir: await migratedPgliteDump() }),
  });
  const base = `http://127.0.0.1:${platform.httpPort}`;
  return {
    ...platform,
    base,
    async call(path, init = {}) {
      const { admin = true, json, headers, ...rest } = init;
      const response = await fetch(`${base}${path}`, {
        method: json === undefined ? 'GET' : 'POST',
        ...rest,
        headers: {
          ...(json !== undefined && { 'content-type': 'application/json' }),
          ...(admin && { 'x-admin-key': TEST_ADMIN_KEY }),
          ...(headers as Record<string, string>),
        },
        ...(json !== undefined && { body: JSON.stringify(json) }),
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body, headers: response.headers };
    },
    async close() {
      await platform.stop();
      if (databaseName) await releaseDatabase(databaseName);
    },
  };
}

/** What a role running in this Pulse reports of itself (its part of /health). */
export async function roleHealth(pulse: Platform, role: RoleName): Promise<any> {
  return pulse.roles.find((running) => running.name === role)!.health();
}

/** Until the evaluator's rules poll has read the rules as they are now in the database. */
export async function rulesInForce(pulse: Platform): Promise<void> {
  const version = await pulse.db.withService(rulesVersion);
  await waitFor(async () => (await roleHealth(pulse, 'evaluator')).rules_version === version);
}

/** Runs a role's periodic check now (RunningRole.pollNow) and waits for it to finish. */
export async function pollNow(pulse: Platform, role: RoleName): Promise<void> {
  await pulse.roles.find((running) => running.name === role)!.pollNow!();
}

/** Until the delivery worker has sent, or given up on, every job queued so far. */
export async function deliveriesSettled(pulse: Platform, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => {
    const { pending, processing } = await pulse.db.withService(jobCounts);
    return pending + processing === 0;
  }, timeoutMs);
}

/** Ends a persistent MQTT session a test left on a shared broker, so it queues nothing for it later. */
export async function clearMqttSession(url: string, clientId: string): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId, clean: true });
  await client.endAsync();
}

/**
 * Pulse with the roles that turn alert events into notifications (api, dispatcher, delivery), polling every
 * second, receivers on 127.0.0.1 allowed, no API rate limit and no heartbeat alerts of its own; with these
 * tenants. `env` adds to or overrides that.
 */
export async function startDeliveryPlatform(
  engine: Engine,
  tenantIds: string[],
  env: Record<string, string> = {},
  options: { log?: Logger } = {},
): Promise<TestPlatform> {
  const pulse = await startTestPlatform(
    engine,
    {
      SSRF_ALLOWLIST: '127.0.0.1',
      API_RATE_LIMIT: '100000',
      WORKER_POLL_SECONDS: '1',
      HEARTBEAT_STALE_SECONDS: '3600',
      ...env,
    },
    ['api', 'dispatcher', 'delivery'],
    options,
  );
  await pulse.db.withService((tx) =>
    tx.query(
      `INSERT INTO tenants (tenant_id, name) SELECT id, id FROM unnest($1::text[]) AS id ON CONFLICT DO NOTHING`,
      [tenantIds],
    ),
  );
  return pulse;
}
