// Hourly housekeeping: daily telemetry partitions created ahead and dropped past retention, expired rows
// pruned by the modules that own them, new telemetry pages summarised for the ingested_at BRIN index, and —
// on PGlite, which has no autovacuum — fresh planner statistics. Safe to run in several instances at once:
// the SQL functions take the locks they need.
import type { Logger } from 'pino';
import type { Database } from './database.js';

export interface MaintenanceOptions {
  daysAhead: number;
  /** 0 keeps everything. */
  retentionDays: number;
  /** Refresh planner statistics of every table (needed where nothing else does it: PGlite). */
  analyze: boolean;
  /** Deletes of expired rows, each kept beside its table's other SQL; each returns how many went. */
  prune?: ((db: Database) => Promise<number>)[];
  intervalMs?: number;
}

/** Tables whose row counts change enough to matter for plans. */
const GROWING_TABLES = [
  'tenants',
  'device_registry',
  'device_tags',
  'device_attribute_values',
  'device_activation',
  'device_token_history',
  'device_state',
  'fleet_alert',
  'alert_events',
  'delivery_jobs',
  'delivery_attempts',
  'quarantine_events',
  'telemetry',
];

export async function runMaintenance(db: Database, options: MaintenanceOptions) {
  const partitions = await db.withService(async (tx) => {
    const created = await tx.query<{ n: number }>('SELECT telemetry_ensure_partitions($1) AS n', [options.daysAhead]);
    const dropped =
      options.retentionDays > 0
        ? await tx.query<{ n: number }>('SELECT telemetry_drop_partitions_older_than($1) AS n', [options.retentionDays])
        : { rows: [{ n: 0 }] };
    // What was written since is summarised for the ingested_at BRIN index (rollups and late-row reads).
    await tx.query('SELECT telemetry_summarize_ingested()');
    return { created: created.rows[0]?.n ?? 0, dropped: dropped.rows[0]?.n ?? 0 };
  });
  let pruned = 0;
  for (const prune of options.prune ?? []) pruned += await prune(db);
  if (options.analyze) await db.withService((tx) => tx.query('SELECT pulse_analyze($1::text[])', [GROWING_TABLES]));
  return { ...partitions, pruned };
}

export function startMaintenance(db: Database, log: Logger, options: MaintenanceOptions) {
  const run = () =>
    runMaintenance(db, options).then(
      (result) => {
        if (result.created || result.dropped || result.pruned) log.info(result, 'database maintained');
      },
      (error: unknown) => log.error({ err: error }, 'database maintenance failed; retrying next hour'),
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
