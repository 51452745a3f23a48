// The fleet at a glance for a tenant's dashboard: devices counted by status and alerts not yet closed,
// counted on the server in one round trip instead of a page of each list per number.
import type { TenantTx } from '../db/database.js';
import { DEVICE_FROM, DEVICE_STATUS } from './devices.js';

export const DEVICE_STATUSES = ['ONLINE', 'STALE', 'OFFLINE', 'REVOKED'] as const;
export const ACTIVE_ALERT_STATUSES = ['OPEN', 'ACKNOWLEDGED'] as const;

export interface FleetCounts {
  devices: Record<(typeof DEVICE_STATUSES)[number] | 'total', number>;
  alerts: Record<(typeof ACTIVE_ALERT_STATUSES)[number], number>;
}

export async function fleetCounts(tx: TenantTx): Promise<FleetCounts> {
  const { rows } = await tx.query<{ kind: 'device' | 'alert'; status: string; count: number }>(
    `SELECT 'device' AS kind, ${DEVICE_STATUS} AS status, count(*)::int AS count
       FROM ${DEVICE_FROM} WHERE dr.tenant_id = $1 GROUP BY 2
     UNION ALL
     SELECT 'alert', status, count(*)::int FROM fleet_alert
      WHERE tenant_id = $1 AND status <> 'CLOSED' GROUP BY status`,
    [tx.tenantId],
  );
  const counted = (kind: string, status: string) =>
    rows.find((row) => row.kind === kind && row.status === status)?.count ?? 0;
  const devices = Object.fromEntries(DEVICE_STATUSES.map((status) => [status, counted('device', status)]));
  return {
    devices: {
      ...(devices as Record<(typeof DEVICE_STATUSES)[number], number>),
      total: rows.filter((row) => row.kind === 'device').reduce((sum, row) => sum + row.count, 0),
    },
    alerts: {
      OPEN: counted('alert', 'OPEN'),
      ACKNOWLEDGED: counted('alert', 'ACKNOWLEDGED'),
    },
  };
}
