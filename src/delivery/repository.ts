// SQL of alert delivery: integrations and routes (customer, in the tenant's transaction), and the
// dispatcher's and worker's job bookkeeping (pipeline role). Secrets are sealed before they reach a
// query and opened only to build a channel target.
import type { ServiceTx, TenantTx } from '../db/database.js';
import type { EmailTarget, MqttTarget, SnmpTarget, Target } from './integration.js';
import type { AlertRow, DeliveryEvent } from './payload.js';
import type { RouteFilter } from './routing.js';
import type { SecretBox, Secrets } from './secrets.js';

export type IntegrationType = Target['type'];

export interface IntegrationRow {
  tenant_id: string;
  integration_id: string;
  name: string;
  type: IntegrationType;
  enabled: boolean;
  config_json: { url?: string; headers?: Record<string, string>; secret_headers?: string[] };
  snmp_config: { version: '2c' | '3'; username?: string; auth_protocol?: string; priv_protocol?: string | null } | null;
  snmp_host: string | null;
  snmp_port: number | null;
  snmp_oid_prefix: string | null;
  email_config: {
    smtp_host: string;
    smtp_port: number;
    smtp_user?: string | null;
    smtp_tls: EmailTarget['smtp_tls'];
    tls_verify: boolean;
    from_address: string;
    from_name: string;
  } | null;
  email_recipients: { to: string[]; cc: string[]; bcc: string[] } | null;
  email_template: { subject_template: string; body_template?: string | null; format: 'html' | 'text' } | null;
  mqtt_topic: string | null;
  mqtt_qos: number | null;
  mqtt_retain: boolean | null;
  mqtt_config: { broker_url?: string | null; username?: string | null } | null;
  secrets: string | null;
  created_at: Date;
  updated_at: Date;
}

/** Columns an integration is written with; `secrets` is already sealed. */
export interface IntegrationColumns {
  name?: string;
  type?: IntegrationType;
  enabled?: boolean;
  config_json?: IntegrationRow['config_json'];
  snmp_config?: IntegrationRow['snmp_config'];
  snmp_host?: string;
  snmp_port?: number;
  snmp_oid_prefix?: string;
  email_config?: IntegrationRow['email_config'];
  email_recipients?: IntegrationRow['email_recipients'];
  email_template?: IntegrationRow['email_template'];
  mqtt_topic?: string;
  mqtt_qos?: number;
  mqtt_retain?: boolean;
  mqtt_config?: IntegrationRow['mqtt_config'];
  secrets?: string;
}

const JSON_COLUMNS = new Set([
  'config_json',
  'snmp_config',
  'email_config',
  'email_recipients',
  'email_template',
  'mqtt_config',
]);
const WRITABLE = [
  'name',
  'type',
  'enabled',
  'config_json',
  'snmp_config',
  'snmp_host',
  'snmp_port',
  'snmp_oid_prefix',
  'email_config',
  'email_recipients',
  'email_template',
  'mqtt_topic',
  'mqtt_qos',
  'mqtt_retain',
  'mqtt_config',
  'secrets',
] as const;

const present = (columns: IntegrationColumns) => WRITABLE.filter((column) => columns[column] !== undefined);
const value = (columns: IntegrationColumns, column: (typeof WRITABLE)[number]) =>
  JSON_COLUMNS.has(column) ? JSON.stringify(columns[column]) : columns[column];

export async function listIntegrations(tx: TenantTx, type?: IntegrationType): Promise<IntegrationRow[]> {
  const { rows } = await tx.query<IntegrationRow>(
    `SELECT * FROM integrations WHERE tenant_id = $1 AND ($2::text IS NULL OR type = $2) ORDER BY created_at DESC LIMIT 500`,
    [tx.tenantId, type ?? null],
  );
  return rows;
}

/** Integrations of every tenant, or of one (the admin API). */
export async function integrationsOfAnyTenant(
  tx: ServiceTx,
  filter: { tenantId?: string | undefined; integrationId?: string | undefined; enabled?: boolean | undefined },
  limit: number,
): Promise<IntegrationRow[]> {
  const { rows } = await tx.query<IntegrationRow>(
    `SELECT * FROM integrations WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR integration_id::text = $2)
       AND ($3::boolean IS NULL OR enabled = $3)
     ORDER BY created_at DESC LIMIT $4`,
    [filter.tenantId ?? null, filter.integrationId ?? null, filter.enabled ?? null, limit],
  );
  return rows;
}

export async function findIntegration(
  tx: TenantTx,
  integrationId: string,
  type?: IntegrationType,
): Promise<IntegrationRow | undefined> {
  const { rows } = await tx.query<IntegrationRow>(
    `SELECT * FROM integrations WHERE tenant_id = $1 AND integration_id::text = $2 AND ($3::text IS NULL OR type = $3)`,
    [tx.tenantId, integrationId, type ?? null],
  );
  return rows[0];
}

export async function insertIntegration(
  tx: TenantTx | ServiceTx,
  tenantId: string,
  columns: IntegrationColumns,
): Promise<IntegrationRow> {
  const names = present(columns);
  const { rows } = await tx.query<IntegrationRow>(
    `INSERT INTO integrations (tenant_id, ${names.join(', ')}) VALUES ($1, ${names.map((_, i) => `$${i + 2}`).join(', ')}) RETURNING *`,
    [tenantId, ...names.map((name) => value(columns, name))],
  );
  return rows[0]!;
}

export async function updateIntegration(
  tx: TenantTx,
  integrationId: string,
  columns: IntegrationColumns,
): Promise<IntegrationRow | undefined> {
  const names = present(columns);
  const { rows } = await tx.query<IntegrationRow>(
    `UPDATE integrations SET ${[...names.map((name, i) => `${name} = $${i + 3}`), 'updated_at = now()'].join(', ')}
     WHERE tenant_id = $1 AND integration_id::text = $2 RETURNING *`,
    [tx.tenantId, integrationId, ...names.map((name) => value(columns, name))],
  );
  return rows[0];
}

export async function deleteIntegration(tx: TenantTx, integrationId: string, type?: IntegrationType): Promise<boolean> {
  const { rowCount } = await tx.query(
    `DELETE FROM integrations WHERE tenant_id = $1 AND integration_id::text = $2 AND ($3::text IS NULL OR type = $3)`,
    [tx.tenantId, integrationId, type ?? null],
  );
  return (rowCount ?? 0) > 0;
}

/** The integration as its channel needs it, secrets opened. */
export function toTarget(row: IntegrationRow, box: SecretBox): Target {
  const secrets: Secrets = box.open(row.secrets);
  const common = { tenant_id: row.tenant_id, integration_id: row.integration_id, name: row.name, enabled: row.enabled };
  switch (row.type) {
    case 'webhook':
      return {
        ...common,
        type: 'webhook',
        url: row.config_json.url!,
        headers: { ...row.config_json.headers, ...(secrets.headers as Record<string, string> | undefined) },
        signing_secret: secrets.signing_secret as string | undefined,
      };
    case 'snmp': {
      const config = row.snmp_config!;
      return {
        ...common,
        type: 'snmp',
        host: row.snmp_host!,
        port: row.snmp_port ?? 162,
        oid_prefix: row.snmp_oid_prefix ?? '1.3.6.1.4.1.99999',
        version: config.version,
        community: secrets.community as string | undefined,
        username: config.username,
        auth_protocol: config.auth_protocol as SnmpTarget['auth_protocol'],
        auth_password: secrets.auth_password as string | undefined,
        priv_protocol: config.priv_protocol as SnmpTarget['priv_protocol'],
        priv_password: secrets.priv_password as string | undefined,
      };
    }
    case 'email': {
      const config = row.email_config!;
      const recipients = row.email_recipients!;
      return {
        ...common,
        type: 'email',
        smtp_host: config.smtp_host,
        smtp_port: config.smtp_port,
        smtp_user: config.smtp_user ?? undefined,
        smtp_password: secrets.smtp_password as string | undefined,
        smtp_tls: config.smtp_tls,
        tls_verify: config.tls_verify,
        from_address: config.from_address,
        from_name: config.from_name,
        to: recipients.to,
        cc: recipients.cc ?? [],
        bcc: recipients.bcc ?? [],
        subject_template: row.email_template?.subject_template ?? '',
        body_template: row.email_template?.body_template ?? undefined,
        format: row.email_template?.format ?? 'html',
      };
    }
    case 'mqtt':
      return {
        ...common,
        type: 'mqtt',
        topic: row.mqtt_topic!,
        qos: (row.mqtt_qos ?? 1) as MqttTarget['qos'],
        retain: row.mqtt_retain ?? false,
        broker_url: row.mqtt_config?.broker_url ?? undefined,
        username: row.mqtt_config?.username ?? undefined,
        password: secrets.password as string | undefined,
      };
  }
}

// Routes ------------------------------------------------------------------------------------------------

export interface RouteColumns {
  integration_id?: string;
  name?: string;
  enabled?: boolean;
  min_severity?: number | null;
  alert_types?: string[] | null;
  severities?: string[] | null;
  site_ids?: string[] | null;
  device_prefixes?: string[] | null;
  deliver_on?: string[];
  priority?: number;
}

const ROUTE_WRITABLE = [
  'integration_id',
  'name',
  'enabled',
  'min_severity',
  'alert_types',
  'severities',
  'site_ids',
  'device_prefixes',
  'deliver_on',
  'priority',
] as const;

const ROUTE_SELECT = `SELECT r.tenant_id, r.route_id, r.integration_id, i.name AS integration_name, i.type AS integration_type,
  r.name, r.enabled, r.min_severity, r.alert_types, r.severities, r.site_ids, r.device_prefixes, r.deliver_on, r.priority,
  r.created_at, r.updated_at
  FROM integration_routes r JOIN integrations i ON i.tenant_id = r.tenant_id AND i.integration_id = r.integration_id`;

export interface RouteQuery {
  tenantId?: string | undefined;
  routeId?: string | undefined;
  integrationId?: string | undefined;
  enabled?: boolean | undefined;
}

/** Routes with their integration's name and type, cheapest priority first. */
export async function listRoutes(tx: TenantTx | ServiceTx, filter: RouteQuery, limit: number) {
  const { rows } = await tx.query(
    `${ROUTE_SELECT}
     WHERE ($1::text IS NULL OR r.tenant_id = $1) AND ($2::text IS NULL OR r.route_id::text = $2)
       AND ($3::text IS NULL OR r.integration_id::text = $3) AND ($4::boolean IS NULL OR r.enabled = $4)
     ORDER BY r.priority, r.created_at DESC LIMIT $5`,
    [filter.tenantId ?? null, filter.routeId ?? null, filter.integrationId ?? null, filter.enabled ?? null, limit],
  );
  return rows;
}

export async function findRoute(tx: TenantTx, routeId: string) {
  return (await listRoutes(tx, { tenantId: tx.tenantId, routeId }, 1))[0];
}

export async function insertRoute(tx: TenantTx | ServiceTx, tenantId: string, columns: RouteColumns): Promise<string> {
  const names = ROUTE_WRITABLE.filter((name) => columns[name] !== undefined);
  const { rows } = await tx.query<{ route_id: string }>(
    `INSERT INTO integration_routes (tenant_id, ${names.join(', ')}) VALUES ($1, ${names.map((_, i) => `$${i + 2}`).join(', ')})
     RETURNING route_id`,
    [tenantId, ...names.map((name) => columns[name])],
  );
  return rows[0]!.route_id;
}

export async function updateRoute(tx: TenantTx, routeId: string, columns: RouteColumns): Promise<boolean> {
  const names = ROUTE_WRITABLE.filter((name) => columns[name] !== undefined);
  const { rowCount } = await tx.query(
    `UPDATE integration_routes SET ${[...names.map((name, i) => `${name} = $${i + 3}`), 'updated_at = now()'].join(', ')}
     WHERE tenant_id = $1 AND route_id::text = $2`,
    [tx.tenantId, routeId, ...names.map((name) => columns[name])],
  );
  return (rowCount ?? 0) > 0;
}

export async function deleteRoute(tx: TenantTx, routeId: string): Promise<boolean> {
  const { rowCount } = await tx.query(`DELETE FROM integration_routes WHERE tenant_id = $1 AND route_id::text = $2`, [
    tx.tenantId,
    routeId,
  ]);
  return (rowCount ?? 0) > 0;
}

/** Counts a test delivery; false when the integration had `limit` in the last minute already. */
export async function takeTestDelivery(tx: TenantTx, integrationId: string, limit: number): Promise<boolean> {
  const action = `test_delivery:${integrationId}`;
  const { rows } = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM rate_limits WHERE tenant_id = $1 AND action = $2 AND created_at > now() - interval '60 seconds'`,
    [tx.tenantId, action],
  );
  if (rows[0]!.n >= limit) return false;
  await tx.query(`INSERT INTO rate_limits (tenant_id, action) VALUES ($1, $2)`, [tx.tenantId, action]);
  return true;
}

// Dispatcher ----------------------------------------------------------------------------------------------

export async function alertsByIds(tx: ServiceTx, ids: number[]): Promise<AlertRow[]> {
  const { rows } = await tx.query<AlertRow>(
    `SELECT id AS alert_id, tenant_id, site_id, device_id, alert_type, fingerprint, severity, confidence, summary, details,
            status, created_at, closed_at
     FROM fleet_alert WHERE id = ANY($1::bigint[])`,
    [ids],
  );
  return rows;
}

export interface DispatchRoute extends RouteFilter {
  tenant_id: string;
  route_id: string;
  integration_id: string;
}

/** Enabled routes of these tenants whose integration is enabled, in priority order. */
export async function activeRoutes(tx: ServiceTx, tenantIds: string[]): Promise<DispatchRoute[]> {
  const { rows } = await tx.query<DispatchRoute>(
    `SELECT r.tenant_id, r.route_id, r.integration_id, r.min_severity, r.alert_types, r.severities, r.site_ids,
            r.device_prefixes, r.deliver_on
     FROM integration_routes r
     JOIN integrations i ON i.tenant_id = r.tenant_id AND i.integration_id = r.integration_id
     WHERE r.tenant_id = ANY($1::text[]) AND r.enabled AND i.enabled
     ORDER BY r.priority, r.created_at`,
    [tenantIds],
  );
  return rows;
}

export interface NewJob {
  tenant_id: string;
  alert_id: number;
  integration_id: string;
  route_id: string;
  deliver_on_event: DeliveryEvent;
  payload_json: unknown;
}

/** Inserts the jobs that do not exist yet (one per alert × route × event); returns how many were new. */
export async function insertJobs(tx: ServiceTx, jobs: NewJob[]): Promise<number> {
  if (jobs.length === 0) return 0;
  const { rowCount } = await tx.query(
    `INSERT INTO delivery_jobs (tenant_id, alert_id, integration_id, route_id, deliver_on_event, payload_json)
     SELECT j.tenant_id, j.alert_id, j.integration_id, j.route_id, j.deliver_on_event, j.payload_json
     FROM jsonb_to_recordset($1::jsonb) AS j(tenant_id text, alert_id bigint, integration_id uuid, route_id uuid,
                                            deliver_on_event text, payload_json jsonb)
     ON CONFLICT (tenant_id, alert_id, route_id, deliver_on_event) DO NOTHING`,
    [JSON.stringify(jobs)],
  );
  return rowCount ?? 0;
}

/** Alert events of the last minutes, for the dispatcher's catch-up after a restart. */
export async function recentAlertEvents(tx: ServiceTx, minutes: number) {
  const { rows } = await tx.query<{ alert_id: number; event: DeliveryEvent }>(
    `SELECT id AS alert_id, 'OPEN' AS event FROM fleet_alert WHERE created_at > now() - make_interval(mins => $1::int)
     UNION ALL
     SELECT id, 'CLOSED' FROM fleet_alert WHERE status = 'CLOSED' AND closed_at > now() - make_interval(mins => $1::int)`,
    [minutes],
  );
  return rows;
}

// Worker ----------------------------------------------------------------------------------------------------

export interface ClaimedJob {
  job_id: number;
  tenant_id: string;
  integration_id: string;
  attempts: number;
  payload_json: unknown;
  /** The job's integration as it is now (jobs go with their integration: ON DELETE CASCADE). */
  integration: IntegrationRow;
}

/** Tenants with jobs due, the longest-waiting first. */
export async function dueTenants(tx: ServiceTx, limit: number): Promise<string[]> {
  const { rows } = await tx.query<{ tenant_id: string }>(
    `SELECT tenant_id FROM delivery_jobs WHERE status = 'PENDING' AND next_run_at <= now()
     GROUP BY tenant_id ORDER BY min(next_run_at) LIMIT $1`,
    [limit],
  );
  return rows.map((row) => row.tenant_id);
}

/** Claims up to `count` due jobs of one tenant; SKIP LOCKED keeps two workers off the same job. */
export async function claimJobs(tx: ServiceTx, tenantId: string, count: number): Promise<ClaimedJob[]> {
  const { rows } = await tx.query<
    ClaimedJob & { integration: IntegrationRow & { created_at: string; updated_at: string } }
  >(
    `UPDATE delivery_jobs j SET status = 'PROCESSING', updated_at = now()
     FROM integrations i
     WHERE i.tenant_id = j.tenant_id AND i.integration_id = j.integration_id AND j.job_id IN (
       SELECT job_id FROM delivery_jobs WHERE tenant_id = $1 AND status = 'PENDING' AND next_run_at <= now()
       ORDER BY next_run_at, job_id LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING j.job_id, j.tenant_id, j.integration_id, j.attempts, j.payload_json, to_jsonb(i) AS integration`,
    [tenantId, count],
  );
  return rows.map((row) => ({
    ...row,
    integration: {
      ...row.integration,
      created_at: new Date(row.integration.created_at),
      updated_at: new Date(row.integration.updated_at),
    },
  }));
}

export interface AttemptOutcome {
  job: ClaimedJob;
  ok: boolean;
  httpStatus: number | undefined;
  error: string | undefined;
  startedAt: Date;
  latencyMs: number;
  /** Retry in this many seconds; undefined when the job is finished (sent, or out of attempts). */
  retryInSeconds: number | undefined;
}

/** Records the attempt and moves the job on: COMPLETED, PENDING for a retry, or FAILED. */
export async function finishAttempt(tx: ServiceTx, outcome: AttemptOutcome): Promise<void> {
  const { job } = outcome;
  const attemptNo = job.attempts + 1;
  await tx.query(
    `INSERT INTO delivery_attempts (tenant_id, job_id, attempt_no, ok, http_status, latency_ms, error, started_at, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())`,
    [
      job.tenant_id,
      job.job_id,
      attemptNo,
      outcome.ok,
      outcome.httpStatus ?? null,
      outcome.latencyMs,
      outcome.error ?? null,
      outcome.startedAt,
    ],
  );
  const status = outcome.ok ? 'COMPLETED' : outcome.retryInSeconds === undefined ? 'FAILED' : 'PENDING';
  await tx.query(
    `UPDATE delivery_jobs SET status = $2, attempts = $3, last_error = $4, updated_at = now(),
       next_run_at = CASE WHEN $2 = 'PENDING' THEN now() + make_interval(secs => $5::int) ELSE next_run_at END
     WHERE job_id = $1`,
    [job.job_id, status, attemptNo, outcome.ok ? null : (outcome.error ?? 'failed'), outcome.retryInSeconds ?? 0],
  );
}

/** Jobs a dead worker left PROCESSING go back to the queue (the attempt it never finished is not counted). */
export async function requeueStuckJobs(tx: ServiceTx, stuckSeconds: number): Promise<number> {
  const { rowCount } = await tx.query(
    `UPDATE delivery_jobs SET status = 'PENDING', next_run_at = now(), last_error = 'stuck_requeued', updated_at = now()
     WHERE status = 'PROCESSING' AND updated_at < now() - make_interval(secs => $1::int)`,
    [stuckSeconds],
  );
  return rowCount ?? 0;
}

/** Jobs waiting and being sent, across workers (both counts use partial indexes). */
export async function jobCounts(tx: ServiceTx) {
  const { rows } = await tx.query<{ pending: number; processing: number }>(
    `SELECT (SELECT count(*)::int FROM delivery_jobs WHERE status = 'PENDING') AS pending,
            (SELECT count(*)::int FROM delivery_jobs WHERE status = 'PROCESSING') AS processing`,
  );
  return rows[0]!;
}
