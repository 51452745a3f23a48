// What every role receives and returns. The CLI builds the adapters (database, HTTP server, broker) and
// starts the chosen roles with them; roles never import each other.
import type { Aedes } from 'aedes';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Bus } from './bus/index.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import type { SecretBox } from './delivery/secrets.js';
import type { ComponentHealth, HttpServer } from './http/server.js';

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
  embeddedBroker: Aedes | undefined;
  /** The broker devices use (MQTT_URL or the embedded one): MQTT integrations publish there by default. */
  mqttUrl: string | undefined;
  /** Seals and opens integration secrets (SECRETS_KEY). */
  secrets: SecretBox;
}

export interface RunningRole {
  readonly name: string;
  health(): ComponentHealth | Promise<ComponentHealth>;
  /** Called once the HTTP server listens: the URL users reach it at, and its loopback URLs. */
  listening?(publicUrl: string, localUrls: string[]): Promise<void>;
  stop(): Promise<void>;
}

export type RoleStarter = (deps: RoleDeps) => RunningRole | Promise<RunningRole>;

export type RoleName = 'api' | 'provision' | 'ingest' | 'evaluator' | 'dispatcher' | 'delivery';
// Consumers start before producers: the delivery worker and dispatcher hear the first alert, the
// evaluator the first stored message.
export const ROLE_NAMES: readonly RoleName[] = ['api', 'provision', 'delivery', 'dispatcher', 'evaluator', 'ingest'];
