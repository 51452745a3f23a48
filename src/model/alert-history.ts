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

export async function alertTimeline(tx: TenantTx, alertId: number): Promise<TimelineEntry[]> {
  const { rows } = await tx.query<TimelineEntry>(
    `SELECT at, kind, actor, detail FROM alert_events WHERE tenant_id = $1 AND alert_id = $2
     UNION ALL
     SELECT COALESCE(a.finished_at, a.started_at), CASE WHEN a.ok THEN 'NOTIFIED' ELSE 'NOTIFY_FAILED' END, NULL,
            jsonb_build_object('job_id', j.job_id, 'integration_id', j.integration_id, 'integration_name', i.name,
                               'integration_type', i.type, 'event', j.deliver_on_event, 'notice', j.notice,
                               'attempt', a.attempt_no, 'http_status', a.http_status, 'error', a.error,
                               'latency_ms', a.latency_ms)
     FROM delivery_attempts a
     JOIN delivery_jobs j ON j.job_id = a.job_id
     JOIN integrations i ON i.tenant_id = j.tenant_id AND i.integration_id = j.integration_id
     WHERE j.tenant_id = $1 AND j.alert_id = $2
     UNION ALL
     SELECT j.created_at, 'HELD', NULL,
            jsonb_build_object('job_id', j.job_id, 'integration_id', j.integration_id, 'integration_name', i.name,
                               'integration_type', i.type, 'event', j.deliver_on_event, 'notice', j.notice,
                               'silence_id', j.silence_id)
     FROM delivery_jobs j
     JOIN integrations i ON i.tenant_id = j.tenant_id AND i.integration_id = j.integration_id
     WHERE j.tenant_id = $1 AND j.alert_id = $2 AND j.status = 'SILENCED'
     ORDER BY 1, 2`,
    [tx.tenantId, alertId],
  );
  return rows;
}

export async function addNote(tx: TenantTx, alertId: number, author: string, text: string): Promise<TimelineEntry> {
  const { rows } = await tx.query<TimelineEntry>(
    `INSERT INTO alert_events (tenant_id, alert_id, kind, actor, detail) VALUES ($1, $2, 'NOTE', $3, jsonb_build_object('text', $4::text))
     RETURNING at, kind, actor, detail`,
    [tx.tenantId, alertId, author, text],
  );
  return rows[0]!;
}
