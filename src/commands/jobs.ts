// The fleet job runner, part of the command sender (ADR 027): at each sweep, and soon after a job's
// command is answered, every running job is moved on in its own transaction — settle what ended, abort on
// too many failures, start what the pace allows, complete when nothing is left. The job's row is locked
// (SKIP LOCKED), so instances never tick the same job at once; what is started is in the database
// before the bus hears of it.
import type { Logger } from 'pino';
import type { Bus } from '../bus/index.js';
import { narrow, type Database } from '../db/database.js';
import * as jobs from '../model/jobs.js';
import { nextStep } from '../model/rollout.js';

const NUDGE_DELAY_MS = 100;

export function createJobRunner({ db, bus, log }: { db: Database; bus: Bus; log: Logger }) {
  const counters = { job_executions_started: 0, jobs_completed: 0, jobs_aborted: 0 };
  let ticking: Promise<void> | undefined;
  let again = false;
  let nudgeTimer: NodeJS.Timeout | undefined;

  async function tickJob(jobId: string): Promise<void> {
    const queued = await db.withService(async (tx) => {
      const job = await jobs.lockJob(tx, jobId);
      if (!job) return { devices: [], canceled: [], config: false };
      await jobs.settleExecutions(tx, job);
      if (job.state !== 'RUNNING') return { devices: [], canceled: [], config: false };
      const { counts, startedInWindow } = await jobs.executionCounts(tx, jobId);
      const step = nextStep(job, counts, startedInWindow, job.now);
      if (step.action === 'abort') {
        counters.jobs_aborted += 1;
        const canceled = (await jobs.stopJob(narrow(tx, job.tenant_id), jobId, 'ABORTED', step.reason)) ?? [];
        return { devices: [], canceled, config: false };
      }
      if (step.action === 'complete') {
        counters.jobs_completed += 1;
        await jobs.completeJob(tx, jobId);
        return { devices: [], canceled: [], config: false };
      }
      const devices = await jobs.startExecutions(tx, job, step.count);
      counters.job_executions_started += devices.length;
      return { devices, canceled: [], config: job.kind === 'config' };
    });
    if (queued.canceled.length > 0) bus.publish('commands.changed', queued.canceled);
    if (queued.devices.length > 0) bus.publish(queued.config ? 'config.changed' : 'commands.queued', queued.devices);
  }

  async function tickAll(): Promise<void> {
    for (const { job_id } of await db.withService((tx) => jobs.jobsToTick(tx))) {
      try {
        await tickJob(job_id);
      } catch (error) {
        log.warn({ err: error, job_id }, 'could not move a job on; trying again at the next tick');
      }
    }
  }

  /** Ticks every job; a tick asked for while one runs runs once more after it. */
  function tick(): Promise<void> {
    if (ticking) {
      again = true;
      return ticking;
    }
    ticking = tickAll().finally(() => {
      ticking = undefined;
      if (again) {
        again = false;
        void tick();
      }
    });
    return ticking;
  }

  return {
    counters,
    tick,
    /** A job's command changed: tick soon, gathering a burst of answers into one tick. */
    nudge(): void {
      nudgeTimer ??= setTimeout(() => {
        nudgeTimer = undefined;
        void tick().catch((error: unknown) => log.warn({ err: error }, 'job tick failed'));
      }, NUDGE_DELAY_MS);
    },
    async stop(): Promise<void> {
      clearTimeout(nudgeTimer);
      await ticking?.catch(() => undefined);
    },
  };
}
