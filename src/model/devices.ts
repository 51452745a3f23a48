// Devices as every API shows them: the registry joined with what the evaluator knows (device_state).
// Customers read their own (TenantTx, row-level security), operators any tenant's (OperatorTx).
import type { OperatorTx, TenantScope, TenantTx } from '../db/database.js';
import type { DeviceStatus } from './device-state.js';
import type { Metrics } from '../contracts/messages.js';
import type { Attributes } from './device-tags.js';

/** A device as the APIs list it. */
export interface Device {
  tenant_id: string;
  device_id: string;
  site_id: string;
  /** OFFLINE: registered, never heard from. */
  status: DeviceStatus | 'OFFLINE';
  last_seen_at: Date | null;
  last_heartbeat_at: Date | null;
  last_telemetry_at: Date | null;
  /** The latest value of every metric. */
  state: Record<string, unknown>;
  tags: string[];
  attributes: Attributes;
  /** What the device reported of itself (attributes_reported); `attributes` win for a key both name. */
  reported_attributes: Attributes;
}

// A device as every API shows it: the registry joined with what the evaluator knows. A registered device
// the evaluator has not seen yet is OFFLINE; a revoked one is REVOKED whatever it last did.
export const DEVICE_STATUS = `(CASE WHEN dr.status = 'REVOKED' THEN 'REVOKED' ELSE COALESCE(ds.status, 'OFFLINE') END)`;

// The registry's site: ingest refuses messages naming another, and an owner's change shows at once.
const DEVICE_SITE = 'dr.site_id';

export const DEVICE_COLUMNS = `dr.tenant_id, dr.device_id, ${DEVICE_SITE} AS site_id, ${DEVICE_STATUS} AS status,
  ds.last_seen_at, ds.last_heartbeat_at, ds.last_telemetry_at, COALESCE(ds.state, '{}'::jsonb) AS state,
  dr.tags, dr.attributes, dr.reported_attributes`;

export const DEVICE_FROM = `device_registry dr
  LEFT JOIN device_state ds ON ds.tenant_id = dr.tenant_id AND ds.device_id = dr.device_id`;

/** The four headline metrics as numbers, null when missing or not a number (docs/wire-contract.md#data-api). */
const HEADLINE_METRICS = ['battery_pct', 'temp_c', 'rssi_dbm', 'snr_db'] as const;

export function withHeadlineMetrics<T extends { state: Record<string, unknown> }>(
  device: T,
): T & Record<(typeof HEADLINE_METRICS)[number], number | null> {
  const headline = {} as Record<(typeof HEADLINE_METRICS)[number], number | null>;
  for (const metric of HEADLINE_METRICS) {
    const value = device.state[metric];
    headline[metric] = typeof value === 'number' ? value : null;
  }
  return { ...device, ...headline };
}

/** A search term for `ILIKE '%' || $n || '%'` with its wildcards taken literally. */
export function escapeLike(search: string | undefined): string | null {
  return search ? search.replace(/[\\%_]/g, (c) => `\\${c}`) : null;
}

/** What the registry and the evaluator know of one device beyond the list's columns. */
export interface DeviceDetail extends Device {
  last_state_change_at: Date | null;
  fw_version: string | null;
  metadata: Record<string, unknown>;
}

export async function findDevice(tx: TenantTx, deviceId: string) {
  const { rows } = await tx.query<DeviceDetail & { registry_status: string }>(
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

export interface FleetDeviceFilter {
  tenantId: string | undefined;
  status?: string | undefined;
  search?: string | undefined;
  limit: number;
  offset: number;
}

export async function listFleetDevices(tx: OperatorTx, filter: FleetDeviceFilter) {
  const where = `($1::text IS NULL OR dr.tenant_id = $1) AND ($2::text IS NULL OR ${DEVICE_STATUS} = $2)
    AND ($3::text IS NULL OR dr.device_id ILIKE '%' || $3 || '%')`;
  const params = [filter.tenantId ?? null, filter.status ?? null, escapeLike(filter.search)];
  const [devices, total] = await Promise.all([
    tx.query<Device>(
      `SELECT ${DEVICE_COLUMNS} FROM ${DEVICE_FROM} WHERE ${where}
       ORDER BY dr.tenant_id, dr.site_id, dr.device_id LIMIT $4 OFFSET $5`,
      [...params, filter.limit, filter.offset],
    ),
    tx.query<{ total: number }>(`SELECT count(*)::int AS total FROM ${DEVICE_FROM} WHERE ${where}`, params),
  ]);
  return { devices: devices.rows.map(withHeadlineMetrics), total: total.rows[0]!.total };
}

/** A device with its latest values and recent rows; operators read any tenant's, customers their own (RLS). */
export async function deviceDetail(tx: TenantScope, deviceId: string) {
  const tenantId = tx.tenantId;
  const { rows } = await tx.query<DeviceDetail & { provisioned_at: Date }>(
    `SELECT ${DEVICE_COLUMNS}, ds.last_state_change_at, dr.fw_version, dr.metadata, dr.provisioned_at
     FROM ${DEVICE_FROM} WHERE dr.tenant_id = $1 AND dr.device_id = $2`,
    [tenantId, deviceId],
  );
  if (!rows[0]) return undefined;
  // Headline metric values as numbers (the original sent them as text).
  const device = withHeadlineMetrics(rows[0]);
  type Row = { time: Date; msg_type: string; metrics: Metrics; seq: number };
  const [events, telemetry] = await Promise.all([
    tx.query<Row>(
      `SELECT time, msg_type, metrics, seq FROM telemetry
       WHERE tenant_id = $1 AND device_id = $2 AND msg_type <> 'telemetry' AND time >= now() - interval '24 hours'
       ORDER BY time DESC LIMIT 50`,
      [tenantId, deviceId],
    ),
    tx.query<Row>(
      `SELECT time, metrics, seq, msg_type FROM telemetry
       WHERE tenant_id = $1 AND device_id = $2 AND msg_type = 'telemetry' AND time >= now() - interval '6 hours'
       ORDER BY time DESC LIMIT 120`,
      [tenantId, deviceId],
    ),
  ]);
  return { device, events: events.rows, telemetry: telemetry.rows };
}
