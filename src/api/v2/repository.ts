// Reads behind /api/v2, each in the caller's tenant transaction (row-level security) and filtered by
// tenant as well. Timestamps leave as Date and are serialised to ISO-8601 by the HTTP layer.
import type { OperatorTx, TenantTx } from '../../db/database.js';

export interface DeviceFilter {
  limit: number;
  offset: number;
  status?: string | undefined;
  siteId?: string | undefined;
  /** Substring of the device id (case-insensitive). */
  search?: string | undefined;
  sort: 'device_id' | 'site_id' | 'status' | 'last_seen_at';
  order: 'asc' | 'desc';
}

// A device as every API shows it: the registry joined with what the evaluator knows. A registered device
// the evaluator has not seen yet is OFFLINE; a revoked one is REVOKED whatever it last did.
export const DEVICE_STATUS = `(CASE WHEN dr.status = 'REVOKED' THEN 'REVOKED' ELSE COALESCE(ds.status, 'OFFLINE') END)`;
const DEVICE_SITE = 'COALESCE(ds.site_id, dr.site_id)';
export const DEVICE_COLUMNS = `dr.tenant_id, dr.device_id, ${DEVICE_SITE} AS site_id, ${DEVICE_STATUS} AS status,
  ds.last_seen_at, ds.last_heartbeat_at, ds.last_telemetry_at, COALESCE(ds.state, '{}'::jsonb) AS state`;
export const DEVICE_FROM = `device_registry dr
  LEFT JOIN device_state ds ON ds.tenant_id = dr.tenant_id AND ds.device_id = dr.device_id`;

/** The reference's four headline metrics as numbers (null when missing or not a number). */
const HEADLINE_METRICS = ['battery_pct', 'temp_c', 'rssi_dbm', 'snr_db'];
export function withHeadlineMetrics<T extends { state: Record<string, unknown> }>(
  device: T,
): T & Record<string, number | null> {
  const headline: Record<string, number | null> = {};
  for (const metric of HEADLINE_METRICS) {
    const value = device.state[metric];
    headline[metric] = typeof value === 'number' ? value : null;
  }
  return { ...device, ...headline };
}

const SORT_SQL: Record<DeviceFilter['sort'], string> = {
  device_id: 'dr.device_id',
  site_id: DEVICE_SITE,
  status: 'status',
  last_seen_at: 'ds.last_seen_at',
};

export async function listDevices(tx: TenantTx, filter: DeviceFilter) {
  const where = `dr.tenant_id = $1
    AND ($2::text IS NULL OR ${DEVICE_STATUS} = $2)
    AND ($3::text IS NULL OR ${DEVICE_SITE} = $3)
    AND ($4::text IS NULL OR dr.device_id ILIKE '%' || $4 || '%')`;
  const params = [tx.tenantId, filter.status ?? null, filter.siteId ?? null, escapeLike(filter.search)];
  const direction = filter.order === 'desc' ? 'DESC NULLS LAST' : 'ASC NULLS FIRST';
  const [rows, total] = await Promise.all([
    tx.query(
      `SELECT ${DEVICE_COLUMNS} FROM ${DEVICE_FROM} WHERE ${where}
       ORDER BY ${SORT_SQL[filter.sort]} ${direction}, dr.site_id, dr.device_id LIMIT $5 OFFSET $6`,
      [...params, filter.limit, filter.offset],
    ),
    tx.query<{ total: number }>(`SELECT count(*)::int AS total FROM ${DEVICE_FROM} WHERE ${where}`, params),
  ]);
  return { devices: rows.rows, total: total.rows[0]!.total };
}

/** A search term for `ILIKE '%' || $n || '%'` with its wildcards taken literally. */
export function escapeLike(search: string | undefined): string | null {
  return search ? search.replace(/[\\%_]/g, (c) => `\\${c}`) : null;
}

export async function findDevice(tx: TenantTx, deviceId: string) {
  const { rows } = await tx.query(
    `SELECT ${DEVICE_COLUMNS}, ds.last_state_change_at, dr.fw_version, dr.metadata, dr.status AS registry_status
     FROM ${DEVICE_FROM} WHERE dr.tenant_id = $1 AND dr.device_id = $2`,
    [tx.tenantId, deviceId],
  );
  return rows[0];
}

export async function deviceExists(tx: TenantTx, deviceId: string): Promise<boolean> {
  const { rowCount } = await tx.query(`SELECT 1 FROM device_registry WHERE tenant_id = $1 AND device_id = $2`, [
    tx.tenantId,
    deviceId,
  ]);
  return (rowCount ?? 0) > 0;
}

export interface TelemetryRow {
  timestamp: Date;
  metrics: Record<string, number | boolean>;
  seq: number;
  msg_type: string;
}

export async function telemetryRange(tx: TenantTx, deviceId: string, start: Date, end: Date, limit: number) {
  const { rows } = await tx.query<TelemetryRow>(
    `SELECT time AS timestamp, metrics, seq, msg_type FROM telemetry
     WHERE tenant_id = $1 AND device_id = $2 AND time >= $3 AND time <= $4
     ORDER BY time DESC LIMIT $5`,
    [tx.tenantId, deviceId, start, end, limit],
  );
  return rows;
}

/** Newest telemetry rows (heartbeats carry no metrics and never count as the latest values). */
export async function latestTelemetry(tx: TenantTx, deviceId: string, count: number) {
  const { rows } = await tx.query<Omit<TelemetryRow, 'msg_type'>>(
    `SELECT time AS timestamp, metrics, seq FROM telemetry
     WHERE tenant_id = $1 AND device_id = $2 AND msg_type = 'telemetry'
     ORDER BY time DESC LIMIT $3`,
    [tx.tenantId, deviceId, count],
  );
  return rows;
}

export const ALERT_COLUMNS = `id AS alert_id, tenant_id, device_id, site_id, alert_type, fingerprint, severity,
  confidence, summary, details, status, created_at, updated_at, closed_at, acknowledged_at, acknowledged_by`;

/**
 * One page of the alerts matching `where` (its placeholders are `params`), newest first, and how many
 * match in all. `where` is this module's callers' own SQL, never input.
 */
export async function alertPage(
  tx: TenantTx | OperatorTx,
  where: string,
  params: unknown[],
  page: { limit: number; offset: number },
) {
  const limit = `$${params.length + 1}`;
  const offset = `$${params.length + 2}`;
  const [alerts, total] = await Promise.all([
    tx.query(
      `SELECT ${ALERT_COLUMNS} FROM fleet_alert WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT ${limit} OFFSET ${offset}`,
      [...params, page.limit, page.offset],
    ),
    tx.query<{ total: number }>(`SELECT count(*)::int AS total FROM fleet_alert WHERE ${where}`, params),
  ]);
  return { alerts: alerts.rows, total: total.rows[0]!.total };
}

export interface AlertFilter {
  /** OPEN, ACKNOWLEDGED, CLOSED, or undefined for all. */
  status: string | undefined;
  /** Only alerts not yet closed (OPEN and ACKNOWLEDGED). */
  activeOnly?: boolean;
  alertType?: string | undefined;
  limit: number;
  offset: number;
}

export async function listAlerts(tx: TenantTx, filter: AlertFilter) {
  const { rows } = await tx.query(
    `SELECT ${ALERT_COLUMNS} FROM fleet_alert
     WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR alert_type = $3)
       AND (NOT $6 OR status <> 'CLOSED')
     ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5`,
    [
      tx.tenantId,
      filter.status ?? null,
      filter.alertType ?? null,
      filter.limit,
      filter.offset,
      filter.activeOnly ?? false,
    ],
  );
  return rows;
}

export async function findAlert(tx: TenantTx, alertId: number) {
  const { rows } = await tx.query(`SELECT ${ALERT_COLUMNS} FROM fleet_alert WHERE tenant_id = $1 AND id = $2`, [
    tx.tenantId,
    alertId,
  ]);
  return rows[0];
}

/** Alerts opened and closed per hour over the last `hours` hours, this tenant only. */
export async function alertTrend(tx: TenantTx, hours: number) {
  const { rows } = await tx.query<{ hour: Date; opened: number; closed: number }>(
    `WITH hours AS (
       SELECT generate_series(date_trunc('hour', now() - make_interval(hours => $2::int)), date_trunc('hour', now()),
                              interval '1 hour') AS hour),
     opened AS (
       SELECT date_trunc('hour', created_at) AS hour, count(*)::int AS n FROM fleet_alert
       WHERE tenant_id = $1 AND created_at >= date_trunc('hour', now() - make_interval(hours => $2::int)) GROUP BY 1),
     closed AS (
       SELECT date_trunc('hour', closed_at) AS hour, count(*)::int AS n FROM fleet_alert
       WHERE tenant_id = $1 AND closed_at >= date_trunc('hour', now() - make_interval(hours => $2::int)) GROUP BY 1)
     SELECT h.hour, COALESCE(o.n, 0) AS opened, COALESCE(c.n, 0) AS closed
     FROM hours h LEFT JOIN opened o ON o.hour = h.hour LEFT JOIN closed c ON c.hour = h.hour
     ORDER BY h.hour`,
    [tx.tenantId, hours],
  );
  return rows;
}

export const RULE_COLUMNS = `tenant_id, rule_id, name, enabled, metric_name, operator, threshold, severity,
  description, site_ids, duration_seconds, hysteresis, created_at, updated_at`;

export async function listRules(tx: TenantTx, limit: number) {
  const { rows } = await tx.query(
    `SELECT ${RULE_COLUMNS} FROM alert_rules WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
    [tx.tenantId, limit],
  );
  return rows;
}

export async function findRule(tx: TenantTx, ruleId: string) {
  const { rows } = await tx.query(`SELECT ${RULE_COLUMNS} FROM alert_rules WHERE tenant_id = $1 AND rule_id = $2`, [
    tx.tenantId,
    ruleId,
  ]);
  return rows[0];
}

/** avg/min/max of every numeric metric the tenant's devices sent in the window. */
export async function telemetrySummary(tx: TenantTx, since: Date) {
  const [totals, metrics] = await Promise.all([
    tx.query<{ sample_count: number; device_count: number }>(
      `SELECT count(*)::int AS sample_count, count(DISTINCT device_id)::int AS device_count FROM telemetry
       WHERE tenant_id = $1 AND time >= $2 AND msg_type = 'telemetry'`,
      [tx.tenantId, since],
    ),
    tx.query<{ metric: string; avg: number; min: number; max: number; samples: number }>(
      `SELECT m.key AS metric, avg(m.value::text::float8) AS avg, min(m.value::text::float8) AS min,
              max(m.value::text::float8) AS max, count(*)::int AS samples
       FROM telemetry t CROSS JOIN LATERAL jsonb_each(t.metrics) AS m(key, value)
       WHERE t.tenant_id = $1 AND t.time >= $2 AND t.msg_type = 'telemetry' AND jsonb_typeof(m.value) = 'number'
       GROUP BY m.key ORDER BY m.key`,
      [tx.tenantId, since],
    ),
  ]);
  return { ...totals.rows[0]!, metrics: metrics.rows };
}

export interface ChartQuery {
  metric: string;
  deviceId?: string | undefined;
  start: Date;
  end: Date;
  bucketSeconds: number;
}

/** One metric in fixed time buckets (date_bin), aligned to the epoch so buckets are stable across calls. */
export async function telemetryChart(tx: TenantTx, query: ChartQuery) {
  const { rows } = await tx.query<{ time: Date; avg: number; min: number; max: number; samples: number }>(
    `SELECT date_bin(make_interval(secs => $5::int), time, timestamptz '1970-01-01 00:00:00+00') AS time,
            avg((metrics ->> $2)::float8) AS avg, min((metrics ->> $2)::float8) AS min,
            max((metrics ->> $2)::float8) AS max, count(*)::int AS samples
     FROM telemetry
     WHERE tenant_id = $1 AND time >= $3 AND time <= $4 AND ($6::text IS NULL OR device_id = $6)
       AND msg_type = 'telemetry' AND jsonb_typeof(metrics -> $2) = 'number'
     GROUP BY 1 ORDER BY 1`,
    [tx.tenantId, query.metric, query.start, query.end, query.bucketSeconds, query.deviceId ?? null],
  );
  return rows;
}
