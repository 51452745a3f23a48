// Platform-wide numbers for /operator/system and the metrics collector: counts across tenants, database
// capacity, recent errors, and the system_metrics history.
import type { OperatorTx, ServiceTx } from '../db/database.js';

export async function platformGauges(tx: ServiceTx) {
  const { rows } = await tx.query<Record<string, number>>(
    `SELECT
       (SELECT count(*)::int FROM device_state WHERE status = 'ONLINE') AS devices_online,
       (SELECT count(*)::int FROM device_state WHERE status = 'STALE') AS devices_stale,
       (SELECT count(*)::int FROM fleet_alert WHERE status <> 'CLOSED') AS alerts_open,
       (SELECT count(*)::int FROM delivery_jobs WHERE status = 'PENDING') AS deliveries_pending,
       (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database()) AS connections,
       pg_database_size(current_database())::float8 AS db_size_bytes`,
  );
  return rows[0]!;
}

export interface MetricRow {
  service: string;
  metric: string;
  value: number;
}

export async function insertSamples(tx: ServiceTx, time: Date, samples: MetricRow[]) {
  await tx.query(
    `INSERT INTO system_metrics (time, service, metric_name, value)
     SELECT $1, s.service, s.metric, s.value FROM jsonb_to_recordset($2::jsonb) AS s(service text, metric text, value float8)`,
    [time, JSON.stringify(samples)],
  );
}

export async function pruneSamples(tx: ServiceTx, keepDays: number) {
  await tx.query(`DELETE FROM system_metrics WHERE time < now() - make_interval(days => $1::int)`, [keepDays]);
}

export async function metricHistory(tx: OperatorTx, metric: string, service: string | undefined, minutes: number) {
  const { rows } = await tx.query<{ time: Date; value: number; service: string }>(
    `SELECT time, value, service FROM system_metrics
     WHERE metric_name = $1 AND ($2::text IS NULL OR service = $2) AND time > now() - make_interval(mins => $3::int)
     ORDER BY time`,
    [metric, service ?? null, minutes],
  );
  return rows;
}

export async function latestSamples(tx: OperatorTx) {
  const { rows } = await tx.query<{ service: string; metric_name: string; value: number }>(
    `SELECT DISTINCT ON (service, metric_name) service, metric_name, value FROM system_metrics
     WHERE time > now() - interval '10 minutes' ORDER BY service, metric_name, time DESC`,
  );
  return rows;
}

/** Connections to this database in use, and the server's limit. */
export async function databaseConnections(tx: OperatorTx) {
  const { rows } = await tx.query<{ connections: number; max_connections: number }>(
    `SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database()) AS connections,
            current_setting('max_connections')::int AS max_connections`,
  );
  return rows[0]!;
}

export async function databaseCapacity(tx: OperatorTx) {
  const [size, tables] = await Promise.all([
    tx.query<{ db_size_bytes: number; connections_used: number; connections_max: number }>(
      `SELECT pg_database_size(current_database())::float8 AS db_size_bytes,
              (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database()) AS connections_used,
              current_setting('max_connections')::int AS connections_max`,
    ),
    // Partitions count towards their table (telemetry is one table to an operator).
    tx.query<{ name: string; total_bytes: number; data_bytes: number; index_bytes: number }>(
      `SELECT COALESCE(parent.relname, c.relname) AS name,
              sum(pg_total_relation_size(c.oid))::float8 AS total_bytes,
              sum(pg_relation_size(c.oid))::float8 AS data_bytes,
              sum(pg_indexes_size(c.oid))::float8 AS index_bytes
       FROM pg_class c
       LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
       LEFT JOIN pg_class parent ON parent.oid = i.inhparent
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
       GROUP BY 1 ORDER BY 2 DESC LIMIT 10`,
    ),
  ]);
  return { ...size.rows[0]!, top_tables: tables.rows };
}

export async function aggregates(tx: OperatorTx) {
  type Count =
    | `tenants_${'active' | 'suspended' | 'deleted'}`
    | `devices_${'registered' | 'active' | 'revoked' | 'online' | 'stale' | 'never_seen'}`
    | `alerts_${'open' | 'acknowledged' | 'closed' | '1h' | '24h'}`
    | `integrations_${'total' | 'active' | 'webhook' | 'snmp' | 'email' | 'mqtt'}`
    | `rules_${'total' | 'active'}`
    | `deliveries_${'pending' | 'succeeded' | 'failed' | '24h'}`
    | 'sites';
  type Counts = Record<Count, number> & {
    last_alert: Date | null;
    last_device: Date | null;
    last_delivery: Date | null;
  };
  const { rows } = await tx.query<Counts>(
    `SELECT
       (SELECT count(*)::int FROM tenants WHERE status = 'ACTIVE') AS tenants_active,
       (SELECT count(*)::int FROM tenants WHERE status = 'SUSPENDED') AS tenants_suspended,
       (SELECT count(*)::int FROM tenants WHERE status = 'DELETED') AS tenants_deleted,
       (SELECT count(*)::int FROM device_registry) AS devices_registered,
       (SELECT count(*)::int FROM device_registry WHERE status = 'ACTIVE') AS devices_active,
       (SELECT count(*)::int FROM device_registry WHERE status = 'REVOKED') AS devices_revoked,
       (SELECT count(*)::int FROM device_state WHERE status = 'ONLINE') AS devices_online,
       (SELECT count(*)::int FROM device_state WHERE status = 'STALE') AS devices_stale,
       (SELECT count(*)::int FROM device_registry dr WHERE NOT EXISTS (
          SELECT 1 FROM device_state ds WHERE ds.tenant_id = dr.tenant_id AND ds.device_id = dr.device_id)) AS devices_never_seen,
       (SELECT count(*)::int FROM fleet_alert WHERE status = 'OPEN') AS alerts_open,
       (SELECT count(*)::int FROM fleet_alert WHERE status = 'ACKNOWLEDGED') AS alerts_acknowledged,
       (SELECT count(*)::int FROM fleet_alert WHERE status = 'CLOSED') AS alerts_closed,
       (SELECT count(*)::int FROM fleet_alert WHERE created_at > now() - interval '1 hour') AS alerts_1h,
       (SELECT count(*)::int FROM fleet_alert WHERE created_at > now() - interval '24 hours') AS alerts_24h,
       (SELECT count(*)::int FROM integrations) AS integrations_total,
       (SELECT count(*)::int FROM integrations WHERE enabled) AS integrations_active,
       (SELECT count(*)::int FROM integrations WHERE type = 'webhook') AS integrations_webhook,
       (SELECT count(*)::int FROM integrations WHERE type = 'snmp') AS integrations_snmp,
       (SELECT count(*)::int FROM integrations WHERE type = 'email') AS integrations_email,
       (SELECT count(*)::int FROM integrations WHERE type = 'mqtt') AS integrations_mqtt,
       (SELECT count(*)::int FROM alert_rules) AS rules_total,
       (SELECT count(*)::int FROM alert_rules WHERE enabled) AS rules_active,
       (SELECT count(*)::int FROM delivery_jobs WHERE status = 'PENDING') AS deliveries_pending,
       (SELECT count(*)::int FROM delivery_jobs WHERE status = 'COMPLETED' AND updated_at > now() - interval '24 hours') AS deliveries_succeeded,
       (SELECT count(*)::int FROM delivery_jobs WHERE status = 'FAILED' AND updated_at > now() - interval '24 hours') AS deliveries_failed,
       (SELECT count(*)::int FROM delivery_jobs WHERE created_at > now() - interval '24 hours') AS deliveries_24h,
       (SELECT count(DISTINCT (tenant_id, site_id))::int FROM device_registry) AS sites,
       (SELECT max(created_at) FROM fleet_alert) AS last_alert,
       (SELECT max(last_seen_at) FROM device_state) AS last_device,
       (SELECT max(finished_at) FROM delivery_attempts) AS last_delivery`,
  );
  const r = rows[0]!;
  const active = r.tenants_active;
  const suspended = r.tenants_suspended;
  const deleted = r.tenants_deleted;
  return {
    tenants: { active, suspended, deleted, total: active + suspended + deleted },
    devices: {
      registered: r.devices_registered,
      active: r.devices_active,
      revoked: r.devices_revoked,
      online: r.devices_online,
      stale: r.devices_stale,
      offline: r.devices_never_seen,
    },
    alerts: {
      open: r.alerts_open,
      acknowledged: r.alerts_acknowledged,
      closed: r.alerts_closed,
      triggered_1h: r.alerts_1h,
      triggered_24h: r.alerts_24h,
    },
    integrations: {
      total: r.integrations_total,
      active: r.integrations_active,
      by_type: {
        webhook: r.integrations_webhook,
        snmp: r.integrations_snmp,
        email: r.integrations_email,
        mqtt: r.integrations_mqtt,
      },
    },
    rules: { total: r.rules_total, active: r.rules_active },
    deliveries: {
      pending: r.deliveries_pending,
      succeeded: r.deliveries_succeeded,
      failed: r.deliveries_failed,
      total_24h: r.deliveries_24h,
    },
    sites: { total: r.sites },
    last_activity: { alert: r.last_alert, device: r.last_device, delivery: r.last_delivery },
  };
}

export async function recentErrors(tx: OperatorTx, hours: number, limit: number) {
  const [errors, counts] = await Promise.all([
    tx.query<{
      source: string;
      error_type: string;
      timestamp: Date;
      tenant_id: string | null;
      details: Record<string, unknown>;
    }>(
      `(SELECT 'delivery' AS source, 'delivery_failed' AS error_type, updated_at AS timestamp, tenant_id,
               jsonb_build_object('job_id', job_id, 'alert_id', alert_id, 'error', last_error, 'attempts', attempts) AS details
        FROM delivery_jobs WHERE status = 'FAILED' AND updated_at > now() - make_interval(hours => $1::int))
       UNION ALL
       (SELECT 'ingest', 'quarantined', ingested_at, tenant_id,
               jsonb_build_object('reason', reason, 'device_id', device_id, 'topic', topic)
        FROM quarantine_events WHERE ingested_at > now() - make_interval(hours => $1::int))
       UNION ALL
       (SELECT 'auth', 'auth_failure', created_at, tenant_filter,
               jsonb_build_object('action', action, 'user_id', user_id, 'ip_address', host(ip_address))
        FROM operator_audit_log
        WHERE (action LIKE '%denied%' OR action LIKE '%fail%') AND created_at > now() - make_interval(hours => $1::int))
       ORDER BY timestamp DESC LIMIT $2`,
      [hours, limit],
    ),
    tx.query<{ delivery_failures: number; quarantined: number; stuck_deliveries: number }>(
      `SELECT
         (SELECT count(*)::int FROM delivery_jobs WHERE status = 'FAILED' AND updated_at > now() - make_interval(hours => $1::int)) AS delivery_failures,
         (SELECT COALESCE(sum(cnt), 0)::int FROM quarantine_counters_minute WHERE bucket_minute > now() - make_interval(hours => $1::int)) AS quarantined,
         (SELECT count(*)::int FROM delivery_jobs WHERE status = 'PENDING' AND next_run_at < now() - interval '5 minutes') AS stuck_deliveries`,
      [hours],
    ),
  ]);
  return { errors: errors.rows, counts: counts.rows[0]! };
}
