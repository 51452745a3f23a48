// Fleet jobs (issue 30, ADR 027): one execution per selected device, started by the sender's job runner at
// the job's pace. Customers create, read, cancel and retry under row-level security; the runner moves
// jobs on as the pipeline, one job per transaction with the job's row locked, so any number of
// dispatchers run a job without starting an execution twice.
import { narrow, type ServiceTx, type TenantScope } from '../db/database.js';
import type { CommandChange, DeviceKey } from '../contracts/messages.js';
import { setDesired } from './commands.js';
import type { DeviceSelector } from './device-selection.js';
import type { ExecutionCounts, RolloutPolicy } from './rollout.js';
import { mergePatch } from './command-protocol.js';

export type JobKind = 'command' | 'config' | 'firmware';
export type JobState = 'RUNNING' | 'COMPLETED' | 'CANCELED' | 'ABORTED';
export const EXECUTION_STATES = ['PENDING', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELED'] as const;
export type ExecutionState = (typeof EXECUTION_STATES)[number];

export interface Job extends RolloutPolicy {
  job_id: string;
  tenant_id: string;
  name: string;
  kind: JobKind;
  command_name: string | null;
  params: unknown;
  selector: DeviceSelector;
  state: JobState;
  timeout_seconds: number;
  created_by: string | null;
  created_at: Date;
  finished_at: Date | null;
  reason: string | null;
  counts: ExecutionCounts & { total: number };
}

export interface NewJob {
  name: string;
  kind: JobKind;
  command_name: string | null;
  params: unknown;
  selector: DeviceSelector;
  rate_per_minute: number | null;
  max_in_flight: number;
  timeout_seconds: number;
  abort_failure_percent: number | null;
  abort_min_devices: number;
  created_by: string | null;
}

const COLUMNS = `j.job_id, j.tenant_id, j.name, j.kind, j.command_name, j.params, j.selector, j.state, j.rate_per_minute,
  j.max_in_flight, j.timeout_seconds, j.abort_failure_percent, j.abort_min_devices, j.created_by, j.created_at,
  j.started_at, j.finished_at, j.reason`;
const COUNTS = `(SELECT jsonb_build_object(
    'total', count(*),
    'PENDING', count(*) FILTER (WHERE e.state = 'PENDING'),
    'IN_PROGRESS', count(*) FILTER (WHERE e.state = 'IN_PROGRESS'),
    'SUCCEEDED', count(*) FILTER (WHERE e.state = 'SUCCEEDED'),
    'FAILED', count(*) FILTER (WHERE e.state = 'FAILED'),
    'TIMED_OUT', count(*) FILTER (WHERE e.state = 'TIMED_OUT'),
    'CANCELED', count(*) FILTER (WHERE e.state = 'CANCELED'))
  FROM job_executions e WHERE e.job_id = j.job_id) AS counts`;

export async function createJob(tx: TenantScope, job: NewJob, deviceIds: string[]): Promise<Job> {
  const { rows } = await tx.query<{ job_id: string }>(
    `INSERT INTO jobs (tenant_id, name, kind, command_name, params, selector, rate_per_minute, max_in_flight,
       timeout_seconds, abort_failure_percent, abort_min_devices, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING job_id`,
    [
      tx.tenantId,
      job.name,
      job.kind,
      job.command_name,
      JSON.stringify(job.params),
      JSON.stringify(job.selector),
      job.rate_per_minute,
      job.max_in_flight,
      job.timeout_seconds,
      job.abort_failure_percent,
      job.abort_min_devices,
      job.created_by,
    ],
  );
  const jobId = rows[0]!.job_id;
  await tx.query(
    `INSERT INTO job_executions (job_id, tenant_id, device_id, seq)
     SELECT $1, $2, d.device_id, d.seq::int FROM unnest($3::text[]) WITH ORDINALITY AS d(device_id, seq)`,
    [jobId, tx.tenantId, deviceIds],
  );
  return (await getJob(tx, jobId))!;
}

export async function getJob(tx: TenantScope, jobId: string): Promise<Job | null> {
  const { rows } = await tx.query<Job>(
    `SELECT ${COLUMNS}, ${COUNTS} FROM jobs j WHERE j.tenant_id = $1 AND j.job_id = $2`,
    [tx.tenantId, jobId],
  );
  return rows[0] ?? null;
}

export async function listJobs(tx: TenantScope, limit: number): Promise<Job[]> {
  const { rows } = await tx.query<Job>(
    `SELECT ${COLUMNS}, ${COUNTS} FROM jobs j WHERE j.tenant_id = $1 ORDER BY j.created_at DESC LIMIT $2`,
    [tx.tenantId, limit],
  );
  return rows;
}

export interface Execution {
  device_id: string;
  state: ExecutionState;
  command_id: string | null;
  config_version: number | null;
  started_at: Date | null;
  finished_at: Date | null;
  error: string | null;
  progress: string | null;
  result: unknown;
}

export async function listExecutions(
  tx: TenantScope,
  jobId: string,
  page: { state?: ExecutionState | undefined; limit: number; offset: number },
): Promise<Execution[]> {
  const { rows } = await tx.query<Execution>(
    `SELECT e.device_id, e.state, e.command_id, e.config_version, e.started_at, e.finished_at,
            COALESCE(e.error, c.error) AS error, c.progress, c.result
     FROM job_executions e LEFT JOIN device_commands c ON c.command_id = e.command_id
     WHERE e.tenant_id = $1 AND e.job_id = $2 AND ($3::text IS NULL OR e.state = $3)
     ORDER BY e.seq LIMIT $4 OFFSET $5`,
    [tx.tenantId, jobId, page.state ?? null, page.limit, page.offset],
  );
  return rows;
}

/**
 * Stops a job (CANCELED by a user, ABORTED by its failures): executions not started are withdrawn, and so
 * are started ones whose command the device has not confirmed yet. Returns those commands' changes.
 */
export async function stopJob(
  tx: TenantScope,
  jobId: string,
  state: 'CANCELED' | 'ABORTED',
  reason: string,
): Promise<CommandChange[] | null> {
  const { rowCount } = await tx.query(
    `UPDATE jobs SET state = $3, finished_at = clock_timestamp(), reason = $4
     WHERE tenant_id = $1 AND job_id = $2 AND state = 'RUNNING'`,
    [tx.tenantId, jobId, state, reason],
  );
  if (!rowCount) return null;
  const { rows } = await tx.query<CommandChange>(
    `UPDATE device_commands SET state = 'CANCELED', finished_at = clock_timestamp(), error = $3
     WHERE tenant_id = $1 AND job_id = $2 AND state IN ('QUEUED', 'SENT')
     RETURNING tenant_id, device_id, command_id, state, job_id`,
    [tx.tenantId, jobId, `job ${state.toLowerCase()}`],
  );
  await tx.query(
    `UPDATE job_executions e SET state = 'CANCELED', finished_at = clock_timestamp()
     WHERE e.tenant_id = $1 AND e.job_id = $2 AND (e.state = 'PENDING' OR (e.state = 'IN_PROGRESS'
       AND (e.config_version IS NOT NULL OR e.command_id = ANY ($3::uuid[]))))`,
    [tx.tenantId, jobId, rows.map((row) => row.command_id)],
  );
  return rows;
}

/** Puts a job's failed and timed-out executions back to PENDING, and the job back to RUNNING. */
export async function retryFailed(tx: TenantScope, jobId: string): Promise<number> {
  const { rowCount } = await tx.query(
    `UPDATE job_executions SET state = 'PENDING', command_id = NULL, config_version = NULL, started_at = NULL,
       finished_at = NULL, error = NULL
     WHERE tenant_id = $1 AND job_id = $2 AND state IN ('FAILED', 'TIMED_OUT')`,
    [tx.tenantId, jobId],
  );
  if (rowCount)
    await tx.query(
      `UPDATE jobs SET state = 'RUNNING', finished_at = NULL, reason = NULL, started_at = clock_timestamp()
       WHERE tenant_id = $1 AND job_id = $2`,
      [tx.tenantId, jobId],
    );
  return rowCount ?? 0;
}

// --- The runner's side -----------------------------------------------------------------------------

/** Jobs to move on: running ones, and stopped ones whose delivered commands may still answer. */
export async function jobsToTick(tx: ServiceTx): Promise<{ job_id: string; tenant_id: string }[]> {
  const { rows } = await tx.query<{ job_id: string; tenant_id: string }>(
    `SELECT job_id, tenant_id FROM jobs WHERE state = 'RUNNING'
     UNION SELECT DISTINCT job_id, tenant_id FROM job_executions WHERE state = 'IN_PROGRESS'`,
  );
  return rows;
}

/** Locks a job for this tick; null when another instance holds it (it is ticking it now). */
export async function lockJob(tx: ServiceTx, jobId: string): Promise<(Job & { now: Date }) | null> {
  const { rows } = await tx.query<Job & { now: Date }>(
    `SELECT ${COLUMNS}, ${COUNTS}, clock_timestamp() AS now FROM jobs j WHERE j.job_id = $1 FOR UPDATE SKIP LOCKED`,
    [jobId],
  );
  return rows[0] ?? null;
}

/** Executions whose command or configuration came to an end take its outcome. */
export async function settleExecutions(tx: ServiceTx, job: Job): Promise<void> {
  await tx.query(
    `UPDATE job_executions e
     SET state = CASE c.state WHEN 'EXPIRED' THEN 'TIMED_OUT' ELSE c.state END, finished_at = c.finished_at, error = c.error
     FROM device_commands c
     WHERE e.job_id = $1 AND e.state = 'IN_PROGRESS' AND c.command_id = e.command_id
       AND c.state IN ('SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELED')`,
    [job.job_id],
  );
  if (job.kind !== 'config') return;
  await tx.query(
    `UPDATE job_executions e SET state = 'SUCCEEDED', finished_at = c.reported_at
     FROM device_control c
     WHERE e.job_id = $1 AND e.state = 'IN_PROGRESS' AND c.tenant_id = e.tenant_id AND c.device_id = e.device_id
       AND c.reported_version >= e.config_version`,
    [job.job_id],
  );
  await tx.query(
    `UPDATE job_executions SET state = 'TIMED_OUT', finished_at = clock_timestamp(),
       error = 'the device did not report the configuration in time'
     WHERE job_id = $1 AND state = 'IN_PROGRESS' AND started_at < clock_timestamp() - make_interval(secs => $2)`,
    [job.job_id, job.timeout_seconds],
  );
}

export async function executionCounts(
  tx: ServiceTx,
  jobId: string,
): Promise<{ counts: ExecutionCounts; startedInWindow: number }> {
  const { rows } = await tx.query<{ state: ExecutionState; n: number; recent: number }>(
    `SELECT state, count(*)::int AS n, count(*) FILTER (WHERE started_at > clock_timestamp() - interval '60 seconds')::int AS recent
     FROM job_executions WHERE job_id = $1 GROUP BY state`,
    [jobId],
  );
  const counts: ExecutionCounts = { PENDING: 0, IN_PROGRESS: 0, SUCCEEDED: 0, FAILED: 0, TIMED_OUT: 0, CANCELED: 0 };
  let startedInWindow = 0;
  for (const row of rows) {
    counts[row.state] = row.n;
    startedInWindow += row.recent;
  }
  return { counts, startedInWindow };
}

/**
 * Starts the next `count` executions (in selection order): a command each (kind command or firmware), or a
 * configuration patch each (kind config). A device revoked since the job was made fails at once.
 * Returns the devices that got something to send.
 */
export async function startExecutions(tx: ServiceTx, job: Job, count: number): Promise<DeviceKey[]> {
  if (count <= 0) return [];
  const { rows: next } = await tx.query<{ device_id: string; active: boolean }>(
    `SELECT e.device_id, COALESCE(r.status = 'ACTIVE', false) AS active
     FROM job_executions e LEFT JOIN device_registry r ON r.tenant_id = e.tenant_id AND r.device_id = e.device_id
     WHERE e.job_id = $1 AND e.state = 'PENDING' ORDER BY e.seq LIMIT $2`,
    [job.job_id, count],
  );
  const gone = next.filter((row) => !row.active).map((row) => row.device_id);
  const devices = next.filter((row) => row.active).map((row) => row.device_id);
  if (gone.length > 0)
    await tx.query(
      `UPDATE job_executions SET state = 'FAILED', started_at = clock_timestamp(), finished_at = clock_timestamp(),
         error = 'the device is no longer active' WHERE job_id = $1 AND device_id = ANY ($2::text[])`,
      [job.job_id, gone],
    );
  if (devices.length === 0) return [];
  if (job.kind === 'config') {
    const patch = job.params as Record<string, unknown>;
    const versions = await setDesired(
      narrow(tx, job.tenant_id),
      devices,
      (current) => mergePatch(current, patch),
      `job ${job.name}`,
    );
    await tx.query(
      `UPDATE job_executions e SET state = 'IN_PROGRESS', started_at = clock_timestamp(), config_version = v.version
       FROM unnest($2::text[], $3::int[]) AS v(device_id, version)
       WHERE e.job_id = $1 AND e.device_id = v.device_id`,
      [job.job_id, [...versions.keys()], [...versions.values()]],
    );
  } else {
    await tx.query(
      `WITH created AS (
         INSERT INTO device_commands (tenant_id, device_id, name, params, expires_at, created_by, job_id)
         SELECT $1, d.device_id, $3, $4, clock_timestamp() + make_interval(secs => $5), $6, $7
         FROM unnest($2::text[]) AS d(device_id)
         RETURNING device_id, command_id)
       UPDATE job_executions e SET state = 'IN_PROGRESS', started_at = clock_timestamp(), command_id = c.command_id
       FROM created c WHERE e.job_id = $7 AND e.device_id = c.device_id`,
      [
        job.tenant_id,
        devices,
        job.command_name,
        JSON.stringify(job.params),
        job.timeout_seconds,
        `job ${job.name}`,
        job.job_id,
      ],
    );
  }
  return devices.map((device_id) => ({ tenant_id: job.tenant_id, device_id }));
}

export async function completeJob(tx: ServiceTx, jobId: string): Promise<void> {
  await tx.query(
    `UPDATE jobs SET state = 'COMPLETED', finished_at = clock_timestamp() WHERE job_id = $1 AND state = 'RUNNING'`,
    [jobId],
  );
}
