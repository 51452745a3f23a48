// Delivery jobs: one per alert event × route, queued by the dispatcher, claimed and attempted by the
// delivery workers (service transactions: they work for every tenant).
import type { DeliveryEvent } from '../channels/payload.js';
import type { ServiceTx, TenantTx } from '../db/database.js';
import type { IntegrationRow } from './integrations.js';

export interface NewJob {
  tenant_id: string;
  alert_id: number;
  integration_id: string;
  route_id: string;
  deliver_on_event: DeliveryEvent;
  payload_json: unknown;
  /** The silence holding it: the job is kept as SILENCED and never sent. */
  silence_id?: string | undefined;
  /** A follow-up of the event ('repeat:<n>', 'escalation:…'); absent for the event itself. */
  notice?: string | undefined;
}

/**
 * Inserts the jobs that do not exist yet (one per alert × route × event × notice) and numbers the new
 * notifications in their alert's sequence, in the order planned — held (SILENCED) ones among them, so one
 * batch's events keep their order; returns how many were new, and how many of those held. An alert about
 * an integration (INTEGRATION_FAILING) is never sent to that integration — by a route, a follow-up or a
 * backfill: it could not get through, and its failure would only feed itself.
 */
export async function insertJobs(tx: ServiceTx, jobs: NewJob[]): Promise<{ queued: number; silenced: number }> {
  if (jobs.length === 0) return { queued: 0, silenced: 0 };
  const { rows } = await tx.query<{
    job_id: number;
    alert_id: number;
    deliver_on_event: string;
    notice: string;
    status: string;
  }>(
    `INSERT INTO delivery_jobs (tenant_id, alert_id, integration_id, route_id, deliver_on_event, payload_json, status,
                                silence_id, notice)
     SELECT j.tenant_id, j.alert_id, j.integration_id, j.route_id, j.deliver_on_event, j.payload_json,
            CASE WHEN j.silence_id IS NULL THEN 'PENDING' ELSE 'SILENCED' END, j.silence_id, COALESCE(j.notice, '')
     FROM jsonb_to_recordset($1::jsonb) AS j(tenant_id text, alert_id bigint, integration_id uuid, route_id uuid,
                                            deliver_on_event text, payload_json jsonb, silence_id uuid, notice text)
     WHERE NOT EXISTS (SELECT 1 FROM fleet_alert f WHERE f.id = j.alert_id AND f.integration_id = j.integration_id)
     ON CONFLICT (tenant_id, alert_id, route_id, deliver_on_event, notice) DO NOTHING
     RETURNING job_id, alert_id, deliver_on_event, notice, status`,
    [JSON.stringify(jobs)],
  );
  if (rows.length === 0) return { queued: 0, silenced: 0 };
  const notifications = notificationsInOrder(jobs, rows);
  const counts = new Map<number, number>();
  for (const { alert_id } of notifications) counts.set(alert_id, (counts.get(alert_id) ?? 0) + 1);
  const alertIds = [...counts.keys()].sort((a, b) => a - b); // one lock order for every dispatcher
  const reserved = await tx.query<{ alert_id: number; last_seq: number }>(
    `INSERT INTO alert_notification_seq AS s (alert_id, last_seq)
     SELECT * FROM unnest($1::bigint[], $2::int[])
     ON CONFLICT (alert_id) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
     RETURNING alert_id, last_seq`,
    [alertIds, alertIds.map((id) => counts.get(id)!)],
  );
  const sequences = numberNotifications(
    notifications,
    new Map(reserved.rows.map((row) => [Number(row.alert_id), row.last_seq])),
  );
  const numbered = rows.map((row) => ({ job_id: row.job_id, sequence: sequences.get(notificationKey(row))! }));
  await tx.query(
    `UPDATE delivery_jobs d SET sequence = s.sequence
     FROM unnest($1::bigint[], $2::int[]) AS s(job_id, sequence) WHERE d.job_id = s.job_id`,
    [numbered.map((row) => row.job_id), numbered.map((row) => row.sequence)],
  );
  const silenced = rows.filter((row) => row.status === 'SILENCED').length;
  return { queued: rows.length - silenced, silenced };
}

type NotificationOf = { alert_id: number | string; deliver_on_event: string; notice?: string | undefined };

/** One notification of an alert: its event or a follow-up; every route's job for it shares its number. */
const notificationKey = (job: NotificationOf) =>
  `${Number(job.alert_id)}\u0000${job.deliver_on_event}\u0000${job.notice ?? ''}`;

/** The distinct notifications among the inserted jobs, in the order they were planned. */
function notificationsInOrder(planned: NewJob[], inserted: NotificationOf[]): { key: string; alert_id: number }[] {
  const position = new Map<string, number>();
  planned.forEach((job, index) => {
    const key = notificationKey(job);
    if (!position.has(key)) position.set(key, index);
  });
  const keys = new Map(inserted.map((job) => [notificationKey(job), Number(job.alert_id)]));
  return [...keys]
    .sort(([a], [b]) => position.get(a)! - position.get(b)!)
    .map(([key, alert_id]) => ({ key, alert_id }));
}

/**
 * Numbers notifications given in order: each alert's last `n` reserved numbers (ending at its `last_seq`)
 * go to its `n` notifications, oldest first.
 */
export function numberNotifications(
  notifications: { key: string; alert_id: number }[],
  lastSeq: Map<number, number>,
): Map<string, number> {
  const left = new Map<number, number>();
  for (const { alert_id } of notifications) left.set(alert_id, (left.get(alert_id) ?? 0) + 1);
  const result = new Map<string, number>();
  for (const { key, alert_id } of notifications) {
    const remaining = left.get(alert_id)!;
    result.set(key, lastSeq.get(alert_id)! - remaining + 1);
    left.set(alert_id, remaining - 1);
  }
  return result;
}

/** Alert events of the last minutes, for the dispatcher's catch-up after a restart. */

export interface ClaimedJob {
  job_id: number;
  tenant_id: string;
  integration_id: string;
  attempts: number;
  payload_json: unknown;
  /** The notification's place in its alert's sequence, and the id receivers de-duplicate retries by. */
  sequence: number;
  delivery_id: string;
  /** The alert's status as the job is claimed. */
  alert_status: string;
  /** The job's integration as it is now (jobs go with their integration: ON DELETE CASCADE). */
  integration: IntegrationRow;
}

/**
 * A job of alias `d` whose turn has come: no earlier notification of its alert to its integration is
 * pending or being sent (receivers get one alert's notifications in order).
 */
const IN_TURN = `NOT EXISTS (SELECT 1 FROM delivery_jobs e WHERE e.alert_id = d.alert_id AND e.integration_id = d.integration_id
  AND e.status IN ('PENDING', 'PROCESSING') AND e.sequence < d.sequence)`;

/** Tenants with jobs due, the longest-waiting first. */
export async function dueTenants(tx: ServiceTx, limit: number): Promise<string[]> {
  const { rows } = await tx.query<{ tenant_id: string }>(
    `SELECT tenant_id FROM delivery_jobs d WHERE status = 'PENDING' AND next_run_at <= now() AND ${IN_TURN}
     GROUP BY tenant_id ORDER BY min(next_run_at) LIMIT $1`,
    [limit],
  );
  return rows.map((row) => row.tenant_id);
}

/**
 * Claims up to `count` due jobs of one tenant, each in its turn; SKIP LOCKED keeps two workers off the same
 * job. Jobs overtaken by their alert are set aside first (supersedeJobs).
 */
export async function claimJobs(tx: ServiceTx, tenantId: string, count: number): Promise<ClaimedJob[]> {
  await supersedeJobs(tx, tenantId);
  const { rows } = await tx.query<
    ClaimedJob & { integration: IntegrationRow & { created_at: string; updated_at: string } }
  >(
    `UPDATE delivery_jobs j SET status = 'PROCESSING', updated_at = now()
     FROM integrations i
     WHERE i.tenant_id = j.tenant_id AND i.integration_id = j.integration_id AND j.job_id IN (
       SELECT job_id FROM delivery_jobs d WHERE tenant_id = $1 AND status = 'PENDING' AND next_run_at <= now()
         AND ${IN_TURN}
       ORDER BY next_run_at, job_id LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING j.job_id, j.tenant_id, j.integration_id, j.attempts, j.payload_json, j.sequence, j.delivery_id,
               (SELECT f.status FROM fleet_alert f WHERE f.id = j.alert_id) AS alert_status, to_jsonb(i) AS integration`,
    [tenantId, count],
  );
  return rows.map((row) => ({
    ...row,
    integration: {
      ...row.integration,
      created_at: new Date(row.integration.created_at),
      updated_at: new Date(row.integration.updated_at),
    },
  }));
}

/**
 * Sets aside what the alert has overtaken (ADR 025), with the reason in last_error: a pending OPEN or
 * follow-up of an alert acknowledged or closed since (unless its route has deliver_superseded); then a
 * pending CLOSED on a route that delivers OPENs but never sent this alert's OPEN (not even tried) — unless
 * the alert came from an original deployment (`pulse import original`), which sent its OPEN.
 * Two statements: the second sees the OPENs the first set aside.
 */
async function supersedeJobs(tx: ServiceTx, tenantId: string): Promise<void> {
  await tx.query(
    `UPDATE delivery_jobs j SET status = 'SUPERSEDED', last_error = 'alert_' || lower(f.status), updated_at = now()
     FROM fleet_alert f, integration_routes r
     WHERE j.tenant_id = $1 AND j.status = 'PENDING' AND j.deliver_on_event = 'OPEN'
       AND f.id = j.alert_id AND f.status <> 'OPEN'
       AND r.tenant_id = j.tenant_id AND r.route_id = j.route_id AND NOT r.deliver_superseded`,
    [tenantId],
  );
  await tx.query(
    `UPDATE delivery_jobs j SET status = 'SUPERSEDED', last_error = 'open_not_sent', updated_at = now()
     FROM integration_routes r
     WHERE j.tenant_id = $1 AND j.status = 'PENDING' AND j.deliver_on_event = 'CLOSED'
       AND r.tenant_id = j.tenant_id AND r.route_id = j.route_id AND 'OPEN' = ANY(r.deliver_on)
       AND NOT EXISTS (SELECT 1 FROM delivery_jobs o
                       WHERE o.tenant_id = j.tenant_id AND o.alert_id = j.alert_id AND o.route_id = j.route_id
                         AND o.deliver_on_event = 'OPEN' AND o.notice = ''
                         AND (o.status IN ('PENDING', 'PROCESSING', 'COMPLETED') OR o.attempts > 0))
       AND NOT EXISTS (SELECT 1 FROM imported_alerts i WHERE i.tenant_id = j.tenant_id AND i.alert_id = j.alert_id)`,
    [tenantId],
  );
}

/**
 * When each route sent these alerts a backfill (its OPEN for an alert already open when the route came to
 * match it): repeats and escalations count from then.
 */
export async function backfillTimes(tx: ServiceTx, alerts: { tenant_id: string; alert_id: number }[]) {
  // By (tenant, alert): probes of the dedup index, not a scan of every job ever queued (this runs each tick).
  const { rows } = await tx.query<{ alert_id: number; route_id: string; created_at: Date }>(
    `SELECT j.alert_id, j.route_id, j.created_at
     FROM unnest($1::text[], $2::bigint[]) AS a(tenant_id, alert_id)
     JOIN delivery_jobs j ON j.tenant_id = a.tenant_id AND j.alert_id = a.alert_id
     WHERE j.deliver_on_event = 'OPEN' AND j.notice = '' AND j.payload_json->'notice'->>'kind' = 'backfill'`,
    [alerts.map((alert) => alert.tenant_id), alerts.map((alert) => alert.alert_id)],
  );
  return new Map(rows.map((row) => [`${Number(row.alert_id)}\u0000${row.route_id}`, row.created_at]));
}

export interface AttemptOutcome {
  job: ClaimedJob;
  ok: boolean;
  httpStatus: number | undefined;
  error: string | undefined;
  startedAt: Date;
  latencyMs: number;
  /** Retry in this many seconds; undefined when the job is finished (sent, or out of attempts). */
  retryInSeconds: number | undefined;
}

/** Records the attempt and moves the job on: COMPLETED, PENDING for a retry, or FAILED. */
export async function finishAttempt(tx: ServiceTx, outcome: AttemptOutcome): Promise<void> {
  const { job } = outcome;
  const attemptNo = job.attempts + 1;
  await tx.query(
    `INSERT INTO delivery_attempts (tenant_id, job_id, attempt_no, ok, http_status, latency_ms, error, started_at, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())`,
    [
      job.tenant_id,
      job.job_id,
      attemptNo,
      outcome.ok,
      outcome.httpStatus ?? null,
      outcome.latencyMs,
      outcome.error ?? null,
      outcome.startedAt,
    ],
  );
  const status = outcome.ok ? 'COMPLETED' : outcome.retryInSeconds === undefined ? 'FAILED' : 'PENDING';
  await tx.query(
    `UPDATE delivery_jobs SET status = $2, attempts = $3, last_error = $4, updated_at = now(),
       next_run_at = CASE WHEN $2 = 'PENDING' THEN now() + make_interval(secs => $5::int) ELSE next_run_at END
     WHERE job_id = $1`,
    [job.job_id, status, attemptNo, outcome.ok ? null : (outcome.error ?? 'failed'), outcome.retryInSeconds ?? 0],
  );
}

/** Jobs a dead worker left PROCESSING go back to the queue (the attempt it never finished is not counted). */
export async function requeueStuckJobs(tx: ServiceTx, stuckSeconds: number): Promise<number> {
  const { rowCount } = await tx.query(
    `UPDATE delivery_jobs SET status = 'PENDING', next_run_at = now(), last_error = 'stuck_requeued', updated_at = now()
     WHERE status = 'PROCESSING' AND updated_at < now() - make_interval(secs => $1::int)`,
    [stuckSeconds],
  );
  return rowCount ?? 0;
}

/** Jobs waiting and being sent, across workers (both counts use partial indexes). */
export async function jobCounts(tx: ServiceTx) {
  const { rows } = await tx.query<{ pending: number; processing: number }>(
    `SELECT (SELECT count(*)::int FROM delivery_jobs WHERE status = 'PENDING') AS pending,
            (SELECT count(*)::int FROM delivery_jobs WHERE status = 'PROCESSING') AS processing`,
  );
  return rows[0]!;
}

/** One attempt to deliver a job, as customers see it. */
export interface DeliveryAttempt {
  tenant_id: string;
  job_id: number;
  alert_id: number;
  integration_id: string;
  attempt_no: number;
  ok: boolean;
  http_status: number | null;
  latency_ms: number | null;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

/** The tenant's latest attempts, of one integration when given. */
export async function deliveryStatus(tx: TenantTx, filter: { limit: number; integrationId?: string | undefined }) {
  const { rows } = await tx.query<DeliveryAttempt>(
    `SELECT a.tenant_id, a.job_id, j.alert_id, j.integration_id, a.attempt_no, a.ok, a.http_status, a.latency_ms,
            a.error, a.started_at, a.finished_at
     FROM delivery_attempts a JOIN delivery_jobs j ON j.job_id = a.job_id
     WHERE a.tenant_id = $1 AND ($3::text IS NULL OR j.integration_id::text = $3)
     ORDER BY a.finished_at DESC NULLS LAST, a.attempt_id DESC LIMIT $2`,
    [tx.tenantId, filter.limit, filter.integrationId ?? null],
  );
  return rows;
}

export type JobStatus = 'PENDING' | 'PROCESSING' | 'COMPLETED' | 'FAILED' | 'SILENCED' | 'SUPERSEDED';

/** A delivery job as the Deliveries page shows it: what, where, how it went, its last attempt. */
export interface DeliveryJob {
  job_id: number;
  tenant_id: string;
  alert_id: number;
  device_id: string;
  alert_type: string;
  integration_id: string;
  integration_name: string;
  integration_type: string;
  route_id: string;
  event: string;
  notice: string;
  status: JobStatus;
  attempts: number;
  last_error: string | null;
  next_run_at: Date;
  created_at: Date;
  updated_at: Date;
  last_http_status: number | null;
  last_latency_ms: number | null;
}

export interface JobFilter {
  integrationId?: string | undefined;
  status?: JobStatus | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  limit: number;
  offset: number;
}

export async function listJobs(tx: TenantTx, filter: JobFilter) {
  const where = `j.tenant_id = $1 AND ($2::text IS NULL OR j.integration_id::text = $2) AND ($3::text IS NULL OR j.status = $3)
    AND ($4::timestamptz IS NULL OR j.created_at >= $4) AND ($5::timestamptz IS NULL OR j.created_at < $5)`;
  const params = [
    tx.tenantId,
    filter.integrationId ?? null,
    filter.status ?? null,
    filter.since ?? null,
    filter.until ?? null,
  ];
  const [jobs, total] = await Promise.all([
    tx.query<DeliveryJob>(
      `SELECT j.job_id, j.tenant_id, j.alert_id, f.device_id, f.alert_type, j.integration_id, i.name AS integration_name,
              i.type AS integration_type, j.route_id, j.deliver_on_event AS event, j.notice, j.status, j.attempts,
              j.last_error, j.next_run_at, j.created_at, j.updated_at,
              last.http_status AS last_http_status, last.latency_ms AS last_latency_ms
       FROM delivery_jobs j
       JOIN integrations i ON i.tenant_id = j.tenant_id AND i.integration_id = j.integration_id
       JOIN fleet_alert f ON f.id = j.alert_id
       LEFT JOIN LATERAL (SELECT http_status, latency_ms FROM delivery_attempts a
                          WHERE a.job_id = j.job_id ORDER BY attempt_no DESC LIMIT 1) last ON true
       WHERE ${where}
       ORDER BY j.created_at DESC, j.job_id DESC LIMIT $6 OFFSET $7`,
      [...params, filter.limit, filter.offset],
    ),
    tx.query<{ total: number }>(`SELECT count(*)::int AS total FROM delivery_jobs j WHERE ${where}`, params),
  ]);
  return { jobs: jobs.rows, total: total.rows[0]!.total };
}

/**
 * A FAILED job back in the queue, due now, for one more attempt (FAILED again if that fails too).
 * 'not_failed' when the job exists in another state; undefined when there is no such job.
 */
export async function retryJob(
  tx: TenantTx,
  jobId: number,
): Promise<'retried' | 'not_failed' | { supersededBy: string } | undefined> {
  // An OPEN (or a repeat or escalation) of an alert acknowledged or closed since would only be superseded
  // at its claim (supersedeJobs): refused here instead of a 202 that never sends.
  const { rows } = await tx.query<{ status: string; overtaken_by: string | null }>(
    `SELECT j.status,
            CASE WHEN j.deliver_on_event = 'OPEN' AND f.status <> 'OPEN' AND NOT COALESCE(r.deliver_superseded, false)
                 THEN f.status END AS overtaken_by
     FROM delivery_jobs j
     LEFT JOIN fleet_alert f ON f.tenant_id = j.tenant_id AND f.id = j.alert_id
     LEFT JOIN integration_routes r ON r.tenant_id = j.tenant_id AND r.route_id = j.route_id
     WHERE j.tenant_id = $1 AND j.job_id = $2
     FOR UPDATE OF j`,
    [tx.tenantId, jobId],
  );
  if (!rows[0]) return undefined;
  if (rows[0].status !== 'FAILED') return 'not_failed';
  if (rows[0].overtaken_by) return { supersededBy: rows[0].overtaken_by };
  await tx.query(
    `UPDATE delivery_jobs SET status = 'PENDING', next_run_at = now(), updated_at = now() WHERE tenant_id = $1 AND job_id = $2`,
    [tx.tenantId, jobId],
  );
  return 'retried';
}
