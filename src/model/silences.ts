// Silences: a tenant's maintenance windows. The rule that holds an alert event's notifications (pure),
// and the silences' SQL: customers manage their tenant's under row-level security, the dispatcher reads
// every tenant's, operators see all.
import type { DeliveryEvent } from '../channels/payload.js';
import type { OperatorTx, ServiceTx, TenantTx } from '../db/database.js';
import { eventHappenedAt } from './alerts.js';
import type { DeviceSelector } from './device-selection.js';

export interface Silence {
  silence_id: string;
  tenant_id: string;
  site_ids: string[] | null;
  device_ids: string[] | null;
  device_prefixes: string[] | null;
  alert_types: string[] | null;
  /** Devices by tags, attributes…: matched by the dispatcher (scopeMatcher), as the alert's device is now. */
  selector: DeviceSelector | null;
  starts_at: Date;
  ends_at: Date;
  comment: string;
  created_by: string | null;
  created_at: Date;
}

export interface SilencedAlert {
  tenant_id: string;
  site_id: string;
  device_id: string;
  alert_type: string;
  created_at: Date;
  closed_at: Date | null;
}

const empty = (list: string[] | null) => !list || list.length === 0;

/** When the event happened: an OPEN when the alert opened, a CLOSED when it closed, and so on. */
export const eventTime = (alert: SilencedAlert, event: DeliveryEvent) =>
  eventHappenedAt(alert, event) ?? alert.created_at;

/**
 * Whether the silence holds this event: same tenant, the event happened inside the window, and every
 * list the silence gives matches (a site, a device, a device prefix, an alert type of it).
 */
export function silenceMatches(silence: Silence, alert: SilencedAlert, event: DeliveryEvent): boolean {
  const at = eventTime(alert, event).getTime();
  if (silence.tenant_id !== alert.tenant_id) return false;
  if (at < silence.starts_at.getTime() || at >= silence.ends_at.getTime()) return false;
  if (!empty(silence.site_ids) && !silence.site_ids!.includes(alert.site_id)) return false;
  if (!empty(silence.device_ids) && !silence.device_ids!.includes(alert.device_id)) return false;
  if (!empty(silence.device_prefixes) && !silence.device_prefixes!.some((p) => alert.device_id.startsWith(p)))
    return false;
  if (!empty(silence.alert_types) && !silence.alert_types!.includes(alert.alert_type)) return false;
  return true;
}

const COLUMNS = `silence_id, tenant_id, site_ids, device_ids, device_prefixes, alert_types, selector, starts_at, ends_at,
  comment, created_by, created_at`;

/**
 * The silences that could hold these alerts' events (the dispatcher's): the alert's tenant, a window
 * reaching past `since`, and every list the silence gives matching the alert. Filtered in SQL, so a
 * tenant's other silences never leave the database: the dispatcher's cost per event follows what matches,
 * not how many silences (up to ~60 KB each before issue 36) a tenant keeps. The window is left to
 * silenceMatches, which knows each event's time.
 */
export async function silencesFor(tx: ServiceTx, alerts: SilencedAlert[], since: Date): Promise<Silence[]> {
  if (alerts.length === 0) return [];
  const { rows } = await tx.query<Silence>(
    `SELECT ${COLUMNS} FROM silences WHERE silence_id IN (
       SELECT s.silence_id FROM silences s
       JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS a(tenant_id, site_id, device_id, alert_type)
         ON s.tenant_id = a.tenant_id
       WHERE s.ends_at > $5
         AND (COALESCE(cardinality(s.site_ids), 0) = 0 OR a.site_id = ANY (s.site_ids))
         AND (COALESCE(cardinality(s.device_ids), 0) = 0 OR a.device_id = ANY (s.device_ids))
         AND (COALESCE(cardinality(s.alert_types), 0) = 0 OR a.alert_type = ANY (s.alert_types))
         AND (COALESCE(cardinality(s.device_prefixes), 0) = 0
              OR EXISTS (SELECT 1 FROM unnest(s.device_prefixes) AS p(prefix) WHERE starts_with(a.device_id, p.prefix))))`,
    [
      alerts.map((alert) => alert.tenant_id),
      alerts.map((alert) => alert.site_id),
      alerts.map((alert) => alert.device_id),
      alerts.map((alert) => alert.alert_type),
      since,
    ],
  );
  return rows;
}

/** Marks alerts whose notifications a silence held (alert id → silence id). */
export async function markSilenced(tx: ServiceTx, silenced: Map<number, string>): Promise<void> {
  if (silenced.size === 0) return;
  await tx.query(
    `UPDATE fleet_alert a SET silenced_by = s.silence_id
     FROM unnest($1::bigint[], $2::uuid[]) AS s(alert_id, silence_id) WHERE a.id = s.alert_id`,
    [[...silenced.keys()], [...silenced.values()]],
  );
}

/** A tenant's silences (customers; under RLS), or every tenant's (operators): current and coming first. */
export async function listSilences(
  tx: TenantTx | OperatorTx,
  filter: { tenantId?: string | undefined; includeEnded: boolean },
): Promise<Silence[]> {
  const { rows } = await tx.query<Silence>(
    `SELECT ${COLUMNS} FROM silences
     WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2 OR ends_at > now())
     ORDER BY ends_at <= now(), starts_at DESC LIMIT 500`,
    [filter.tenantId ?? null, filter.includeEnded],
  );
  return rows;
}

export type NewSilence = Omit<Silence, 'silence_id' | 'tenant_id' | 'created_at'> & { created_by: string };

export async function createSilence(tx: TenantTx, silence: NewSilence): Promise<Silence> {
  const { rows } = await tx.query<Silence>(
    `INSERT INTO silences (tenant_id, site_ids, device_ids, device_prefixes, alert_types, starts_at, ends_at, comment,
                           created_by, selector)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
    [
      tx.tenantId,
      silence.site_ids,
      silence.device_ids,
      silence.device_prefixes,
      silence.alert_types,
      silence.starts_at,
      silence.ends_at,
      silence.comment,
      silence.created_by,
      silence.selector ? JSON.stringify(silence.selector) : null,
    ],
  );
  return rows[0]!;
}

/** Ends a silence now; one not started yet is removed. Undefined when there is no such silence running or coming. */
export async function endSilence(tx: TenantTx, silenceId: string): Promise<Silence | undefined> {
  const removed = await tx.query<Silence>(
    `DELETE FROM silences WHERE tenant_id = $1 AND silence_id = $2 AND starts_at >= now() RETURNING ${COLUMNS}`,
    [tx.tenantId, silenceId],
  );
  if (removed.rows[0]) return removed.rows[0];
  const { rows } = await tx.query<Silence>(
    `UPDATE silences SET ends_at = now() WHERE tenant_id = $1 AND silence_id = $2 AND ends_at > now()
     RETURNING ${COLUMNS}`,
    [tx.tenantId, silenceId],
  );
  return rows[0];
}
