// What every role receives and returns. The CLI builds the adapters (database, HTTP server, broker) and
// starts the chosen roles with them; roles never import each other.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { EmbeddedBroker } from './broker/embedded.js';
import type { Bus } from './bus/index.js';
import type { Config } from './config.js';
import type { ManagedLogins } from './broker/dynsec.js';
import type { Database } from './db/database.js';
import type { SecretBox } from './lib/secrets.js';
import type { ComponentHealth } from './contracts/health.js';
import type { HttpServer } from './http/server.js';

export interface RoleDeps {
  config: Config;
  db: Database;
  /** The shared HTTP server; roles add routes before it starts listening. */
  http: HttpServer;
  log: Logger;
  /** The admin key in force (ADMIN_KEY, or the generated DEV key). */
  adminKey: string;
  bus: Bus;
  /** Prometheus registry served at GET /metrics. */
  metrics: Registry;
  /** The embedded broker, when this process runs it (MQTT_URL unset). */
  embeddedBroker: EmbeddedBroker | undefined;
  /** The broker devices use (MQTT_URL or the embedded one). */
  mqttUrl: string | undefined;
  /** The same broker as Pulse's own clients reach it (the embedded one's with service credentials): MQTT integrations publish there by default. */
  serviceMqttUrl: string | undefined;
  /** Logins Pulse keeps on an external broker (MQTT_BROKER_AUTH=dynsec; no-ops otherwise). */
  brokerLogins: ManagedLogins;
  /** Seals and opens integration secrets (SECRETS_KEY). */
  secrets: SecretBox;
}

export interface RunningRole {
  readonly name: string;
  health(): ComponentHealth | Promise<ComponentHealth>;
  /** Called once the HTTP server listens: the URL users reach it at, and its loopback URLs. */
  listening?(publicUrl: string, localUrls: string[]): Promise<void>;
  /**
   * Does now what the role's start and timers have pending, and resolves when it is done (the dispatcher:
   * its look-back at start and the events waiting, repeats and escalations, the command sweep; the
   * evaluator: the stale deadlines due and saving what it decided): a test then knows a check happened
   * instead of waiting for its timer.
   */
  pollNow?(): Promise<void>;
  stop(): Promise<void>;
}

export type RoleStarter = (deps: RoleDeps) => RunningRole | Promise<RunningRole>;

export type RoleName = 'api' | 'provision' | 'ingest' | 'evaluator' | 'dispatcher' | 'delivery';

/**
 * What each role hears from other roles over the bus. Without NATS the bus reaches only this process,
 * so a role whose sources run elsewhere would wait forever without a word (ADR 015).
 */
const INPUTS: Record<RoleName, { from: RoleName; what: string }[]> = {
  ingest: [{ from: 'provision', what: 'device revocations and token rotations' }],
  evaluator: [
    { from: 'ingest', what: 'stored messages' },
    { from: 'provision', what: 'device revocations' },
    { from: 'api', what: 'alerts closed by hand' },
  ],
  dispatcher: [
    { from: 'evaluator', what: 'alert changes' },
    { from: 'api', what: 'alerts closed by hand' },
    { from: 'delivery', what: 'integration failing alerts' },
  ],
  api: [
    { from: 'ingest', what: 'live telemetry' },
    { from: 'evaluator', what: 'live alert changes' },
  ],
  // Delivery also polls the database for due jobs; the dispatcher's wake-up only saves the wait.
  delivery: [],
  provision: [],
};

/** Why these roles cannot run together in one process on the in-process bus, or undefined when they can. */
export function missingInputs(roles: readonly RoleName[]): string | undefined {
  const present = new Set(roles);
  const missing = roles.flatMap((role) =>
    INPUTS[role]
      .filter((input) => !present.has(input.from))
      .map((input) => `${role} needs ${input.what} from ${input.from}`),
  );
  if (missing.length === 0) return undefined;
  return `without NATS_URL the roles of one process hear only each other: ${missing.join('; ')}. Run those roles here too, or set NATS_URL`;
}
// Consumers start before producers: the delivery worker and dispatcher hear the first alert, the
// evaluator the first stored message.
export const ROLE_NAMES: readonly RoleName[] = ['api', 'provision', 'delivery', 'dispatcher', 'evaluator', 'ingest'];
