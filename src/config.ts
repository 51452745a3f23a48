// The only module that reads process.env. Every variable is declared once here with its type, default
// and documentation; `docs/configuration.md` is generated from this table (`npm run config-docs`).
import { z } from 'zod';
import { tileTemplateProblem } from './lib/map-tiles.js';
import { parseSecretsKey } from './lib/secrets.js';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);
/** "a, b,,c" → ["a", "b", "c"] */
const commaList = z
  .string()
  .trim()
  .transform((value) =>
    value
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
  );
function isUrl(value: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}
const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (value) => isUrl(value, protocols),
      `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    );

interface Variable {
  schema: z.ZodType;
  doc: string;
  /** How the default reads in the docs when it is not a plain value. */
  defaultDoc?: string;
}

export const variables = {
  MODE: {
    schema: z.enum(['DEV', 'PROD']).default('DEV'),
    doc: 'DEV generates an admin key and stores rejected payloads for debugging; PROD requires ADMIN_KEY and never stores payloads.',
  },
  LOG_LEVEL: {
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    doc: 'pino log level.',
  },
  PULSE_DATA_DIR: {
    schema: z.string().min(1).default('./.pulse'),
    doc: "Where the embedded database and the generated DEV keys live. Made 0700 at start, and the database files in it 0600: they hold the built-in issuer's signing key.",
  },
  DATABASE_URL: {
    schema: url(['postgres:', 'postgresql:']).optional(),
    doc: 'PostgreSQL ≥ 15 connection string. Unset: embedded PGlite under PULSE_DATA_DIR/pgdata.',
    defaultDoc: 'embedded PGlite',
  },
  DATABASE_POOL_SIZE: {
    schema: positiveInt.default(10),
    doc: 'Connections in the PostgreSQL pool (PGlite always has one).',
  },
  MQTT_URL: {
    schema: url(['mqtt:', 'mqtts:', 'ws:', 'wss:']).optional(),
    doc: 'External MQTT broker. Unset: an embedded broker listens on MQTT_PORT.',
    defaultDoc: 'embedded broker',
  },
  MQTT_BROKER_AUTH: {
    schema: z.enum(['none', 'dynsec']).default('none'),
    doc: "How devices log in to the MQTT_URL broker. dynsec: Pulse keeps Mosquitto's dynamic-security plugin in step (one login per device, `<tenant>/<device>` with its token, allowed only its own topics) with the plugin admin's credentials in MQTT_URL. none: the broker is secured some other way (PROD warns at every start). The embedded broker always checks device logins itself.",
  },
  MQTT_CA_FILE: {
    schema: z.string().min(1).optional(),
    doc: "PEM file of the certificate authority that signed an mqtts:// or wss:// MQTT_URL broker's certificate (a private CA). Unset: the system's CAs.",
    defaultDoc: 'system CAs',
  },
  MQTT_MAX_PACKET_BYTES: {
    schema: z.coerce
      .number()
      .int()
      .min(8192)
      .max(268_435_455)
      .default(256 * 1024),
    doc: 'Largest MQTT packet. Ingest reading an external broker does not buffer a larger message: it is quarantined as PAYLOAD_TOO_LARGE from its first bytes, and acknowledged. The embedded broker closes a connection that declares a larger packet before reading it.',
  },
  MQTT_PORT: {
    schema: port.default(1883),
    doc: 'Port of the embedded broker; when it is taken, a free port is used and printed.',
  },
  MQTT_HOST: {
    schema: z.string().min(1).default('127.0.0.1'),
    doc: 'Interface the embedded broker listens on. Loopback by default. Devices log in as <tenant_id>/<device_id> with their provision token; in PROD nobody else gets in, in DEV anonymous clients may still publish with the token in the payload (never subscribe to device topics). Set 0.0.0.0 to take devices from the network (in PROD, or on a trusted network in DEV). MQTT over WebSocket at /mqtt follows it: with a loopback MQTT_HOST it serves this machine (or a proxy on it) only.',
  },
  HOST: {
    schema: z.string().min(1).optional(),
    doc: 'Interface the HTTP server listens on. Unset: `pulse up` (npm start, the demo) listens on loopback only, `pulse run` on every interface. Set 0.0.0.0 to open `pulse up` to the network.',
    defaultDoc: '127.0.0.1 (pulse up), 0.0.0.0 (pulse run)',
  },
  DEMO_USERS: {
    schema: z.enum(['auto', 'on', 'off']).default('auto'),
    doc: 'The demo logins `pulse up` creates (their password, pulse-demo, is published). auto: in DEV with the built-in issuer when HTTP listens on loopback only; on: also when HOST opens it to the network (refused in PROD); off: none.',
  },
  PORT: {
    schema: port.default(8080),
    doc: 'The one HTTP port: provisioning, ingest, API, web app, /health. When taken, a free port is used and printed.',
  },
  TLS_CERT_FILE: {
    schema: z.string().min(1).optional(),
    doc: 'PEM certificate (chain) the HTTP server serves HTTPS with (HTTP/1.1 and HTTP/2, WebSocket included), and the embedded broker MQTT over TLS on MQTT_TLS_PORT. Re-read on SIGHUP. Unset: plain HTTP (behind a TLS proxy, set TRUST_PROXY).',
    defaultDoc: 'plain HTTP',
  },
  TLS_KEY_FILE: {
    schema: z.string().min(1).optional(),
    doc: 'PEM private key of TLS_CERT_FILE. Re-read on SIGHUP.',
    defaultDoc: 'plain HTTP',
  },
  MQTT_TLS_PORT: {
    schema: port.optional(),
    doc: 'Port of the embedded broker for MQTT over TLS (mqtts://), with TLS_CERT_FILE and TLS_KEY_FILE. MQTT over WebSocket is always at /mqtt on the HTTP port (wss:// with TLS).',
    defaultDoc: 'none',
  },
  PUBLIC_URL: {
    schema: url(['http:', 'https:']).optional(),
    doc: 'URL users and devices reach Pulse at, as printed at start. Unset: http://localhost:PORT.',
    defaultDoc: 'http://localhost:PORT',
  },
  ADMIN_KEY: {
    schema: z.string().min(16, 'must be at least 16 characters').optional(),
    doc: 'X-Admin-Key for the provisioning API. Required in PROD; in DEV a random key is generated, stored in PULSE_DATA_DIR/admin-key and printed.',
    defaultDoc: 'generated (DEV)',
  },
  ACTIVATION_TTL_MINUTES: {
    schema: positiveInt.default(60),
    doc: 'Lifetime of a device activation code.',
  },
  ACTIVATION_FAILURE_LIMIT: {
    schema: positiveInt.default(10),
    doc: 'Failed activation attempts, and requests with a wrong X-Admin-Key, one client address may make per ACTIVATION_FAILURE_WINDOW_SECONDS before it gets 429.',
  },
  ACTIVATION_FAILURE_WINDOW_SECONDS: {
    schema: positiveInt.default(600),
    doc: 'Window of the activation and admin-key failure limits.',
  },
  LOGIN_FAILURE_LIMIT: {
    schema: positiveInt.default(10),
    doc: "Failed sign-ins to the built-in issuer per account from one client address per LOGIN_FAILURE_WINDOW_SECONDS (an address may fail five times as often over all accounts); beyond, the login page answers 429 with Retry-After to that address only. A right password doesn't count.",
  },
  LOGIN_FAILURE_WINDOW_SECONDS: {
    schema: positiveInt.default(900),
    doc: 'Window of the sign-in failure limit.',
  },
  MQTT_SHARED_GROUP: {
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
      .default('pulse-ingest'),
    doc: 'Shared-subscription group on an external broker ($share/<group>/tenant/+/device/+/+): ingest instances in one group split the messages.',
  },
  MQTT_CLIENT_ID: {
    schema: z.string().min(1).optional(),
    doc: 'Client id of the ingest subscription (a persistent session). Give each ingest instance its own.',
    defaultDoc: 'pulse-ingest-<hostname>',
  },
  NATS_URL: {
    schema: commaList
      .refine(
        (servers) => servers.length > 0 && servers.every((server) => isUrl(server, ['nats:', 'tls:'])),
        'must be one or more comma-separated nats:// or tls:// URLs (user:password@ in a URL for credentials)',
      )
      .optional(),
    doc: 'NATS servers with JetStream (comma-separated; user:password@ or NATS_CREDS_FILE for credentials). Set: roles talk over NATS and may run as separate processes, several instances each. Unset: an in-process bus, and `pulse run` accepts only role sets that need no other process.',
    defaultDoc: 'in-process bus',
  },
  NATS_CREDS_FILE: {
    schema: z.string().min(1).optional(),
    doc: 'A NATS .creds file (user JWT and nkey seed) for decentralised NATS authentication.',
    defaultDoc: 'none',
  },
  NATS_CA_FILE: {
    schema: z.string().min(1).optional(),
    doc: 'PEM file of the certificate authority of tls:// NATS servers (a private CA). Unset: the system CAs.',
    defaultDoc: 'system CAs',
  },
  NATS_STREAM_REPLICAS: {
    schema: z.coerce
      .number()
      .int()
      .refine((n) => [1, 3, 5].includes(n), 'must be 1, 3 or 5')
      .optional(),
    doc: 'Replicas of the JetStream streams Pulse creates. Unset: 3 when the cluster has at least 3 servers, else 1.',
    defaultDoc: 'auto',
  },
  NATS_STREAM_MAX_AGE_HOURS: {
    schema: positiveInt.default(24),
    doc: 'How long stored-message and alert events wait in their streams for an evaluator or dispatcher before they are dropped.',
  },
  NATS_OUTBOX_MAX_BYTES: {
    schema: positiveInt.default(256 * 1024 * 1024),
    doc: 'Durable events a process holds in memory while NATS cannot store them (ingest keeps storing telemetry meanwhile); beyond this the oldest are dropped, counted and /health says degraded.',
  },
  EVALUATOR_PARTITIONS: {
    schema: positiveInt.max(1024).optional(),
    doc: "Devices are cut into this many partitions by a hash of tenant and device; each is evaluated by one evaluator instance at a time, so at most this many evaluator instances share the work. A cluster records the count it was first started with, and a process started with another refuses to start. Unset: the recorded count, or 8 for a new cluster. Fewer partitions mean larger batches for NATS (8 instead of 32 for two instances cut NATS's CPU by 40 % at 5,000 msg/s, ADR 015); set it before the first start to plan for more than 8 evaluator instances.",
    defaultDoc: "the cluster's, else 8",
  },
  EVALUATOR_FAILOVER_SECONDS: {
    schema: positiveInt.max(300).default(10),
    doc: "Within this time a dead evaluator instance's partitions are taken over by the live ones.",
  },
  BATCH_SIZE: {
    schema: positiveInt.default(500),
    doc: 'Telemetry rows written per batch.',
  },
  INGEST_WRITERS: {
    schema: positiveInt.max(32).default(4),
    doc: 'Telemetry batches written at once, each on its own connection (PostgreSQL; PGlite writes one at a time).',
  },
  FLUSH_INTERVAL_MS: {
    schema: positiveInt.default(1000),
    doc: 'Longest time an accepted QoS 0 message waits before its batch is written (QoS 1 and HTTP flush within 20 ms).',
  },
  INGEST_QUEUE_SIZE: {
    schema: positiveInt.default(50_000),
    doc: 'Accepted messages held while the database is slow or away; beyond it QoS 1 and HTTP wait (backpressure) and QoS 0 is rejected as OVERLOADED.',
  },
  AUTH_CACHE_TTL_SECONDS: {
    schema: positiveInt.default(60),
    doc: 'How long a device registry entry is cached by ingest (revoke/rotate in the same process apply at once).',
  },
  AUTH_CACHE_NEGATIVE_TTL_SECONDS: {
    schema: positiveInt.default(10),
    doc: 'How long "not registered" is cached, so an unknown device costs no query per message.',
  },
  AUTH_CACHE_MAX_SIZE: {
    schema: positiveInt.default(10_000),
    doc: 'Registry entries cached by ingest at most.',
  },
  SETTINGS_POLL_SECONDS: {
    schema: positiveInt.default(5),
    doc: 'How often ingest re-reads app_settings.',
  },
  TEXT_METRIC_MAX_LENGTH: {
    schema: positiveInt.max(4096).default(256),
    doc: 'Characters a text metric value (a state such as "DEFROST") may have; a longer one is INVALID_METRICS.',
  },
  MAX_CLOCK_SKEW_SECONDS: {
    schema: nonNegativeInt.default(300),
    doc: 'A message whose ts is further than this in the future is rejected as TS_IN_FUTURE.',
  },
  HTTP_INGEST_MAX_BODY_BYTES: {
    schema: positiveInt.default(65_536),
    doc: 'Largest body of POST /ingest/v1/tenant/…; larger answers 413.',
  },
  HTTP_INGEST_MAX_BATCH_BYTES: {
    schema: positiveInt.default(1_048_576),
    doc: 'Largest body of POST /ingest/v1/batch; larger answers 413.',
  },
  HEARTBEAT_STALE_SECONDS: {
    schema: positiveInt.default(30),
    doc: 'A device is ONLINE while its last heartbeat or telemetry is at most this old (plus FLUSH_INTERVAL_MS, the longest ingest holds a message before storing it), then STALE with a NO_HEARTBEAT alert.',
  },
  TELEMETRY_PARTITION_DAYS_AHEAD: {
    schema: nonNegativeInt.max(60).default(3),
    doc: 'Daily telemetry partitions kept created ahead of today (UTC).',
  },
  TELEMETRY_RETENTION_DAYS: {
    schema: nonNegativeInt.default(30),
    doc: 'Telemetry partitions older than this many days are dropped; 0 keeps everything.',
  },
  ROLLUP_INTERVAL_SECONDS: {
    schema: positiveInt.max(3600).default(5),
    doc: 'How often ingest folds newly stored telemetry into the 1-minute and 1-hour rollups.',
  },
  ROLLUP_LAG_SECONDS: {
    schema: nonNegativeInt.max(3600).default(2),
    doc: 'The rollups stay this far behind the newest stored telemetry (and behind any write still in flight).',
  },
  ROLLUP_SLICE_SECONDS: {
    schema: positiveInt.max(86_400).default(60),
    doc: 'At most this much ingest time is rolled up in one transaction (a backlog is worked off in slices).',
  },
  ROLLUP_1M_RETENTION_DAYS: {
    schema: nonNegativeInt.default(90),
    doc: '1-minute rollups older than this many days are deleted (in bounded batches); 0 keeps everything.',
  },
  ROLLUP_1H_RETENTION_DAYS: {
    schema: nonNegativeInt.default(730),
    doc: "1-hour rollups, and the devices' 1-day ones, older than this many days are deleted (in bounded batches); 0 keeps everything.",
  },
  OIDC_ISSUER: {
    schema: url(['http:', 'https:']).optional(),
    doc: 'External OpenID Connect issuer (e.g. https://sso.example.com/realms/pulse). Tokens are verified against its JWKS. Unset: the built-in issuer at PUBLIC_URL/oidc with users in the database.',
    defaultDoc: 'built-in issuer',
  },
  OIDC_CLIENT_ID: {
    schema: z.string().min(1).default('pulse-ui'),
    doc: 'Client id the web app logs in with (a public client using PKCE).',
  },
  JWT_AUDIENCE: {
    schema: z.string().min(1).default('pulse-ui'),
    doc: "Audience an access token's `aud` must contain.",
  },
  OIDC_ACCESS_TOKEN_TTL_SECONDS: {
    schema: positiveInt.default(900),
    doc: 'Lifetime of access tokens from the built-in issuer (the web app refreshes them).',
  },
  OIDC_REFRESH_TOKEN_TTL_SECONDS: {
    schema: positiveInt.default(14 * 24 * 3600),
    doc: 'Lifetime of refresh tokens from the built-in issuer.',
  },
  API_RATE_LIMIT: {
    schema: positiveInt.default(100),
    doc: 'Requests one user may make through one API client (the web app, whatever its tabs, or another OIDC client) to /api/v2 and /customer together per API_RATE_WINDOW_SECONDS; more answer 429 with Retry-After.',
  },
  API_CHECK_RESPONSES: {
    schema: z.enum(['off', 'on']).default('off'),
    doc: "on: every JSON answer is checked against its route's response schema and a mismatch answers 500 naming the field (the test suite runs with it on, so /api/docs and the web app's generated types cannot drift from what the API sends).",
  },
  TRUST_PROXY: {
    schema: commaList.optional(),
    doc: 'Comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed (client IPs in the audit log). Unset: the peer address is the client.',
    defaultDoc: 'none',
  },
  MAP_TILE_URL: {
    schema: z
      .string()
      .trim()
      .superRefine((value, ctx) => {
        const problem = tileTemplateProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    doc: "Raster tiles the web app's maps (the fleet map, a device's track) draw above the country outlines they ship with: a URL template with {z}, {x} and {y} (and {s} for subdomains), e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png, or a path on this server behind the same proxy. Browsers fetch them from there (the CSP lets images come from its origin); mind the tile server's usage policy. Unset: the outlines only, and maps need no network but Pulse.",
    defaultDoc: 'outlines only',
  },
  MAP_TILE_ATTRIBUTION: {
    schema: z.string().trim().min(1).max(300).optional(),
    doc: "The credit shown on the maps for MAP_TILE_URL's tiles, as plain text (e.g. © OpenStreetMap contributors). Unset: the tile server's host name.",
    defaultDoc: 'the host name',
  },
  METRICS_COLLECTION_INTERVAL: {
    schema: positiveInt.default(5),
    doc: 'Seconds between samples of the platform metrics shown on the operator System page.',
  },
  METRICS_RETENTION_DAYS: {
    schema: positiveInt.default(7),
    doc: 'Days of system metrics history kept.',
  },
  SECRETS_KEY: {
    schema: z.string().min(1).optional(),
    doc: 'Key that seals integration secrets in the database: 64 hex characters or base64 of 32 bytes (`openssl rand -hex 32`). Required in PROD; in DEV one is generated in PULSE_DATA_DIR/secrets-key.',
    defaultDoc: 'generated (DEV)',
  },
  SSRF_ALLOWLIST: {
    schema: commaList.default([]),
    doc: 'Comma-separated CIDRs, addresses or host names that notifications may reach although private (on-prem receivers, tests). Everything else private, loopback, link-local or cloud-metadata is refused.',
    defaultDoc: 'empty',
  },
  PAGERDUTY_EVENTS_URL: {
    schema: url(['http:', 'https:']).default('https://events.pagerduty.com/v2/enqueue'),
    doc: 'Where PagerDuty integrations send (Events API v2). Change it only for a proxy or a test receiver; subject to the same SSRF rules as webhooks.',
  },
  OPSGENIE_API_URL: {
    schema: url(['http:', 'https:']).default('https://api.opsgenie.com'),
    doc: "Opsgenie's API for integrations in the US region (the Alert API is under /v2/alerts). Subject to the SSRF rules.",
  },
  OPSGENIE_EU_API_URL: {
    schema: url(['http:', 'https:']).default('https://api.eu.opsgenie.com'),
    doc: "Opsgenie's API for integrations in the EU region. Subject to the SSRF rules.",
  },
  ALERT_LOOKBACK_MINUTES: {
    schema: positiveInt.default(30),
    doc: 'At start the dispatcher queues deliveries for alert events of this many past minutes that have none (idempotent).',
  },
  RENOTIFY_CHECK_SECONDS: {
    schema: positiveInt.max(3600).default(30),
    doc: 'How often the dispatcher looks for OPEN, unacknowledged alerts due a repeat or an escalation (a follow-up is up to this late).',
  },
  COMMAND_MAX_IN_FLIGHT: {
    schema: positiveInt.max(100).default(4),
    doc: 'Commands a device has at once, sent and not yet answered; the rest wait QUEUED in creation order.',
  },
  EVALUATOR_SCOPE_REFRESH_SECONDS: {
    schema: positiveInt.max(3600).default(60),
    doc: "How often the evaluator reads its rules' selectors again although no device change was announced: a change made in SQL, or announced while the bus was down, reaches the rules' scopes within this time.",
  },
  COMMAND_SWEEP_SECONDS: {
    schema: positiveInt.max(300).default(5),
    doc: 'How often the dispatcher expires commands, runs fleet jobs and sends whatever a lost bus event left waiting (a device connected while it was away).',
  },
  COMMANDS_PER_MINUTE: {
    schema: positiveInt.max(1_000_000).default(600),
    doc: 'Commands and configuration changes one tenant may make per minute through the API, per api instance (fleet jobs count as one).',
  },
  WORKER_CONCURRENCY: {
    schema: positiveInt.max(1000).default(16),
    doc: 'Deliveries one worker sends at once.',
  },
  WORKER_TENANT_CONCURRENCY: {
    schema: positiveInt.max(1000).default(4),
    doc: 'Of those, at most this many for one tenant, so a noisy tenant cannot starve the others.',
  },
  WORKER_POLL_SECONDS: {
    schema: positiveInt.default(2),
    doc: 'How often a worker looks for due jobs (retries, jobs of other instances); new jobs of this process start at once.',
  },
  WORKER_TIMEOUT_SECONDS: {
    schema: positiveInt.max(300).default(15),
    doc: 'Time limit of one delivery attempt (connect, send, answer).',
  },
  WORKER_MAX_ATTEMPTS: {
    schema: positiveInt.max(50).default(5),
    doc: 'Attempts before a job is FAILED.',
  },
  WORKER_BACKOFF_BASE_SECONDS: {
    schema: positiveInt.default(30),
    doc: 'Delay before the first retry; doubles each time (±20 % jitter).',
  },
  WORKER_BACKOFF_MAX_SECONDS: {
    schema: positiveInt.default(7200),
    doc: 'Longest delay between retries.',
  },
  INTEGRATION_FAILING_AFTER: {
    schema: positiveInt.max(1000).default(3),
    doc: 'Delivery attempts failing in a row (of any of its jobs) after which an integration is failing: logged once, shown, and an INTEGRATION_FAILING alert opens. A job ending FAILED makes it failing sooner.',
  },
  STUCK_JOB_MINUTES: {
    schema: positiveInt.default(5),
    doc: 'A job PROCESSING this long (its worker died) is queued again.',
  },
  API_RATE_WINDOW_SECONDS: {
    schema: positiveInt.default(60),
    doc: 'Sliding window of API_RATE_LIMIT, in seconds.',
  },
  EXPORTS_PER_TENANT: {
    schema: positiveInt.default(2),
    doc: 'Telemetry exports one tenant may run at once on each api instance; more answer 429 with Retry-After.',
  },
  TENANT_MAX_SILENCES: {
    schema: positiveInt.default(200),
    doc: 'Running and coming silences one tenant may hold; creating more answers 409 (LIMIT_REACHED).',
  },
  TENANT_MAX_ROUTES: {
    schema: positiveInt.default(200),
    doc: 'Integration routes one tenant may hold; creating more answers 409 (LIMIT_REACHED).',
  },
  TENANT_MAX_RULES: {
    schema: positiveInt.default(500),
    doc: 'Alert rules one tenant may hold; creating more answers 409 (LIMIT_REACHED).',
  },
  TENANT_MAX_INTEGRATIONS: {
    schema: positiveInt.default(100),
    doc: 'Integrations (of every type together) one tenant may hold; creating more answers 409 (LIMIT_REACHED).',
  },
  ALERT_MAX_NOTES: {
    schema: positiveInt.default(100),
    doc: 'Notes one alert may carry; adding more answers 409 (LIMIT_REACHED).',
  },
  FIRMWARE_MAX_BYTES: {
    schema: positiveInt.default(268_435_456),
    doc: 'Largest firmware image a customer admin may upload (POST /customer/firmware), in bytes; larger answers 413 and stores nothing.',
    defaultDoc: '268435456 (256 MiB)',
  },
  FIRMWARE_URL_TTL_SECONDS: {
    schema: positiveInt.max(7 * 86_400).default(3600),
    doc: 'How long a signed firmware download link (GET /ingest/v1/firmware/…, sent to a device with a firmware_update command) stays valid.',
  },
  DELIVERY_RETRIES_PER_MINUTE: {
    schema: positiveInt.default(10),
    doc: 'Manual delivery retries (POST /customer/deliveries/{job_id}/retry) one tenant may make per minute; more answer 429 with Retry-After.',
  },
} satisfies Record<string, Variable>;

type Variables = typeof variables;
type Parsed = { [K in keyof Variables]: z.output<Variables[K]['schema']> };

export type Config = Parsed;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

const schema = z
  .object(
    Object.fromEntries(Object.entries(variables).map(([name, v]) => [name, v.schema])) as {
      [K in keyof Variables]: Variables[K]['schema'];
    },
  )
  .superRefine((config, ctx) => {
    if (config.MODE === 'PROD' && !config.ADMIN_KEY) {
      ctx.addIssue({ code: 'custom', path: ['ADMIN_KEY'], message: 'is required when MODE=PROD' });
    }
    if (config.MODE === 'PROD' && config.DEMO_USERS === 'on') {
      ctx.addIssue({
        code: 'custom',
        path: ['DEMO_USERS'],
        message: 'cannot be on when MODE=PROD: the demo password is published',
      });
    }
    if (config.MODE === 'PROD' && !config.SECRETS_KEY) {
      ctx.addIssue({ code: 'custom', path: ['SECRETS_KEY'], message: 'is required when MODE=PROD' });
    }
    if (Boolean(config.TLS_CERT_FILE) !== Boolean(config.TLS_KEY_FILE)) {
      ctx.addIssue({
        code: 'custom',
        path: [config.TLS_CERT_FILE ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE'],
        message: 'is needed too: TLS_CERT_FILE and TLS_KEY_FILE go together',
      });
    }
    if (config.MQTT_TLS_PORT !== undefined && !config.TLS_CERT_FILE) {
      ctx.addIssue({ code: 'custom', path: ['MQTT_TLS_PORT'], message: 'needs TLS_CERT_FILE and TLS_KEY_FILE' });
    }
    if (config.MQTT_BROKER_AUTH === 'dynsec') {
      const url = config.MQTT_URL ? new URL(config.MQTT_URL) : undefined;
      if (!url?.username || !url.password)
        ctx.addIssue({
          code: 'custom',
          path: ['MQTT_BROKER_AUTH'],
          message:
            "dynsec needs MQTT_URL with the dynamic-security admin's credentials: mqtt://<admin>:<password>@host:port",
        });
    }
    if (config.SECRETS_KEY && !parseSecretsKey(config.SECRETS_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: ['SECRETS_KEY'],
        message: 'must be 64 hex characters or base64 of 32 bytes',
      });
    }
  });

/** Never repeated in error messages (they end up in logs). */
const SECRET_VARIABLES = new Set(['ADMIN_KEY', 'SECRETS_KEY']);

/** Parses the environment; throws ConfigError with one line per bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Parsed {
  // An empty variable counts as unset, as in most shells' `VAR= cmd` usage.
  const relevant = Object.fromEntries(
    Object.keys(variables).map((name) => [name, env[name] === '' ? undefined : env[name]]),
  );
  const result = schema.safeParse(relevant);
  if (result.success) return result.data as Parsed;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'config');
    const raw = relevant[name];
    const got = raw === undefined || SECRET_VARIABLES.has(name) ? '' : ` (got ${JSON.stringify(raw)})`;
    return `${name} ${describeIssue(issue)}${got}`;
  });
  throw new ConfigError(problems);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_type':
      return `must be a ${issue.expected}`;
    case 'too_small':
      return issue.message.startsWith('must') ? issue.message : `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`;
    default:
      return issue.message;
  }
}
