// An alert's timeline: what the fleet_alert triggers recorded (opened, updated, acknowledged, silenced,
// closed), customers' notes, and every notification — each attempt with its result, and the ones a
// silence held — in time order. Customers only (TenantTx, under row-level security).
import type { TenantTx } from '../db/database.js';

export type TimelineKind =
  'OPENED' | 'UPDATED' | 'ACKNOWLEDGED' | 'SILENCED' | 'CLOSED' | 'NOTE' | 'NOTIFIED' | 'NOTIFY_FAILED' | 'HELD';

export interface TimelineEntry {
  at: Date;
  kind: TimelineKind;
  /** Who did it (a user's name); null when Pulse did. */
  actor: string | null;
  detail: Record<string, unknown>;
}

/** Where a timeline page ends: the last entry's instant (text, to the microsecond), kind and source row. */
export interface TimelineCursor {
  at: string;
  kind: string;
  key: string;
}

/**
 * One page of the timeline, in time order from just after `after` (the start when undefined), and the
 * cursor of the next page (null on the last). Entries are ordered by (at, kind, source row), a total order,
 * so pages neither repeat nor skip an entry.
 */
export async function alertTimeline(
  tx: TenantTx,
  alertId: number,
  page: { limit: number; after?: TimelineCursor | undefined },
): Promise<{ entries: TimelineEntry[]; next: TimelineCursor | null }> {
  const { rows } = await tx.query<TimelineEntry & { at_key: string; key: string }>(
    `SELECT at, kind, actor, detail, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_key, key
     FROM (
       SELECT at, kind, actor, detail, 'e' || lpad(event_id::text, 19, '0') AS key
       FROM alert_events WHERE tenant_id = $1 AND alert_id = $2
       UNION ALL
       SELECT COALESCE(a.finished_at, a.started_at), CASE WHEN a.ok THEN 'NOTIFIED' ELSE 'NOTIFY_FAILED' END, NULL,
              jsonb_build_object('job_id', j.job_id, 'integration_id', j.integration_id, 'integration_name', i.name,
                                 'integration_type', i.type, 'event', j.deliver_on_event, 'notice', j.notice,
                                 'attempt', a.attempt_no, 'http_status', a.http_status, 'error', a.error,
                                 'latency_ms', a.latency_ms),
              'a' || lpad(a.attempt_id::text, 19, '0')
       FROM delivery_attempts a
       JOIN delivery_jobs j ON j.job_id = a.job_id
       JOIN integrations i ON i.tenant_id = j.tenant_id AND i.integration_id = j.integration_id
       WHERE j.tenant_id = $1 AND j.alert_id = $2
       UNION ALL
       SELECT j.created_at, 'HELD', NULL,
              jsonb_build_object('job_id', j.job_id, 'integration_id', j.integration_id, 'integration_name', i.name,
                                 'integration_type', i.type, 'event', j.deliver_on_event, 'notice', j.notice,
                                 'silence_id', j.silence_id),
              'h' || lpad(j.job_id::text, 19, '0')
       FROM delivery_jobs j
       JOIN integrations i ON i.tenant_id = j.tenant_id AND i.integration_id = j.integration_id
       WHERE j.tenant_id = $1 AND j.alert_id = $2 AND j.status = 'SILENCED'
     ) AS timeline
     WHERE $3::timestamptz IS NULL OR (at, kind, key) > ($3::timestamptz, $4::text, $5::text)
     ORDER BY at, kind, key LIMIT $6`,
    [tx.tenantId, alertId, page.after?.at ?? null, page.after?.kind ?? null, page.after?.key ?? null, page.limit + 1],
  );
  const entries = rows.slice(0, page.limit);
  const last = entries.at(-1);
  const next = rows.length > page.limit && last ? { at: last.at_key, kind: last.kind, key: last.key } : null;
  return { entries: entries.map(({ at, kind, actor, detail }) => ({ at, kind, actor, detail })), next };
}

export async function addNote(tx: TenantTx, alertId: number, author: string, text: string): Promise<TimelineEntry> {
  const { rows } = await tx.query<TimelineEntry>(
    `INSERT INTO alert_events (tenant_id, alert_id, kind, actor, detail) VALUES ($1, $2, 'NOTE', $3, jsonb_build_object('text', $4::text))
     RETURNING at, kind, actor, detail`,
    [tx.tenantId, alertId, author, text],
  );
  return rows[0]!;
}
