// Alerts (fleet_alert): opened and closed by the evaluator, listed, acknowledged and closed by customers
// (TenantTx), listed across tenants by operators (OperatorTx), read by the dispatcher (ServiceTx).
import { severityLabel, type AlertFields, type AlertPayload, type DeliveryEvent } from '../channels/payload.js';
import type { AlertEvent } from '../contracts/messages.js';
import type { OperatorTx, ServiceTx, TenantTx } from '../db/database.js';

export type AlertStatus = 'OPEN' | 'ACKNOWLEDGED' | 'CLOSED';

/** An alert as notifications announce it (alertsByIds, openAlertsOf); its title is ALERT_TITLE. */
export interface AlertRow extends AlertFields {
  created_at: Date;
  closed_at: Date | null;
  /** When it was acknowledged: the time of its ACKNOWLEDGED event. */
  acknowledged_at?: Date | null;
}

/** When the event happened, if it has: an OPEN when the alert opened, and so on. */
export function eventHappenedAt(
  alert: { created_at: Date; closed_at: Date | null; acknowledged_at?: Date | null | undefined },
  event: DeliveryEvent,
): Date | null {
  if (event === 'OPEN') return alert.created_at;
  return (event === 'CLOSED' ? alert.closed_at : alert.acknowledged_at) ?? null;
}

/** What the channels send for an event of this alert. */
export function buildPayload(alert: AlertRow, event: DeliveryEvent): AlertPayload {
  return {
    alert_id: alert.alert_id,
    tenant_id: alert.tenant_id,
    site_id: alert.site_id,
    device_id: alert.device_id,
    alert_type: alert.alert_type,
    title: alert.title,
    fingerprint: alert.fingerprint,
    severity: alert.severity,
    severity_label: severityLabel(alert.severity),
    confidence: alert.confidence,
    summary: alert.summary,
    // The state the event announces (the alert may have moved on since).
    status: event,
    event,
    created_at: alert.created_at.toISOString(),
    closed_at: alert.closed_at?.toISOString() ?? null,
    ...(event === 'ACKNOWLEDGED' && alert.acknowledged_at && { acknowledged_at: alert.acknowledged_at.toISOString() }),
    details: alert.details ?? {},
  };
}

/** An alert as the APIs show it: what notifications carry, and who acknowledged it when. */
export interface Alert extends AlertRow {
  status: AlertStatus;
  updated_at: Date;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  /** The silence that held its notifications, if one did. */
  silenced_by: string | null;
  /** Who closed it by hand; null when Pulse closed it (or it is open). */
  closed_by: string | null;
}

/**
 * What a person reads as the alert's name: its rule's name for a threshold alert (kept in its details as it
 * opened or last updated), else its type in words. SQL, so every reader — API pages, live pushes,
 * notifications — gets the same title.
 */
export const ALERT_TITLE = `COALESCE(NULLIF(details->>'rule_name', ''),
  CASE alert_type WHEN 'NO_HEARTBEAT' THEN 'No heartbeat' WHEN 'INTEGRATION_FAILING' THEN 'Integration failing'
                  ELSE alert_type END) AS title`;

/** The columns of an AlertRow; ALERT_COLUMNS adds those of an Alert. */
const ALERT_ROW_COLUMNS = `id AS alert_id, tenant_id, device_id, site_id, alert_type, ${ALERT_TITLE}, fingerprint, severity,
  confidence, summary, details, status, created_at, closed_at, acknowledged_at`;

export async function alertsByIds(tx: ServiceTx, ids: number[]): Promise<AlertRow[]> {
  const { rows } = await tx.query<AlertRow>(
    `SELECT ${ALERT_ROW_COLUMNS} FROM fleet_alert WHERE id = ANY($1::bigint[])`,
    [ids],
  );
  return rows;
}

/**
 * OPEN (not acknowledged, not closed) alerts of these tenants, for re-notify and escalation; `unsilenced`:
 * only those no silence held (for a new route's backfill).
 */
export async function openAlertsOf(tx: ServiceTx, tenantIds: string[], unsilenced = false): Promise<AlertRow[]> {
  const { rows } = await tx.query<AlertRow>(
    `SELECT ${ALERT_ROW_COLUMNS}
     FROM fleet_alert WHERE status = 'OPEN' AND tenant_id = ANY($1::text[]) AND (NOT $2 OR silenced_by IS NULL)`,
    [tenantIds, unsilenced],
  );
  return rows;
}

export async function recentAlertEvents(tx: ServiceTx, minutes: number) {
  const { rows } = await tx.query<{ alert_id: number; event: DeliveryEvent }>(
    `SELECT id AS alert_id, 'OPEN' AS event FROM fleet_alert WHERE created_at > now() - make_interval(mins => $1::int)
     UNION ALL
     SELECT id, 'ACKNOWLEDGED' FROM fleet_alert
     WHERE status = 'ACKNOWLEDGED' AND acknowledged_at > now() - make_interval(mins => $1::int)
     UNION ALL
     SELECT id, 'CLOSED' FROM fleet_alert WHERE status = 'CLOSED' AND closed_at > now() - make_interval(mins => $1::int)`,
    [minutes],
  );
  return rows;
}

export const ALERT_COLUMNS = `${ALERT_ROW_COLUMNS}, updated_at, acknowledged_by, silenced_by, closed_by`;

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
    tx.query<Alert>(
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
  const { rows } = await tx.query<Alert>(
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
  const { rows } = await tx.query<Alert>(`SELECT ${ALERT_COLUMNS} FROM fleet_alert WHERE tenant_id = $1 AND id = $2`, [
    tx.tenantId,
    alertId,
  ]);
  return rows[0];
}

/**
 * Alerts opened and closed per hour, in each hour the window has begun (from the whole hour of its start to
 * its end): a window, or the last `hours` up to the database's now; of `deviceIds` only when given.
 */
export async function alertTrend(
  tx: TenantTx,
  window: { start: Date; end: Date } | { hours: number },
  deviceIds?: string[],
): Promise<{ hour: Date; opened: number; closed: number }[]> {
  const [start, end] = 'hours' in window ? [null, null] : [window.start, window.end];
  const hours = 'hours' in window ? window.hours : null;
  const from = `date_trunc('hour', COALESCE($2::timestamptz, now() - make_interval(hours => $5::int)))`;
  const to = `COALESCE($3::timestamptz, now())`;
  const within = (column: string) =>
    `${column} >= ${from} AND ${column} < ${to} AND ($4::text[] IS NULL OR device_id = ANY ($4::text[]))`;
  const { rows } = await tx.query<{ hour: Date; opened: number; closed: number }>(
    `WITH hours AS (
       SELECT generate_series(${from}, date_trunc('hour', ${to} - interval '1 microsecond'), interval '1 hour') AS hour),
     opened AS (
       SELECT date_trunc('hour', created_at) AS hour, count(*)::int AS n FROM fleet_alert
       WHERE tenant_id = $1 AND ${within('created_at')} GROUP BY 1),
     closed AS (
       SELECT date_trunc('hour', closed_at) AS hour, count(*)::int AS n FROM fleet_alert
       WHERE tenant_id = $1 AND ${within('closed_at')} GROUP BY 1)
     SELECT h.hour, COALESCE(o.n, 0) AS opened, COALESCE(c.n, 0) AS closed
     FROM hours h LEFT JOIN opened o ON o.hour = h.hour LEFT JOIN closed c ON c.hour = h.hour
     ORDER BY h.hour`,
    [tx.tenantId, start, end, deviceIds ?? null, hours],
  );
  return rows;
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

export async function searchAlerts(tx: TenantTx, query: AlertQuery) {
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

/** OPEN → ACKNOWLEDGED with who and when; acknowledged or closed alerts stay as they were. */
export async function acknowledgeAlerts(tx: TenantTx, alertIds: number[], by: string) {
  const { rows } = await tx.query<AlertChange>(
    `UPDATE fleet_alert SET status = 'ACKNOWLEDGED', acknowledged_at = now(), acknowledged_by = $3, updated_at = now()
     WHERE tenant_id = $1 AND id = ANY($2::bigint[]) AND status = 'OPEN' RETURNING id, fingerprint, status`,
    [tx.tenantId, alertIds, by],
  );
  return rows;
}

/** Closes by hand (who is kept for the alert's history); closed alerts stay as they were. */
export async function closeAlertsByHand(tx: TenantTx, alertIds: number[], by: string) {
  const { rows } = await tx.query<AlertChange>(
    `UPDATE fleet_alert SET status = 'CLOSED', closed_at = now(), closed_by = $3, updated_at = now()
     WHERE tenant_id = $1 AND id = ANY($2::bigint[]) AND status <> 'CLOSED' RETURNING id, fingerprint, status`,
    [tx.tenantId, alertIds, by],
  );
  return rows;
}

export async function listFleetAlerts(
  tx: OperatorTx,
  filter: { tenantId: string | undefined; status: string | undefined; limit: number; offset: number },
) {
  const where = `($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR status = $2)`;
  const params = [filter.tenantId ?? null, filter.status ?? null];
  return alertPage(tx, where, params, filter);
}

export interface AlertOpen {
  tenant_id: string;
  site_id: string;
  device_id: string;
  alert_type: 'NO_HEARTBEAT' | 'THRESHOLD';
  fingerprint: string;
  severity: number;
  confidence: number;
  summary: string;
  details: Record<string, unknown>;
  /** The engine did not hold this alert open: the store counts it when the database already did. */
  isNew: boolean;
}

export async function loadOpenAlerts(tx: ServiceTx) {
  const { rows } = await tx.query<{ tenant_id: string; device_id: string; fingerprint: string }>(
    `SELECT tenant_id, device_id, fingerprint FROM fleet_alert WHERE status <> 'CLOSED'`,
  );
  return rows;
}

/**
 * At most one active alert per (tenant, fingerprint): a repeat updates it (docs/wire-contract.md#alerts). An alert
 * the engine took for new that was already open is a duplicate attempt (two owners of one device during
 * a partition handover); the unique index turns it into an update, and it is counted.
 */
export async function upsertAlerts(
  tx: ServiceTx,
  alerts: AlertOpen[],
): Promise<{ events: AlertEvent[]; duplicates: number }> {
  if (alerts.length === 0) return { events: [], duplicates: 0 };
  const { rows } = await tx.query<{ id: number; inserted: boolean; tenant_id: string; fingerprint: string }>(
    `INSERT INTO fleet_alert (tenant_id, site_id, device_id, alert_type, fingerprint, status, severity, confidence, summary, details)
     SELECT a.tenant_id, a.site_id, a.device_id, a.alert_type, a.fingerprint, 'OPEN', a.severity, a.confidence, a.summary, a.details
     FROM jsonb_to_recordset($1::jsonb) AS a(tenant_id text, site_id text, device_id text, alert_type text, fingerprint text,
       severity integer, confidence double precision, summary text, details jsonb)
     ON CONFLICT (tenant_id, fingerprint) WHERE status <> 'CLOSED' DO UPDATE SET
       severity = EXCLUDED.severity, confidence = EXCLUDED.confidence, summary = EXCLUDED.summary,
       details = EXCLUDED.details, updated_at = now()
     RETURNING id, (xmax = 0) AS inserted, tenant_id, fingerprint`,
    [JSON.stringify(alerts)],
  );
  const isNew = new Set(alerts.filter((a) => a.isNew).map((a) => `${a.tenant_id}\u0000${a.fingerprint}`));
  return {
    events: rows.map((row) => ({
      event: row.inserted ? 'OPENED' : 'UPDATED',
      alert_id: row.id,
      tenant_id: row.tenant_id,
      fingerprint: row.fingerprint,
    })),
    duplicates: rows.filter((row) => !row.inserted && isNew.has(`${row.tenant_id}\u0000${row.fingerprint}`)).length,
  };
}

export async function closeAlerts(
  tx: ServiceTx,
  closes: { tenant_id: string; fingerprint: string }[],
): Promise<AlertEvent[]> {
  if (closes.length === 0) return [];
  const { rows } = await tx.query<{ id: number; tenant_id: string; fingerprint: string }>(
    `UPDATE fleet_alert a SET status = 'CLOSED', closed_at = now(), updated_at = now()
     FROM jsonb_to_recordset($1::jsonb) AS c(tenant_id text, fingerprint text)
     WHERE a.tenant_id = c.tenant_id AND a.fingerprint = c.fingerprint AND a.status <> 'CLOSED'
     RETURNING a.id, a.tenant_id, a.fingerprint`,
    [JSON.stringify(closes)],
  );
  return rows.map((row) => ({
    event: 'CLOSED',
    alert_id: row.id,
    tenant_id: row.tenant_id,
    fingerprint: row.fingerprint,
  }));
}
