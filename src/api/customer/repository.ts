// Reads and writes behind /customer, each in the caller's tenant transaction (row-level security) and
// filtered by tenant as well.
import type { OperatorTx, TenantTx } from '../../db/database.js';
import { alertPage, DEVICE_COLUMNS, DEVICE_FROM, RULE_COLUMNS, withHeadlineMetrics } from '../v2/repository.js';
import type { RuleFields } from './rule-input.js';

/** A device with its latest values and recent rows; operators read any tenant's, customers their own (RLS). */
export async function deviceDetail(tx: TenantTx | OperatorTx, tenantId: string, deviceId: string) {
  const { rows } = await tx.query<{ state: Record<string, unknown> }>(
    `SELECT ${DEVICE_COLUMNS}, ds.last_state_change_at, dr.fw_version, dr.metadata, dr.provisioned_at
     FROM ${DEVICE_FROM} WHERE dr.tenant_id = $1 AND dr.device_id = $2`,
    [tenantId, deviceId],
  );
  if (!rows[0]) return undefined;
  // Headline metric values as numbers (the reference sent them as text).
  const device = withHeadlineMetrics(rows[0]);
  const [events, telemetry] = await Promise.all([
    tx.query(
      `SELECT time, msg_type, metrics, seq FROM telemetry
       WHERE tenant_id = $1 AND device_id = $2 AND msg_type <> 'telemetry' AND time >= now() - interval '24 hours'
       ORDER BY time DESC LIMIT 50`,
      [tenantId, deviceId],
    ),
    tx.query(
      `SELECT time, metrics, seq, msg_type FROM telemetry
       WHERE tenant_id = $1 AND device_id = $2 AND msg_type = 'telemetry' AND time >= now() - interval '6 hours'
       ORDER BY time DESC LIMIT 120`,
      [tenantId, deviceId],
    ),
  ]);
  return { device, events: events.rows, telemetry: telemetry.rows };
}

export interface AlertQuery {
  status: string | undefined;
  severity?: number | undefined;
  deviceId?: string | undefined;
  siteId?: string | undefined;
  alertType?: string | undefined;
  start?: Date | undefined;
  end?: Date | undefined;
  limit: number;
  offset: number;
}

export async function listAlerts(tx: TenantTx, query: AlertQuery) {
  const where = `tenant_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::int IS NULL OR severity = $3)
    AND ($4::text IS NULL OR device_id = $4) AND ($5::text IS NULL OR site_id = $5)
    AND ($6::text IS NULL OR alert_type = $6)
    AND ($7::timestamptz IS NULL OR created_at >= $7) AND ($8::timestamptz IS NULL OR created_at <= $8)`;
  const params = [
    tx.tenantId,
    query.status ?? null,
    query.severity ?? null,
    query.deviceId ?? null,
    query.siteId ?? null,
    query.alertType ?? null,
    query.start ?? null,
    query.end ?? null,
  ];
  return alertPage(tx, where, params, query);
}

type AlertChange = { id: number; fingerprint: string; status: string };

/** OPEN → ACKNOWLEDGED with who and when; an acknowledged alert stays as it was. */
export async function acknowledgeAlert(tx: TenantTx, alertId: number, by: string) {
  const { rows } = await tx.query<AlertChange>(
    `UPDATE fleet_alert SET status = 'ACKNOWLEDGED', acknowledged_at = now(), acknowledged_by = $3, updated_at = now()
     WHERE tenant_id = $1 AND id = $2 AND status = 'OPEN' RETURNING id, fingerprint, status`,
    [tx.tenantId, alertId, by],
  );
  return rows[0];
}

export async function closeAlert(tx: TenantTx, alertId: number) {
  const { rows } = await tx.query<AlertChange>(
    `UPDATE fleet_alert SET status = 'CLOSED', closed_at = now(), updated_at = now()
     WHERE tenant_id = $1 AND id = $2 AND status <> 'CLOSED' RETURNING id, fingerprint, status`,
    [tx.tenantId, alertId],
  );
  return rows[0];
}

export async function deliveryStatus(tx: TenantTx, limit: number) {
  const { rows } = await tx.query(
    `SELECT tenant_id, job_id, attempt_no, ok, http_status, latency_ms, error, started_at, finished_at
     FROM delivery_attempts WHERE tenant_id = $1 ORDER BY finished_at DESC NULLS LAST, attempt_id DESC LIMIT $2`,
    [tx.tenantId, limit],
  );
  return rows;
}

export async function createRule(
  tx: TenantTx,
  rule: Required<Pick<RuleFields, 'name' | 'metric_name' | 'operator' | 'threshold'>> & RuleFields,
) {
  const { rows } = await tx.query(
    `INSERT INTO alert_rules (tenant_id, name, description, enabled, metric_name, operator, threshold, severity, site_ids,
                              duration_seconds, hysteresis)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${RULE_COLUMNS}`,
    [
      tx.tenantId,
      rule.name,
      rule.description ?? null,
      rule.enabled ?? true,
      rule.metric_name,
      rule.operator,
      rule.threshold,
      rule.severity ?? 3,
      rule.site_ids ?? null,
      rule.duration_seconds ?? 0,
      rule.hysteresis ?? 0,
    ],
  );
  return rows[0];
}

const UPDATABLE_RULE_FIELDS = [
  'name',
  'description',
  'enabled',
  'metric_name',
  'operator',
  'threshold',
  'severity',
  'site_ids',
  'duration_seconds',
  'hysteresis',
] as const;

/** Sets the given fields (column names come from the fixed list above, values are parameters). */
export async function updateRule(tx: TenantTx, ruleId: string, fields: RuleFields) {
  const present = UPDATABLE_RULE_FIELDS.filter((field) => fields[field] !== undefined);
  const assignments = present.map((field, i) => `${field} = $${i + 3}`);
  const { rows } = await tx.query(
    `UPDATE alert_rules SET ${[...assignments, 'updated_at = now()'].join(', ')}
     WHERE tenant_id = $1 AND rule_id = $2 RETURNING ${RULE_COLUMNS}`,
    [tx.tenantId, ruleId, ...present.map((field) => fields[field])],
  );
  return rows[0];
}

export async function deleteRule(tx: TenantTx, ruleId: string): Promise<boolean> {
  const { rowCount } = await tx.query(`DELETE FROM alert_rules WHERE tenant_id = $1 AND rule_id = $2`, [
    tx.tenantId,
    ruleId,
  ]);
  return (rowCount ?? 0) > 0;
}
