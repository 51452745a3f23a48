// What `pulse import original` writes into Pulse, in the pipeline's transaction narrowed to one tenant.
// Every insert keeps what is already there (ON CONFLICT DO NOTHING): a second run, or a run after someone
// changed an imported row in Pulse, changes nothing. Alerts and telemetry, which have no key of the
// original's, are remembered in imported_alerts and imported_telemetry (migration 039).
import type { Narrowed, ServiceTx } from '../db/database.js';
import type { IntegrationColumns } from './integrations.js';

type ImportTx = Narrowed<ServiceTx>;

/** The keys of a tenant's rows already in Pulse, by kind (alerts: the original ids imported before). */
export async function presentKeys(tx: ImportTx, source: string) {
  // One after the other: a transaction's connection runs one query at a time.
  const keys = async (sql: string, params: unknown[]) =>
    new Set((await tx.query<{ key: string }>(sql, params)).rows.map((row) => row.key));
  const tenant = tx.tenantId;
  return {
    tenant: await keys(`SELECT tenant_id AS key FROM tenants WHERE tenant_id = $1`, [tenant]),
    device: await keys(`SELECT device_id AS key FROM device_registry WHERE tenant_id = $1`, [tenant]),
    'device state': await keys(`SELECT device_id AS key FROM device_state WHERE tenant_id = $1`, [tenant]),
    rule: await keys(`SELECT rule_id AS key FROM alert_rules WHERE tenant_id = $1`, [tenant]),
    integration: await keys(`SELECT integration_id::text AS key FROM integrations WHERE tenant_id = $1`, [tenant]),
    route: await keys(`SELECT route_id::text AS key FROM integration_routes WHERE tenant_id = $1`, [tenant]),
    alert: await keys(`SELECT source_alert_id::text AS key FROM imported_alerts WHERE source = $1 AND tenant_id = $2`, [
      source,
      tenant,
    ]),
    /** Fingerprints of alerts open in Pulse: an original alert with one of them would be a second. */
    openFingerprints: await keys(
      `SELECT fingerprint AS key FROM fleet_alert WHERE tenant_id = $1 AND status <> 'CLOSED'`,
      [tenant],
    ),
  };
}

/** Runs an INSERT … SELECT FROM jsonb_to_recordset($2) AS r(…) with the tenant as $1; counts what was new. */
async function insertRecords(tx: ImportTx, sql: string, rows: object[]): Promise<number> {
  if (rows.length === 0) return 0;
  const { rowCount } = await tx.query(sql, [tx.tenantId, JSON.stringify(rows)]);
  return rowCount ?? 0;
}

export interface TenantRecord {
  name: string;
  status: string;
  contact_email: string | null;
  contact_name: string | null;
  metadata: object;
  created_at: string | null;
}

export const insertTenant = (tx: ImportTx, tenant: TenantRecord) =>
  insertRecords(
    tx,
    `INSERT INTO tenants (tenant_id, name, status, contact_email, contact_name, metadata, created_at)
     SELECT $1, r.name, r.status, r.contact_email, r.contact_name, COALESCE(r.metadata, '{}'), COALESCE(r.created_at, now())
     FROM jsonb_to_recordset($2::jsonb) AS r(name text, status text, contact_email text, contact_name text,
       metadata jsonb, created_at timestamptz)
     ON CONFLICT (tenant_id) DO NOTHING`,
    [tenant],
  );

/** Devices with the token hash they had: the token each device holds keeps working. */
export const insertDevices = (tx: ImportTx, devices: object[]) =>
  insertRecords(
    tx,
    `INSERT INTO device_registry (tenant_id, device_id, site_id, status, provision_token_hash, fw_version, metadata,
                                  provisioned_at, created_at)
     SELECT $1, r.device_id, r.site_id, r.status, r.provision_token_hash, r.fw_version, COALESCE(r.metadata, '{}'),
            COALESCE(r.provisioned_at, now()), COALESCE(r.created_at, now())
     FROM jsonb_to_recordset($2::jsonb) AS r(device_id text, site_id text, status text, provision_token_hash text,
       fw_version text, metadata jsonb, provisioned_at timestamptz, created_at timestamptz)
     ON CONFLICT (tenant_id, device_id) DO NOTHING`,
    devices,
  );

export const insertDeviceStates = (tx: ImportTx, states: object[]) =>
  insertRecords(
    tx,
    `INSERT INTO device_state (tenant_id, device_id, site_id, status, last_heartbeat_at, last_telemetry_at, last_seen_at,
                               last_state_change_at, state)
     SELECT $1, r.device_id, r.site_id, r.status, r.last_heartbeat_at, r.last_telemetry_at, r.last_seen_at,
            COALESCE(r.last_state_change_at, now()), COALESCE(r.state, '{}')
     FROM jsonb_to_recordset($2::jsonb) AS r(device_id text, site_id text, status text, last_heartbeat_at timestamptz,
       last_telemetry_at timestamptz, last_seen_at timestamptz, last_state_change_at timestamptz, state jsonb)
     ON CONFLICT (tenant_id, device_id) DO NOTHING`,
    states,
  );

/** Rules keep their rule_id, so the fingerprints of their open alerts (RULE:{rule_id}:{device}) still match. */
export const insertRules = (tx: ImportTx, rules: object[]) =>
  insertRecords(
    tx,
    `INSERT INTO alert_rules (tenant_id, rule_id, name, description, enabled, metric_name, operator, threshold, severity,
                              site_ids, duration_seconds, created_at)
     SELECT $1, r.rule_id, r.name, r.description, r.enabled, r.metric_name, r.operator, r.threshold, r.severity,
            r.site_ids, r.duration_seconds, COALESCE(r.created_at, now())
     FROM jsonb_to_recordset($2::jsonb) AS r(rule_id text, name text, description text, enabled boolean,
       metric_name text, operator text, threshold float8, severity int, site_ids text[], duration_seconds int,
       created_at timestamptz)
     ON CONFLICT (tenant_id, rule_id) DO NOTHING`,
    rules,
  );

/** An integration under its original id, with the columns Pulse built from its settings (secrets sealed). */
export const insertIntegration = (
  tx: ImportTx,
  integration: { integration_id: string; created_at: string | null; columns: IntegrationColumns },
) =>
  insertRecords(
    tx,
    `INSERT INTO integrations (tenant_id, integration_id, name, type, enabled, config_json, snmp_config, snmp_host,
                               snmp_port, snmp_oid_prefix, email_config, email_recipients, email_template, mqtt_topic,
                               mqtt_qos, mqtt_retain, mqtt_config, secrets, created_at)
     SELECT $1, r.integration_id, r.name, r.type, r.enabled, COALESCE(r.config_json, '{}'), r.snmp_config, r.snmp_host,
            COALESCE(r.snmp_port, 162), COALESCE(r.snmp_oid_prefix, '1.3.6.1.4.1.99999'), r.email_config,
            r.email_recipients, r.email_template, r.mqtt_topic, COALESCE(r.mqtt_qos, 1), COALESCE(r.mqtt_retain, false),
            r.mqtt_config, r.secrets, COALESCE(r.created_at, now())
     FROM jsonb_to_recordset($2::jsonb) AS r(integration_id uuid, name text, type text, enabled boolean,
       config_json jsonb, snmp_config jsonb, snmp_host text, snmp_port int, snmp_oid_prefix text, email_config jsonb,
       email_recipients jsonb, email_template jsonb, mqtt_topic text, mqtt_qos int, mqtt_retain boolean,
       mqtt_config jsonb, secrets text, created_at timestamptz)
     ON CONFLICT (tenant_id, integration_id) DO NOTHING`,
    [{ ...integration.columns, integration_id: integration.integration_id, created_at: integration.created_at }],
  );

/**
 * Routes under their original ids, created now and with nothing to backfill: the dispatcher notifies only
 * what happens after a route was created (eventStillDue) and backfills only routes marked so, so the
 * alerts that came over open are not sent again.
 */
export const insertRoutes = (tx: ImportTx, routes: object[]) =>
  insertRecords(
    tx,
    `INSERT INTO integration_routes (tenant_id, route_id, integration_id, name, enabled, min_severity, alert_types,
                                     severities, site_ids, device_prefixes, deliver_on, priority, backfill_pending)
     SELECT $1, r.route_id, r.integration_id, r.name, r.enabled, r.min_severity, r.alert_types, r.severities,
            r.site_ids, r.device_prefixes, r.deliver_on, r.priority, false
     FROM jsonb_to_recordset($2::jsonb) AS r(route_id uuid, integration_id uuid, name text, enabled boolean,
       min_severity int, alert_types text[], severities text[], site_ids text[], device_prefixes text[],
       deliver_on text[], priority int)
     ON CONFLICT (tenant_id, route_id) DO NOTHING`,
    routes,
  );

/**
 * Open and acknowledged alerts, each remembered with the original's id. An alert whose fingerprint is
 * open in Pulse already is left out (the caller refuses it first; this guards a concurrent one). No
 * delivery job is made: jobs come only from the dispatcher, for events after a route's creation.
 */
export async function insertAlerts(tx: ImportTx, source: string, alerts: object[]): Promise<number> {
  if (alerts.length === 0) return 0;
  const { rowCount } = await tx.query(
    `WITH added AS (
       INSERT INTO fleet_alert (tenant_id, site_id, device_id, alert_type, fingerprint, status, severity, confidence,
                                summary, details, created_at, acknowledged_at, acknowledged_by)
       SELECT $1, r.site_id, r.device_id, r.alert_type, r.fingerprint, r.status, r.severity, r.confidence, r.summary,
              COALESCE(r.details, '{}'), r.created_at,
              CASE WHEN r.status = 'ACKNOWLEDGED' THEN COALESCE(r.acknowledged_at, now()) END, r.acknowledged_by
       FROM jsonb_to_recordset($2::jsonb) AS r(site_id text, device_id text, alert_type text, fingerprint text,
         status text, severity int, confidence float8, summary text, details jsonb, created_at timestamptz,
         acknowledged_at timestamptz, acknowledged_by text)
       ON CONFLICT (tenant_id, fingerprint) WHERE status <> 'CLOSED' DO NOTHING
       RETURNING id, fingerprint)
     INSERT INTO imported_alerts (source, tenant_id, source_alert_id, alert_id)
     SELECT $3, $1, r.source_alert_id, added.id
     FROM added JOIN jsonb_to_recordset($2::jsonb) AS r(fingerprint text, source_alert_id bigint)
       ON r.fingerprint = added.fingerprint`,
    [tx.tenantId, JSON.stringify(alerts), source],
  );
  return rowCount ?? 0;
}

/** How far a tenant's telemetry was imported from this source: rows with since <= time <= through. */
export async function importedTelemetry(
  tx: ImportTx,
  source: string,
): Promise<{ since: Date; through: Date; throughText: string } | undefined> {
  const { rows } = await tx.query<{ since: Date; through: Date; throughText: string }>(
    `SELECT since, through, through::text AS "throughText" FROM imported_telemetry WHERE source = $1 AND tenant_id = $2`,
    [source, tx.tenantId],
  );
  return rows[0];
}

/** Records a batch in the same transaction as its rows. */
export async function recordTelemetry(
  tx: ImportTx,
  source: string,
  span: { since: string; through: string },
  rows: number,
): Promise<void> {
  await tx.query(
    `INSERT INTO imported_telemetry (source, tenant_id, since, through, rows) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (source, tenant_id) DO UPDATE SET
       since = least(imported_telemetry.since, EXCLUDED.since),
       through = greatest(imported_telemetry.through, EXCLUDED.through),
       rows = imported_telemetry.rows + EXCLUDED.rows, updated_at = now()`,
    [source, tx.tenantId, span.since, span.through, rows],
  );
}

/** The daily partitions of the days the import writes to, so history lands in its own day's partition. */
export async function ensureTelemetryPartitions(tx: ServiceTx, from: Date, to: Date): Promise<void> {
  await tx.query(
    `SELECT telemetry_ensure_partition(day::date)
     FROM generate_series(($1::timestamptz AT TIME ZONE 'UTC')::date, ($2::timestamptz AT TIME ZONE 'UTC')::date,
                          interval '1 day') AS day`,
    [from, to],
  );
}
