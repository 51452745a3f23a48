// The rollup worker, beside ingest (ADR 024): every ROLLUP_INTERVAL_SECONDS it folds what was stored since
// the watermark into the 1-minute and 1-hour rollups, a slice of at most ROLLUP_SLICE_SECONDS of ingest
// per transaction, until it reaches the horizon (ROLLUP_LAG_SECONDS ago, and never past a write still in
// flight). Any number of ingest instances run it: the watermark's row lock lets one at a time work.
import { Gauge } from 'prom-client';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Database } from '../db/database.js';
import { rollUpSlice, rollupHorizon, rollupState } from '../model/rollups.js';

export interface RollupWorkerOptions {
  intervalSeconds: number;
  lagSeconds: number;
  sliceSeconds: number;
}

export function startRollups(db: Database, log: Logger, metrics: Registry, options: RollupWorkerOptions) {
  const counters = { messages_rolled_up: 0, slices: 0, failures: 0 };
  let watermark: Date | null = null;
  let running: Promise<void> | undefined;
  let stopped = false;

  new Gauge({
    name: 'pulse_rollup_lag_seconds',
    help: 'How far the telemetry rollups are behind what ingest stored (seconds since the watermark)',
    registers: [metrics],
    collect() {
      if (watermark) this.set((Date.now() - watermark.getTime()) / 1000);
    },
  });

  async function catchUp(): Promise<void> {
    for (;;) {
      if (stopped) return;
      const horizon = await db.withService((tx) => rollupHorizon(tx, options.lagSeconds));
      const slice = await db.withService((tx) => rollUpSlice(tx, horizon, options.sliceSeconds));
      if (!slice) return; // another instance holds the watermark
      watermark = slice.through;
      counters.messages_rolled_up += slice.messages;
      counters.slices += 1;
      if (slice.caughtUp) return;
    }
  }

  const run = () => {
    if (running || stopped) return;
    running = catchUp()
      .catch((error: unknown) => {
        counters.failures += 1;
        log.warn({ err: error }, 'could not roll up telemetry; trying again shortly');
      })
      .finally(() => (running = undefined));
  };
  const timer = setInterval(run, options.intervalSeconds * 1000);
  timer.unref();
  void db
    .withService(rollupState)
    .then((state) => (watermark ??= state.ingested_through))
    .catch(() => undefined);

  return {
    health: () => ({
      ...counters,
      watermark: watermark?.toISOString() ?? null,
      lag_seconds: watermark ? Math.round((Date.now() - watermark.getTime()) / 1000) : null,
    }),
    /** Rolls up what is there now and resolves when caught up (tests, benchmarks, shutdown). */
    async flush(): Promise<void> {
      await running;
      run();
      await running;
    },
    async stop(): Promise<void> {
      clearInterval(timer);
      await running;
      stopped = true;
    },
  };
}
