// Device state: what the evaluator knows of each device (status, when it was last heard, its latest
// metrics), kept in device_state and loaded back when an evaluator takes a device over.
import type { ServiceTx, TenantTx } from '../db/database.js';
import type { Metrics } from '../contracts/messages.js';

export type DeviceStatus = 'ONLINE' | 'STALE' | 'REVOKED';

export interface DeviceState {
  tenant_id: string;
  device_id: string;
  site_id: string;
  status: DeviceStatus;
  last_heartbeat_at: Date | null;
  last_telemetry_at: Date | null;
  last_seen_at: Date | null;
  last_state_change_at: Date;
  state: Metrics;
}

export async function loadDeviceStates(tx: ServiceTx): Promise<DeviceState[]> {
  const { rows } = await tx.query<DeviceState & { registry_status: string | null }>(
    `SELECT ds.tenant_id, ds.device_id, ds.site_id, ds.status, ds.last_heartbeat_at, ds.last_telemetry_at,
            ds.last_seen_at, ds.last_state_change_at, ds.state, dr.status AS registry_status
     FROM device_state ds LEFT JOIN device_registry dr USING (tenant_id, device_id)`,
  );
  return rows.map(({ registry_status, ...device }) => ({
    ...device,
    status: (registry_status === 'REVOKED'
      ? 'REVOKED'
      : device.status === 'ONLINE'
        ? 'ONLINE'
        : 'STALE') as DeviceStatus,
  }));
}

export async function upsertDeviceStates(tx: ServiceTx, devices: DeviceState[]): Promise<void> {
  if (devices.length === 0) return;
  await tx.query(
    `INSERT INTO device_state (tenant_id, site_id, device_id, status, last_heartbeat_at, last_telemetry_at,
                               last_seen_at, last_state_change_at, state)
     SELECT d.tenant_id, d.site_id, d.device_id, d.status, d.last_heartbeat_at, d.last_telemetry_at,
            d.last_seen_at, d.last_state_change_at, d.state
     FROM jsonb_to_recordset($1::jsonb) AS d(tenant_id text, site_id text, device_id text, status text,
       last_heartbeat_at timestamptz, last_telemetry_at timestamptz, last_seen_at timestamptz,
       last_state_change_at timestamptz, state jsonb)
     ON CONFLICT (tenant_id, device_id) DO UPDATE SET
       site_id = EXCLUDED.site_id, status = EXCLUDED.status, last_heartbeat_at = EXCLUDED.last_heartbeat_at,
       last_telemetry_at = EXCLUDED.last_telemetry_at, last_seen_at = EXCLUDED.last_seen_at,
       last_state_change_at = EXCLUDED.last_state_change_at, state = EXCLUDED.state`,
    [JSON.stringify(devices)],
  );
}

/** The metrics the tenant's devices have reported (their latest values' names), in order. */
export async function reportedMetrics(tx: TenantTx): Promise<string[]> {
  const { rows } = await tx.query<{ metric: string }>(
    `SELECT DISTINCT jsonb_object_keys(state) AS metric FROM device_state WHERE tenant_id = $1 ORDER BY 1`,
    [tx.tenantId],
  );
  return rows.map((row) => row.metric);
}
