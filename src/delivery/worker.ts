// The delivery role: claims due jobs (FOR UPDATE SKIP LOCKED, so any number of workers never share one),
// sends up to WORKER_CONCURRENCY at once with at most WORKER_TENANT_CONCURRENCY per tenant, records every
// attempt, and retries with exponential backoff and jitter until WORKER_MAX_ATTEMPTS, then FAILED. Jobs a
// dead worker left PROCESSING are queued again after STUCK_JOB_MINUTES.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { RoleDeps, RunningRole } from '../roles.js';
import { backoffDelay, retryWithBackoff } from '../lib/retry.js';
import { send, sendContext } from '../channels/index.js';
import { deliveryFields, type AlertPayload } from '../channels/payload.js';
import {
  claimJobs,
  dueTenants,
  finishAttempt,
  jobCounts,
  requeueStuckJobs,
  type ClaimedJob,
} from '../model/deliveries.js';
import { recordAttemptHealth, type HealthUpdate } from '../model/integration-health.js';
import { toTarget } from '../model/integrations.js';

const STOP_GRACE_MS = 8000;
const STUCK_CHECK_EVERY_MS = 30_000;

// One closure on purpose, though long: pump, launch and deliver share the worker's running state (slots per
// tenant, tasks in flight, retry timers, counters); what needs none of it is in the functions below.
export function start(deps: RoleDeps): RunningRole {
  const { db, config, log } = deps;
  const ctx = sendContext(deps.config, deps.serviceMqttUrl);
  const counters = { jobs_processed: 0, jobs_succeeded: 0, jobs_failed: 0, retries_scheduled: 0 };
  const perTenant = new Map<string, number>();
  const running = new Set<Promise<void>>();
  const retryTimers = new Set<NodeJS.Timeout>();
  let lastDeliveryAt: Date | null = null;
  let lastStuckCheck = 0;
  let pumping = false;
  let again = false;
  let stopped = false;

  const { attempts, latency } = deliveryMetrics(deps, counters, running);

  async function deliver(job: ClaimedJob): Promise<void> {
    const startedAt = new Date();
    const started = performance.now();
    let channel = 'unknown';
    let result: AttemptRecord['result'];
    try {
      const row = job.integration;
      if (!row.enabled) result = { ok: false, error: 'integration_disabled' };
      else {
        channel = row.type;
        result = await send(toTarget(row, deps.secrets), deliveryFields(job.payload_json as AlertPayload, job), ctx);
      }
    } catch (error) {
      result = { ok: false, error: (error as Error).message };
    }
    const seconds = (performance.now() - started) / 1000;
    latency.observe({ channel }, seconds);
    attempts.inc({ channel, outcome: result.ok ? 'ok' : 'failed' });
    const attemptNo = job.attempts + 1;
    const retryInSeconds =
      result.ok || attemptNo >= config.WORKER_MAX_ATTEMPTS
        ? undefined
        : retrySeconds(attemptNo, config.WORKER_BACKOFF_BASE_SECONDS, config.WORKER_BACKOFF_MAX_SECONDS);
    const health = await recordAttempt(deps, job, { result, startedAt, seconds, retryInSeconds }, () => stopped);
    if (health) announceHealth(deps, job, health, result.error);
    counters.jobs_processed += 1;
    lastDeliveryAt = new Date();
    if (result.ok) counters.jobs_succeeded += 1;
    else if (retryInSeconds === undefined) counters.jobs_failed += 1;
    else {
      counters.retries_scheduled += 1;
      // Wake up when the retry is due rather than at the next poll after it.
      const timer = setTimeout(
        () => {
          retryTimers.delete(timer);
          void pump();
        },
        retryInSeconds * 1000 + 20,
      );
      retryTimers.add(timer);
    }
    if (!result.ok) log.debug({ job_id: job.job_id, attempt: attemptNo, error: result.error }, 'delivery failed');
  }

  function launch(job: ClaimedJob): void {
    perTenant.set(job.tenant_id, (perTenant.get(job.tenant_id) ?? 0) + 1);
    const task = deliver(job)
      .catch((error: unknown) => log.error({ err: error, job_id: job.job_id }, 'delivery bookkeeping failed'))
      .finally(() => {
        const left = (perTenant.get(job.tenant_id) ?? 1) - 1;
        if (left === 0) perTenant.delete(job.tenant_id);
        else perTenant.set(job.tenant_id, left);
        running.delete(task);
        void pump();
      });
    running.add(task);
  }

  /** Claims what fits in the free slots, tenants taking turns. One pump at a time; a call during one repeats it. */
  async function pump(): Promise<void> {
    if (stopped) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        if (Date.now() - lastStuckCheck > STUCK_CHECK_EVERY_MS) {
          lastStuckCheck = Date.now();
          const requeued = await db.withService((tx) => requeueStuckJobs(tx, config.STUCK_JOB_MINUTES * 60));
          if (requeued > 0) log.warn({ jobs: requeued }, 'requeued deliveries a stopped worker left unfinished');
        }
        let free = config.WORKER_CONCURRENCY - running.size;
        if (free <= 0) break;
        const tenants = await db.withService((tx) => dueTenants(tx, 100));
        for (const tenant of tenants) {
          const slots = Math.min(free, config.WORKER_TENANT_CONCURRENCY - (perTenant.get(tenant) ?? 0));
          if (slots <= 0) continue;
          const jobs = await db.withService((tx) => claimJobs(tx, tenant, slots));
          for (const job of jobs) launch(job);
          free -= jobs.length;
          if (free <= 0) break;
        }
      } while (again && !stopped);
    } catch (error) {
      log.warn({ err: error }, 'could not claim deliveries; trying again at the next poll');
    } finally {
      pumping = false;
    }
  }

  const poll = setInterval(() => void pump(), config.WORKER_POLL_SECONDS * 1000);
  poll.unref();
  const unsubscribe = deps.bus.subscribe('delivery.queued', () => pump());
  void pump();

  return {
    name: 'delivery',
    async health() {
      const jobs = await db.withService((tx) => jobCounts(tx));
      return {
        status: 'ok',
        service: 'delivery',
        counters: { ...counters, in_flight: running.size, jobs_pending: jobs.pending },
        jobs,
        last_delivery_at: lastDeliveryAt?.toISOString() ?? null,
      };
    },
    async stop() {
      stopped = true;
      clearInterval(poll);
      for (const timer of retryTimers) clearTimeout(timer);
      unsubscribe();
      // Deliveries under way finish (and are recorded); one that does not is requeued as stuck later.
      await Promise.race([
        Promise.allSettled([...running]),
        new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS)),
      ]);
    },
  };
}

interface AttemptRecord {
  result: { ok: boolean; http_status?: number | undefined; error?: string | undefined };
  startedAt: Date;
  seconds: number;
  retryInSeconds: number | undefined;
}

/**
 * Records an attempt, and the integration's health after it, in one transaction — retried while the database
 * is briefly away, until the worker stops. Returns the health update when the integration was tried.
 */
function recordAttempt(
  { db, config, log }: RoleDeps,
  job: ClaimedJob,
  { result, startedAt, seconds, retryInSeconds }: AttemptRecord,
  stopped: () => boolean,
): Promise<HealthUpdate | undefined> {
  return retryWithBackoff(
    () =>
      db.withService(async (tx) => {
        await finishAttempt(tx, {
          job,
          ok: result.ok,
          httpStatus: result.http_status,
          error: result.error,
          startedAt,
          latencyMs: Math.round(seconds * 1000),
          retryInSeconds,
        });
        // A disabled integration was not tried: its health stays as it was.
        if (!job.integration.enabled) return undefined;
        const jobFailed = !result.ok && retryInSeconds === undefined;
        return recordAttemptHealth(
          tx,
          job.integration,
          { ok: result.ok, jobFailed, error: result.error },
          config.INTEGRATION_FAILING_AFTER,
        );
      }),
    {
      initial: 200,
      max: 5000,
      beforeRetry: (error) => {
        if (stopped()) throw error;
        log.warn({ err: error, job_id: job.job_id }, 'could not record a delivery attempt; retrying');
      },
    },
  );
}

/**
 * Tells of a change of the integration's health once: only the worker whose attempt changed it gets a
 * change (decided under the health row's lock). Its alert goes out once committed, like the evaluator's.
 */
function announceHealth(
  { log, bus }: RoleDeps,
  job: ClaimedJob,
  { change, health, alertEvent }: HealthUpdate,
  error: string | undefined,
): void {
  const { tenant_id, integration_id, name, type } = job.integration;
  const subject = { tenant_id, integration_id, integration_name: name, integration_type: type };
  if (change === 'failing') {
    log.warn(
      { ...subject, consecutive_failures: health.consecutive_failures, error },
      'integration failing: its notifications are not getting through',
    );
  } else if (change === 'recovered') {
    log.info(subject, 'integration recovered: its notifications get through again');
  }
  if (alertEvent) bus.publish('alert.changed', alertEvent);
}

/** The worker's Prometheus metrics: attempts and their time by channel, jobs by status and outcome, what is in flight. */
function deliveryMetrics(
  { db, metrics }: RoleDeps,
  counters: { jobs_succeeded: number; jobs_failed: number; retries_scheduled: number },
  running: Set<Promise<void>>,
) {
  const attempts = new Counter({
    name: 'pulse_delivery_attempts_total',
    help: 'Delivery attempts by channel and outcome',
    labelNames: ['channel', 'outcome'] as const,
    registers: [metrics],
  });
  const latency = new Histogram({
    name: 'pulse_delivery_latency_seconds',
    help: 'Time of one delivery attempt, by channel',
    labelNames: ['channel'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [metrics],
  });
  new Gauge({
    name: 'pulse_delivery_jobs',
    help: 'Delivery jobs waiting (pending) and being sent (processing), across workers',
    labelNames: ['status'] as const,
    registers: [metrics],
    async collect() {
      const jobs = await db.withService((tx) => jobCounts(tx));
      this.set({ status: 'pending' }, jobs.pending);
      this.set({ status: 'processing' }, jobs.processing);
    },
  });
  new Counter({
    name: 'pulse_delivery_jobs_finished_total',
    help: 'Delivery jobs finished by this worker: succeeded, failed for good, or scheduled for retry',
    labelNames: ['outcome'] as const,
    registers: [metrics],
    collect() {
      this.reset();
      this.inc({ outcome: 'succeeded' }, counters.jobs_succeeded);
      this.inc({ outcome: 'failed' }, counters.jobs_failed);
      this.inc({ outcome: 'retry' }, counters.retries_scheduled);
    },
  });
  new Gauge({
    name: 'pulse_delivery_in_flight',
    help: 'Deliveries being sent by this worker',
    registers: [metrics],
    collect() {
      this.set(running.size);
    },
  });
  return { attempts, latency };
}

/**
 * Seconds before a failed delivery's attempt + 1: the base doubled per attempt, capped, then ±20 % so that
 * jobs that failed together do not retry together; whole seconds, at least one.
 */
export function retrySeconds(attempt: number, baseSeconds: number, maxSeconds: number, random = Math.random): number {
  return Math.max(1, Math.round(backoffDelay(attempt, { initial: baseSeconds, max: maxSeconds, jitter: 0.2 }, random)));
}
