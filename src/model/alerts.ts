// Alerts (fleet_alert): what the dispatcher reads of them.
import type { AlertRow, DeliveryEvent } from '../channels/payload.js';
import type { ServiceTx } from '../db/database.js';

export async function alertsByIds(tx: ServiceTx, ids: number[]): Promise<AlertRow[]> {
  const { rows } = await tx.query<AlertRow>(
    `SELECT id AS alert_id, tenant_id, site_id, device_id, alert_type, fingerprint, severity, confidence, summary, details,
            status, created_at, closed_at
     FROM fleet_alert WHERE id = ANY($1::bigint[])`,
    [ids],
  );
  return rows;
}

export async function recentAlertEvents(tx: ServiceTx, minutes: number) {
  const { rows } = await tx.query<{ alert_id: number; event: DeliveryEvent }>(
    `SELECT id AS alert_id, 'OPEN' AS event FROM fleet_alert WHERE created_at > now() - make_interval(mins => $1::int)
     UNION ALL
     SELECT id, 'CLOSED' FROM fleet_alert WHERE status = 'CLOSED' AND closed_at > now() - make_interval(mins => $1::int)`,
    [minutes],
  );
  return rows;
}
