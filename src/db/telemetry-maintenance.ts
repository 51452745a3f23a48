// Keeps daily telemetry partitions created ahead and drops those past retention, hourly. Safe to run in
// several instances at once: the SQL functions take the locks they need.
import type { Logger } from 'pino';
import type { Database } from './database.js';

export interface TelemetryMaintenanceOptions {
  daysAhead: number;
  /** 0 keeps everything. */
  retentionDays: number;
  intervalMs?: number;
}

export async function maintainTelemetryPartitions(db: Database, options: TelemetryMaintenanceOptions) {
  return db.withService(async (tx) => {
    const created = await tx.query<{ n: number }>('SELECT telemetry_ensure_partitions($1) AS n', [options.daysAhead]);
    const dropped =
      options.retentionDays > 0
        ? await tx.query<{ n: number }>('SELECT telemetry_drop_partitions_older_than($1) AS n', [options.retentionDays])
        : { rows: [{ n: 0 }] };
    return { created: created.rows[0]?.n ?? 0, dropped: dropped.rows[0]?.n ?? 0 };
  });
}

export function startTelemetryMaintenance(db: Database, log: Logger, options: TelemetryMaintenanceOptions) {
  const run = () =>
    maintainTelemetryPartitions(db, options).then(
      (result) => {
        if (result.created || result.dropped) log.info(result, 'telemetry partitions maintained');
      },
      (error: unknown) => log.error({ err: error }, 'telemetry partition maintenance failed; retrying next hour'),
    );
  const initial = run();
  const timer = setInterval(run, options.intervalMs ?? 3_600_000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await initial;
    },
  };
}
