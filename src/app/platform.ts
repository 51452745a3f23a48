// Wires roles to adapters: opens the database (PostgreSQL or embedded PGlite), migrates or checks the
// schema, starts the embedded broker when asked, starts the chosen roles on one HTTP server and listens.
// `pulse up`, `pulse run` and the integration tests all start Pulse through here.
import { readFile } from 'node:fs/promises';
import { createSecureContext, type Server as SecureServer } from 'node:tls';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import * as api from '../api/index.js';
import { rememberedPort, rememberPort, resolveAdminKey, resolveSecretsKey } from './data-dir.js';
import * as dispatcher from '../delivery/dispatcher.js';
import { createSecretBox } from '../lib/secrets.js';
import * as deliveryWorker from '../delivery/worker.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../broker/embedded.js';
import { serviceUrl as dynsecServiceUrl, UNMANAGED_LOGINS } from '../broker/dynsec.js';
import { checkAlertReaders, startBrokerLogins } from '../broker-logins/sync.js';
import type { Config } from '../config.js';
import { connect, type Connection } from '../db/connection.js';
import { createDatabase, type Database } from '../db/database.js';
import { migrate, migrationRange, pendingMigrations } from '../db/migrate.js';
import { startMaintenance } from '../db/maintenance.js';
import { pruneOidcStorage } from '../identity/oidc-storage.js';
import { pruneExpiredRollups } from '../model/rollups.js';
import { createHttpServer, type HttpServer } from '../http/server.js';
import { isLoopbackAddress, isLoopbackHost, listenWithFallback } from '../lib/listen.js';
import { tileImageSources } from '../lib/map-tiles.js';
import * as evaluator from '../evaluator/index.js';
import * as ingest from '../ingest/index.js';
import * as provision from '../provision/index.js';
import { type RoleDeps, type RoleName, type RoleStarter, type RunningRole } from '../roles.js';
import { createInProcessBus, type Bus } from '../bus/index.js';
import { registerControlRoute, removeControlInfo, writeControlInfo } from './control.js';

const roleStarters: Record<RoleName, RoleStarter> = {
  api: api.start,
  provision: provision.start,
  ingest: ingest.start,
  evaluator: evaluator.start,
  dispatcher: dispatcher.start,
  delivery: deliveryWorker.start,
};

export interface PlatformOptions {
  config: Config;
  roles: readonly RoleName[];
  log: Logger;
  /** Apply pending migrations (pulse up); otherwise refuse to start on an outdated schema. */
  migrate: boolean;
  /** Start the embedded MQTT broker when MQTT_URL is unset. */
  embeddedBroker: boolean;
  /** Where HTTP listens when HOST is unset (`pulse up`: loopback; see httpHost). */
  defaultHost?: string;
  /** An in-memory embedded database starts as this dump (tests start from one migrated copy). */
  loadDataDir?: Blob;
}

export interface Platform {
  readonly httpUrl: string;
  readonly httpPort: number;
  /** The broker devices publish to: MQTT_URL, the embedded broker, or undefined. */
  readonly mqttUrl: string | undefined;
  readonly adminKey: string;
  readonly adminKeyFile: string | undefined;
  readonly db: Database;
  readonly engine: Connection['engine'];
  readonly databaseLocation: string;
  readonly roles: readonly RunningRole[];
  /** The bus the roles talk over (benchmarks feed it directly). */
  readonly bus: Bus;
  /** What roles started here received (a one-off task such as `pulse ingest drain` runs on them too). */
  readonly deps: RoleDeps;
  stop(): Promise<void>;
}

export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const { config, log } = options;
  const adminKey = resolveAdminKey(config);
  const secrets = createSecretBox(resolveSecretsKey(config));
  const cleanup: (() => Promise<void>)[] = [];
  const onStop = (step: () => Promise<void>) => void cleanup.push(step);
  const stop = async () => {
    for (const step of cleanup.reverse()) {
      await step().catch((error: unknown) => log.error({ err: error }, 'error while stopping'));
    }
    cleanup.length = 0;
  };

  try {
    const { connection, db } = await openDatabase(options, onStop);
    const tls = await readTlsFiles(config);
    const broker = options.embeddedBroker && !config.MQTT_URL ? await startBroker(config, log, tls, onStop) : undefined;

    const metrics = new Registry();
    collectDefaultMetrics({ register: metrics, prefix: 'pulse_' });
    const http = await createHttpServer({
      log,
      metrics,
      trustProxy: config.TRUST_PROXY ?? false,
      checkResponses: config.API_CHECK_RESPONSES === 'on',
      connectOrigins: config.OIDC_ISSUER ? [new URL(config.OIDC_ISSUER).origin] : [],
      imageSources: tileImageSources(config.MAP_TILE_URL),
      tls,
      webSocketMaxPayload: config.MQTT_MAX_PACKET_BYTES,
    });
    onStop(() => http.app.close());
    if (broker) serveMqttOverWebSocket(http, broker, config);
    if (tls) reloadTlsOnHangup(config, log, http, broker, onStop);
    http.addHealthCheck('database', async () => ({
      status: 'ok',
      engine: connection.engine,
      latency_ms: Math.round((await db.ping()) * 100) / 100,
    }));
    if (broker) {
      const embedded = broker;
      http.addHealthCheck('broker', () => ({ status: 'ok', url: embedded.url, clients: embedded.clientCount() }));
    }

    // What devices are told to connect to: never with the credentials MQTT_URL may carry.
    const mqttUrl = config.MQTT_URL ? withoutCredentials(config.MQTT_URL) : broker?.url;
    warnOfUnguardedMqtt(options, mqttUrl);
    const bus = await openBus(config, options.roles, log);
    onStop(() => bus.close());
    http.addHealthCheck('bus', () => bus.health());
    const logins = await startBrokerLogins(config, options.roles, { bus, db, log });
    if (logins) onStop(() => logins.close());
    if (broker) onStop(checkAlertReaders(broker, { db, bus }).stop);
    const deps: RoleDeps = {
      config,
      db,
      http,
      log,
      adminKey: adminKey.key,
      bus,
      metrics,
      embeddedBroker: broker,
      mqttUrl,
      // Pulse's own clients (ingest's subscription, the MQTT integration) log in as a service.
      serviceMqttUrl:
        config.MQTT_URL && config.MQTT_BROKER_AUTH === 'dynsec'
          ? dynsecServiceUrl(config.MQTT_URL)
          : (config.MQTT_URL ?? broker?.serviceUrl),
      brokerLogins: logins?.logins ?? UNMANAGED_LOGINS,
      secrets,
    };
    const roles: RunningRole[] = [];
    for (const name of options.roles) {
      const role = await roleStarters[name](deps);
      roles.push(role);
      onStop(() => role.stop());
      http.addHealthCheck(name, () => role.health());
    }

    // Every gate of this process is installed: devices may connect (ADR 019).
    broker?.open();
    const { httpPort, publicUrl, localUrls } = await listen(
      options,
      deps,
      { connection, secure: tls !== undefined },
      onStop,
    );
    for (const role of roles) await role.listening?.(publicUrl, localUrls);

    return {
      httpUrl: publicUrl,
      httpPort,
      mqttUrl,
      adminKey: adminKey.key,
      adminKeyFile: adminKey.file,
      db,
      engine: connection.engine,
      databaseLocation: connection.location,
      roles,
      bus,
      deps,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

type OnStop = (step: () => Promise<void>) => void;

/** Opens the database, migrates it (pulse up) or refuses an outdated schema, and starts its maintenance. */
async function openDatabase({ config, log, ...options }: PlatformOptions, onStop: OnStop) {
  const connection = await connect({
    databaseUrl: config.DATABASE_URL,
    dataDir: config.PULSE_DATA_DIR,
    poolSize: config.DATABASE_POOL_SIZE,
    applicationName: `pulse ${options.roles.join(' ')}`,
    loadDataDir: options.loadDataDir,
  });
  onStop(() => connection.close());
  if (options.migrate) {
    const { applied } = await migrate(connection);
    // One line, however many: a fresh database applies every migration there is.
    if (applied.length > 0) log.info(`database migrated: ${migrationRange(applied.map((m) => m.name))}`);
  } else {
    const pending = await pendingMigrations(connection);
    if (pending.length > 0) {
      throw new Error(`the database schema is missing ${pending.length} migration(s); run \`pulse migrate\` first`);
    }
  }
  const db = createDatabase(connection);

  const maintenance = startMaintenance(db, log, {
    daysAhead: config.TELEMETRY_PARTITION_DAYS_AHEAD,
    retentionDays: config.TELEMETRY_RETENTION_DAYS,
    analyze: connection.engine === 'pglite',
    prune: [
      pruneOidcStorage,
      (db) =>
        pruneExpiredRollups(db, {
          minuteDays: config.ROLLUP_1M_RETENTION_DAYS,
          hourDays: config.ROLLUP_1H_RETENTION_DAYS,
        }),
    ],
  });
  onStop(() => maintenance.stop());
  return { connection, db };
}

async function startBroker(
  config: Config,
  log: Logger,
  tls: { cert: Buffer; key: Buffer } | undefined,
  onStop: OnStop,
): Promise<EmbeddedBroker> {
  const broker = await startEmbeddedBroker({
    host: config.MQTT_HOST,
    port: config.MQTT_PORT,
    log,
    fallbackPort: {
      remembered: rememberedPort(config.PULSE_DATA_DIR, 'mqtt'),
      remember: (port) => rememberPort(config.PULSE_DATA_DIR, 'mqtt', port),
    },
    requireAuth: config.MODE === 'PROD',
    maxPacketBytes: config.MQTT_MAX_PACKET_BYTES,
    ...(tls && config.MQTT_TLS_PORT !== undefined && { tls: { ...tls, port: config.MQTT_TLS_PORT } }),
  });
  onStop(() => broker.stop());
  return broker;
}

/** Devices and browsers that only speak HTTP(S): MQTT over WebSocket on the HTTP port. */
function serveMqttOverWebSocket(http: HttpServer, broker: EmbeddedBroker, config: Config): void {
  // The same bind rule as the MQTT port: a loopback MQTT_HOST takes no device from the network here either.
  const mqttFromNetwork = !isLoopbackHost(config.MQTT_HOST);
  http.app.get('/mqtt', { websocket: true, schema: { hide: true } }, (socket, request) => {
    if (!mqttFromNetwork && !isLoopbackAddress(request.socket.remoteAddress)) {
      return socket.close(1008, 'MQTT over WebSocket is taken from this machine only (MQTT_HOST)');
    }
    broker.handleWebSocket(socket, request.ip);
  });
}

/** A renewed certificate is taken on SIGHUP, without a restart; open connections keep theirs. */
function reloadTlsOnHangup(
  config: Config,
  log: Logger,
  http: HttpServer,
  broker: EmbeddedBroker | undefined,
  onStop: OnStop,
): void {
  const reload = () =>
    void readTlsFiles(config).then(
      (renewed) => {
        (http.app.server as unknown as SecureServer).setSecureContext(renewed!);
        broker?.setSecureContext(renewed!);
        log.info({ cert: config.TLS_CERT_FILE }, 'TLS certificate reloaded');
      },
      (error: unknown) => log.error({ err: error }, 'TLS certificate not reloaded; the old one stays'),
    );
  process.on('SIGHUP', reload);
  onStop(async () => void process.off('SIGHUP', reload));
}

function warnOfUnguardedMqtt({ config, roles, log }: PlatformOptions, mqttUrl: string | undefined): void {
  if (!mqttUrl && roles.includes('ingest')) {
    log.warn('MQTT_URL is unset and no embedded broker runs here: ingest takes HTTP only');
  }
  if (config.MODE === 'PROD' && config.MQTT_URL && config.MQTT_BROKER_AUTH === 'none') {
    log.warn(
      'MQTT_BROKER_AUTH=none: Pulse does not manage device logins on MQTT_URL; unless the broker is secured otherwise, any client can read and publish device topics (MQTT_BROKER_AUTH=dynsec for Mosquitto)',
    );
  }
}

/**
 * Listens (on a free port when PORT is taken) and, when this process owns the embedded database, takes the
 * CLI's commands over the control route (ADR 017). Returns the URL users reach it at and its loopback URLs.
 */
async function listen(
  { config, log, defaultHost }: PlatformOptions,
  deps: RoleDeps,
  { connection, secure }: { connection: Connection; secure: boolean },
  onStop: OnStop,
) {
  const ownsDataDir = connection.engine === 'pglite' && !config.PULSE_DATA_DIR.startsWith('memory://');
  const { db, secrets, bus, http } = deps;
  const controlKey = ownsDataDir ? registerControlRoute(http.app, { db, config, secrets, bus }) : undefined;

  await http.app.ready();
  const listenHost = config.HOST ?? defaultHost ?? '0.0.0.0';
  const httpPort = await listenWithFallback(http.app.server, listenHost, config.PORT, (taken) =>
    log.warn(`HTTP port ${taken} is in use; listening on a free port instead (set PORT to choose one)`),
  );
  const scheme = secure ? 'https' : 'http';
  if (controlKey) {
    const host = ['0.0.0.0', '::'].includes(listenHost) ? '127.0.0.1' : listenHost;
    const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${httpPort}`;
    writeControlInfo(config.PULSE_DATA_DIR, { url, key: controlKey, pid: process.pid });
    onStop(async () => removeControlInfo(config.PULSE_DATA_DIR));
  }
  const publicUrl = config.PUBLIC_URL?.replace(/\/$/, '') ?? `${scheme}://localhost:${httpPort}`;
  const localUrls = [`${scheme}://localhost:${httpPort}`, `${scheme}://127.0.0.1:${httpPort}`];
  return { httpPort, publicUrl, localUrls };
}

async function openBus(config: Config, roles: readonly RoleName[], log: Logger): Promise<Bus> {
  if (!config.NATS_URL) return createInProcessBus(log);
  // Loaded only when asked for: every `pulse` command starts faster without the NATS client.
  const { createNatsBus } = await import('../bus/nats.js');
  return createNatsBus({
    servers: config.NATS_URL,
    caFile: config.NATS_CA_FILE,
    credsFile: config.NATS_CREDS_FILE,
    replicas: config.NATS_STREAM_REPLICAS,
    streamMaxAgeHours: config.NATS_STREAM_MAX_AGE_HOURS,
    outboxMaxBytes: config.NATS_OUTBOX_MAX_BYTES,
    partitions: config.EVALUATOR_PARTITIONS,
    failoverSeconds: config.EVALUATOR_FAILOVER_SECONDS,
    name: `pulse ${roles.join(',')}`,
    log: log.child({ component: 'bus' }),
  });
}

const withoutCredentials = (url: string) => {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.toString();
};

/** TLS_CERT_FILE and TLS_KEY_FILE, read (at start and on SIGHUP); undefined when TLS is off. */
async function readTlsFiles(config: Config): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (!config.TLS_CERT_FILE || !config.TLS_KEY_FILE) return undefined;
  const read = async (name: 'TLS_CERT_FILE' | 'TLS_KEY_FILE') => {
    try {
      return await readFile(config[name]!);
    } catch (error) {
      throw new Error(`${name}: cannot read ${config[name]} (${(error as Error).message})`);
    }
  };
  const [cert, key] = await Promise.all([read('TLS_CERT_FILE'), read('TLS_KEY_FILE')]);
  // A key that does not fit the certificate fails here, with both names, not at the first handshake.
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new Error(`TLS_CERT_FILE and TLS_KEY_FILE do not make a usable pair: ${(error as Error).message}`);
  }
  return { cert, key };
}
