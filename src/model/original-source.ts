// Reading an OpsConductor-Pulse database (`pulse import original`): its shape, then its rows as JSON objects,
// so one query serves every migration level of the original whatever columns it has. Table names come from
// the fixed list below, never from input.
import type { Queryable } from '../db/database.js';

/** The original's tables the import reads, and the columns the importer needs to tell its levels apart. */
export const SOURCE_TABLES = [
  'tenants',
  'device_registry',
  'device_state',
  'alert_rules',
  'integrations',
  'integration_routes',
  'fleet_alert',
  'telemetry',
  'notification_channels',
  'schema_migrations',
] as const;
export type SourceTable = (typeof SOURCE_TABLES)[number];

export interface SourceShape {
  /** The tables present, each with its columns. */
  tables: Map<string, Set<string>>;
  /** Whether the connection sees every tenant's rows (row-level security bypassed). */
  seesEveryRow: boolean;
  /** Whether it is TimescaleDB (telemetry a hypertable). */
  timescale: boolean;
}

export async function sourceShape(q: Queryable): Promise<SourceShape> {
  const { rows } = await q.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = ANY($1::text[])`,
    [SOURCE_TABLES],
  );
  const tables = new Map<string, Set<string>>();
  for (const row of rows) {
    if (!tables.has(row.table_name)) tables.set(row.table_name, new Set());
    tables.get(row.table_name)!.add(row.column_name);
  }
  const role = await q.query<{ sees: boolean; timescale: boolean }>(
    `SELECT (rolsuper OR rolbypassrls) AS sees,
            EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS timescale
     FROM pg_roles WHERE rolname = current_user`,
  );
  return { tables, seesEveryRow: role.rows[0]?.sees ?? false, timescale: role.rows[0]?.timescale ?? false };
}

/**
 * The original's services ran as a superuser; a reader that is not one takes the original's BYPASSRLS role
 * `pulse_operator` when it may, else row-level security would hide rows. True when it now sees them all.
 */
export async function takeOperatorRole(q: Queryable): Promise<boolean> {
  const { rows } = await q.query<{ member: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pulse_operator' AND rolbypassrls)
            AND pg_has_role(current_user, 'pulse_operator', 'MEMBER') AS member`,
  );
  if (!rows[0]?.member) return false;
  await q.query('SET ROLE pulse_operator');
  return true;
}

/** Every tenant the original knows: its tenants table (when it has one) and any tenant its devices name. */
export async function sourceTenants(q: Queryable, hasTenantsTable: boolean): Promise<Record<string, unknown>[]> {
  const { rows } = await q.query<{ row: Record<string, unknown> }>(
    hasTenantsTable
      ? `SELECT to_jsonb(t) AS row FROM tenants t
         UNION ALL
         SELECT jsonb_build_object('tenant_id', d.tenant_id, 'name', d.tenant_id)
         FROM (SELECT DISTINCT tenant_id FROM device_registry) d
         WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.tenant_id = d.tenant_id)`
      : `SELECT jsonb_build_object('tenant_id', tenant_id, 'name', tenant_id) AS row
         FROM (SELECT DISTINCT tenant_id FROM device_registry) d`,
  );
  return rows.map((r) => r.row).sort((a, b) => String(a.tenant_id).localeCompare(String(b.tenant_id)));
}

const ORDER: Partial<Record<SourceTable, string>> = {
  device_registry: 'device_id',
  device_state: 'device_id',
  alert_rules: 'id',
  integrations: 'created_at, integration_id',
  integration_routes: 'priority, route_id',
  fleet_alert: 'id',
};

/** A tenant's rows of one table as JSON objects; fleet_alert: only OPEN and ACKNOWLEDGED ones. */
export async function sourceRows(
  q: Queryable,
  table: 'device_registry' | 'device_state' | 'alert_rules' | 'integrations' | 'integration_routes' | 'fleet_alert',
  tenantId: string,
): Promise<Record<string, unknown>[]> {
  const open = table === 'fleet_alert' ? ` AND status IN ('OPEN', 'ACKNOWLEDGED')` : '';
  const { rows } = await q.query<{ row: Record<string, unknown> }>(
    `SELECT to_jsonb(t) AS row FROM ${table} t WHERE tenant_id = $1${open} ORDER BY ${ORDER[table]}`,
    [tenantId],
  );
  return rows.map((r) => r.row);
}

/** A window of the original's telemetry: after `after` (or from it, when `inclusive`), before `before`. */
export interface TelemetryWindow {
  after: string;
  inclusive: boolean;
  before: string | null;
}

/** The window's condition on telemetry rows named `t`. */
const IN_WINDOW = `t.tenant_id = $1 AND t.device_id = ANY($2::text[])
  AND t.time >= $3::timestamptz AND (t.time > $3::timestamptz OR $4::boolean)
  AND ($5::timestamptz IS NULL OR t.time < $5::timestamptz)`;

export async function countTelemetry(
  q: Queryable,
  tenantId: string,
  devices: string[],
  window: TelemetryWindow,
): Promise<number> {
  const { rows } = await q.query<{ n: string }>(`SELECT count(*) AS n FROM telemetry t WHERE ${IN_WINDOW}`, [
    tenantId,
    devices,
    window.after,
    window.inclusive,
    window.before,
  ]);
  return Number(rows[0]!.n);
}

export interface SourceTelemetry {
  time: Date;
  /** The row's time to the microsecond, for the cursor. */
  at: string;
  device_id: string;
  site_id: string;
  msg_type: string;
  seq: string;
  metrics: unknown;
}

/**
 * The next batch of a window, oldest first: `limit` rows and every other row sharing the last one's time,
 * so the next batch may start strictly after it without losing or repeating a row.
 */
export async function telemetryBatch(
  q: Queryable,
  tenantId: string,
  devices: string[],
  window: TelemetryWindow,
  limit: number,
): Promise<SourceTelemetry[]> {
  const { rows } = await q.query<SourceTelemetry>(
    `WITH edge AS (SELECT max(time) AS last FROM (SELECT t.time FROM telemetry t WHERE ${IN_WINDOW} ORDER BY t.time LIMIT $6) b)
     SELECT t.time, t.time::text AS at, t.device_id, COALESCE(t.site_id, d.site_id, '') AS site_id,
            COALESCE(t.msg_type, 'telemetry') AS msg_type, COALESCE(t.seq, 0)::text AS seq, t.metrics
     FROM telemetry t
     LEFT JOIN device_registry d ON d.tenant_id = t.tenant_id AND d.device_id = t.device_id
     WHERE ${IN_WINDOW} AND t.time <= (SELECT last FROM edge)
     ORDER BY t.time`,
    [tenantId, devices, window.after, window.inclusive, window.before, limit],
  );
  return rows;
}
