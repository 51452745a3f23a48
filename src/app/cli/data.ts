// The commands that open the configured database themselves, one at a time: `pulse migrate`, `pulse export`,
// `pulse rollup rebuild` and `pulse import original`.
import { Option, type Command } from 'commander';
import type { RebuildProgress } from '../../model/rollup-rebuild.js';
import { loadConfigOrExit, positiveInt, refuseWhileHeld, withDatabase } from './common.js';

// A registrar, like the API's route registrars: the group's commands one after another, as commander declares them.
export function addDataCommands(program: Command): void {
  program
    .command('migrate')
    .description('create or update the database schema (idempotent)')
    .action(async () => {
      const cfg = await loadConfigOrExit();
      const { connect } = await import('../../db/connection.js');
      const { migrate, pendingMigrations } = await import('../../db/migrate.js');
      const connection = await connect({ databaseUrl: cfg.DATABASE_URL, dataDir: cfg.PULSE_DATA_DIR });
      try {
        const { applied, alreadyApplied } = await migrate(connection);
        const remaining = await pendingMigrations(connection);
        console.log(
          applied.length === 0
            ? `database ${connection.location} is up to date (${alreadyApplied} migrations applied earlier)`
            : `applied ${applied.length} migration(s) to ${connection.location}: ${applied.map((m) => `${String(m.version).padStart(3, '0')}_${m.name}`).join(', ')}`,
        );
        if (remaining.length > 0) throw new Error(`${remaining.length} migration(s) still pending`);
      } finally {
        await connection.close();
      }
    });

  program
    .command('export')
    .description("write a tenant's telemetry over a window to a file: CSV (a column per metric) or NDJSON")
    .requiredOption('--tenant <tenant_id>')
    .option('--device <device_id>', 'one device (default: every device of the tenant)')
    .option('--start <instant>', 'ISO-8601, e.g. 2026-11-01T00:00:00Z (default: --hours before --end)')
    .option('--end <instant>', 'ISO-8601 (default: now)')
    .option('--hours <n>', 'the last hours, without --start', positiveInt, 24)
    .option('--metrics <names>', 'comma-separated: only these columns, and rows that carry one')
    .addOption(new Option('--format <format>').choices(['csv', 'ndjson']).default('csv'))
    .requiredOption('--out <file>', 'where to write it')
    .action(
      async (options: {
        tenant: string;
        device?: string;
        start?: string;
        end?: string;
        hours: number;
        metrics?: string;
        format: 'csv' | 'ndjson';
        out: string;
      }) => {
        const cfg = await loadConfigOrExit();
        await refuseWhileHeld(cfg, 'export from the web app or GET /api/v2/telemetry/export, or stop it first');
        const { timeWindow } = await import('../../api/time-window.js');
        const { exportToFile } = await import('../export-file.js');
        const { start, end } = timeWindow(options);
        const metrics = options.metrics
          ?.split(',')
          .map((m) => m.trim())
          .filter(Boolean);
        const rows = await withDatabase(cfg, (db) =>
          exportToFile(
            db,
            options.tenant,
            { deviceId: options.device, start, end, metrics },
            options.format,
            options.out,
          ),
        );
        console.log(
          `wrote ${rows} rows of ${options.tenant} (${start.toISOString()} … ${end.toISOString()}) to ${options.out}`,
        );
      },
    );

  program
    .command('rollup')
    .description('the 1-minute and 1-hour rollups charts and summaries are drawn from')
    .command('rebuild')
    .description('recompute the rollups from raw rows, a UTC day at a time from --since through today (resumable)')
    .requiredOption('--since <date>', 'the first day, e.g. 2026-11-01 (run again with the same date to resume)')
    .option('--restart', 'start again at --since even if an earlier run got further')
    .action(async (options: { since: string; restart?: boolean }) => {
      const cfg = await loadConfigOrExit();
      await refuseWhileHeld(cfg, 'stop it, then rebuild');
      const { rebuildRollups } = await import('../../model/rollup-rebuild.js');
      const tty = process.stderr.isTTY;
      const result = await withDatabase(cfg, (db) =>
        rebuildRollups(db, options.since, {
          restart: options.restart ?? false,
          onProgress: (progress) =>
            process.stderr.write(tty ? `\r${rebuildProgressLine(progress)}` : `${rebuildProgressLine(progress)}\n`),
        }),
      );
      if (tty) process.stderr.write('\n');
      console.log(
        `rebuilt ${result.days} day(s) from ${options.since}${result.skipped ? ` (${result.skipped} done before, resumed)` : ''}: ${result.messages} messages rolled up`,
      );
    });

  program
    .command('import')
    .description('bring a deployment of another product over')
    .command('original')
    .description(
      'import an OpsConductor-Pulse database: tenants, devices with their tokens, rules, integrations, routes, device state, open alerts and, with --telemetry-since, telemetry (docs/moving-from-opsconductor-pulse.md); run again to resume, a second run changes nothing',
    )
    .requiredOption('--from <postgres-url>', "the original's database, e.g. postgres://iot:iot_dev@db:5432/iotcloud")
    .option('--dry-run', 'print what would be imported and every row that would be refused, and change nothing')
    .option(
      '--telemetry-since <date>',
      'also the telemetry from this date (UTC) or instant on, then the rollups over it',
    )
    .option('--batch-size <rows>', 'telemetry rows per transaction', positiveInt, 5000)
    .action(async (options: { from: string; dryRun?: boolean; telemetrySince?: string; batchSize: number }) => {
      const cfg = await loadConfigOrExit();
      await refuseWhileHeld(cfg, 'stop it, then import');
      const { importOriginal, progressLine, reportLines } = await import('../../import/original.js');
      const { resolveSecretsKey } = await import('../data-dir.js');
      const { createSecretBox } = await import('../../lib/secrets.js');
      const { Allowlist } = await import('../../lib/ssrf.js');
      const tty = process.stderr.isTTY;
      const report = await withDatabase(cfg, (db) =>
        importOriginal(db, {
          from: options.from,
          dryRun: options.dryRun ?? false,
          telemetrySince: options.telemetrySince,
          batchSize: Math.max(1, options.batchSize),
          destinations: { allowlist: new Allowlist(cfg.SSRF_ALLOWLIST), requireHttps: cfg.MODE === 'PROD' },
          secrets: createSecretBox(resolveSecretsKey(cfg)),
          onProgress: (progress) =>
            process.stderr.write(tty ? `\r${progressLine(progress)}` : `${progressLine(progress)}\n`),
          onRollups: (day) =>
            process.stderr.write(
              `${tty ? '\n' : ''}rebuilding the rollups from ${day} (if interrupted: pulse rollup rebuild --since ${day})\n`,
            ),
        }),
      );
      for (const line of reportLines(report)) console.log(line);
    });
}

/**
 * A one-line progress bar for a terminal, with the day's own rate:
 * "[#####-----]  12/30 days  2026-11-12  1,234 messages  (45,678 msg/s)".
 */
export function rebuildProgressLine(
  { day, done, days, messages, dayMessages, daySeconds }: RebuildProgress,
  width = 30,
): string {
  const filled = Math.round((done / Math.max(days, 1)) * width);
  const rate = Math.round(dayMessages / Math.max(daySeconds, 0.001)).toLocaleString('en');
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(done).padStart(String(days).length)}/${days} days  ${day}  ${messages.toLocaleString('en')} messages  (${rate} msg/s)`;
}
