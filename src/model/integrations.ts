// Integrations: where a tenant's alert notifications go (webhook, SNMP, email, MQTT, Slack, Teams, PagerDuty,
// Opsgenie), in the tenant's transaction. Secrets are sealed before they reach a query and opened only to build a channel target.
import type { EmailTarget, MqttTarget, OpsgenieRegion, SnmpTarget, Target } from '../channels/target.js';
import type { OperatorTx, ServiceTx, TenantScope, TenantTx } from '../db/database.js';
import type { SecretBox, Secrets } from '../lib/secrets.js';
import type { AlertEvent } from '../contracts/messages.js';
import { closeFailingAlert, HEALTH_COLUMNS, type HealthState, type IntegrationHealth } from './integration-health.js';
import { takeRateSlot } from './tenant-limits.js';

export type IntegrationType = Target['type'];

export interface IntegrationRow {
  tenant_id: string;
  integration_id: string;
  name: string;
  type: IntegrationType;
  enabled: boolean;
  /**
   * Webhook: its URL and public headers. Slack and Teams: the URL masked (the real one is sealed).
   * Opsgenie: its region.
   */
  config_json: {
    url?: string;
    headers?: Record<string, string>;
    secret_headers?: string[];
    region?: OpsgenieRegion;
  };
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

export async function insertIntegration(tx: TenantScope, columns: IntegrationColumns): Promise<IntegrationRow> {
  const names = present(columns);
  const { rows } = await tx.query<IntegrationRow>(
    `INSERT INTO integrations (tenant_id, ${names.join(', ')}) VALUES ($1, ${names.map((_, i) => `$${i + 2}`).join(', ')}) RETURNING *`,
    [tx.tenantId, ...names.map((name) => value(columns, name))],
  );
  return rows[0]!;
}

/**
 * Writes changes that were built from `read`, the row as it was read earlier: destinations are checked
 * (DNS, SSRF rules) between the read and this write, outside any transaction. 'changed' when another
 * request changed the integration in between (its changes would otherwise be lost); undefined when it
 * is gone.
 */
export async function updateIntegration(
  tx: TenantTx,
  read: IntegrationRow,
  columns: IntegrationColumns,
): Promise<IntegrationRow | 'changed' | undefined> {
  const names = present(columns);
  const { rows } = await tx.query<IntegrationRow>(
    // updated_at moves forward by at least a millisecond, so a read (JavaScript keeps milliseconds) tells
    // apart every version even when two writes fall in one millisecond.
    `UPDATE integrations SET ${[
      ...names.map((name, i) => `${name} = $${i + 4}`),
      `updated_at = greatest(now(), updated_at + interval '1 millisecond')`,
    ].join(', ')}
     WHERE tenant_id = $1 AND integration_id = $2 AND date_trunc('milliseconds', updated_at) = $3 RETURNING *`,
    [tx.tenantId, read.integration_id, read.updated_at, ...names.map((name) => value(columns, name))],
  );
  if (rows[0]) return rows[0];
  return (await findIntegration(tx, read.integration_id)) ? 'changed' : undefined;
}

/**
 * Deletes the integration (its routes and health go with it) and closes its INTEGRATION_FAILING alert,
 * if one is open: nothing is left to recover. Returns undefined when there was no such integration, else
 * the alert events to announce once committed.
 */
export async function deleteIntegration(
  tx: TenantTx,
  integrationId: string,
  type?: IntegrationType,
): Promise<AlertEvent[] | undefined> {
  const { rowCount } = await tx.query(
    `DELETE FROM integrations WHERE tenant_id = $1 AND integration_id::text = $2 AND ($3::text IS NULL OR type = $3)`,
    [tx.tenantId, integrationId, type ?? null],
  );
  if ((rowCount ?? 0) === 0) return undefined;
  const closed = await closeFailingAlert(tx, tx.tenantId, integrationId);
  return closed ? [closed] : [];
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
    case 'slack':
    case 'teams':
      return { ...common, type: row.type, url: secrets.url as string };
    case 'pagerduty':
      return { ...common, type: 'pagerduty', routing_key: secrets.routing_key as string };
    case 'opsgenie':
      return {
        ...common,
        type: 'opsgenie',
        api_key: secrets.api_key as string,
        region: row.config_json.region ?? 'us',
      };
  }
}

/** One of the integration's `limit` test deliveries a minute, taken atomically (see tenant-limits). */
export async function takeTestDelivery(tx: TenantTx, integrationId: string, limit: number): Promise<boolean> {
  return (await takeRateSlot(tx, `test_delivery:${integrationId}`, limit, 60)) === undefined;
}

/**
 * Every tenant's integrations, without settings beyond where they send to, with their health; of one tenant
 * and in one health state when given. Failing ones first, the latest failure first.
 */
export async function listFleetIntegrations(
  tx: OperatorTx,
  filter: { tenantId?: string | undefined; state?: HealthState | undefined },
) {
  const { rows } = await tx.query<
    Pick<IntegrationRow, 'tenant_id' | 'integration_id' | 'name' | 'type' | 'enabled' | 'snmp_host' | 'mqtt_topic'> &
      IntegrationHealth & { url: string | null; created_at: Date; updated_at: Date }
  >(
    `SELECT i.tenant_id, i.integration_id, i.name, i.type, i.enabled, i.config_json ->> 'url' AS url, i.snmp_host,
            i.mqtt_topic, i.created_at, i.updated_at, ${HEALTH_COLUMNS}
     FROM integrations i
     LEFT JOIN integration_health h ON h.tenant_id = i.tenant_id AND h.integration_id = i.integration_id
     WHERE ($1::text IS NULL OR i.tenant_id = $1) AND ($2::text IS NULL OR COALESCE(h.state, 'unknown') = $2)
     ORDER BY h.state = 'failing' DESC NULLS LAST, h.last_failure_at DESC NULLS LAST, i.created_at DESC LIMIT 500`,
    [filter.tenantId ?? null, filter.state ?? null],
  );
  return rows.map(({ state, consecutive_failures, last_success_at, last_failure_at, last_error, ...integration }) => ({
    ...integration,
    health: { state, consecutive_failures, last_success_at, last_failure_at, last_error },
  }));
}
