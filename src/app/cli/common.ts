// What every command group of the CLI needs: the configuration (or an exit that says what is wrong with
// it), a logger, the configured database for one command, and a clean stop on Ctrl-C.
import { InvalidArgumentError } from 'commander';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import { AppError } from '../../errors.js';
import type { Platform } from '../platform.js';

const SHUTDOWN_LIMIT_MS = 10_000;

/** The configuration, or an exit that says what is wrong with it. */
export async function loadConfigOrExit(): Promise<Config> {
  const { ConfigError, loadConfig } = await import('../../config.js');
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) console.error(`pulse: invalid configuration: ${problem}`);
      process.exit(2);
    }
    throw error;
  }
}

export const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number ≥ 0');
  return n;
};

/** The pid of the running Pulse that holds the embedded database, if one does. */
export async function embeddedDatabaseOwner(cfg: Config): Promise<number | undefined> {
  if (cfg.DATABASE_URL || cfg.PULSE_DATA_DIR.startsWith('memory://')) return undefined;
  const { dataDirOwner } = await import('../../lib/data-dir-lock.js');
  return dataDirOwner(cfg.PULSE_DATA_DIR);
}

/** Refuses a command that opens the database itself while a running Pulse holds the embedded one. */
export async function refuseWhileHeld(cfg: Config, remedy: string): Promise<void> {
  const owner = await embeddedDatabaseOwner(cfg);
  if (owner !== undefined) {
    throw new AppError(
      'CONFLICT',
      `Pulse (pid ${owner}) holds the embedded database in ${cfg.PULSE_DATA_DIR}: ${remedy}`,
    );
  }
}

/** Opens the configured database (migrating it first when needed) for one command. */
export async function withDatabase<T>(cfg: Config, fn: (db: Database) => Promise<T>): Promise<T> {
  const { connect } = await import('../../db/connection.js');
  const { migrate, pendingMigrations } = await import('../../db/migrate.js');
  const { createDatabase } = await import('../../db/database.js');
  const connection = await connect({ databaseUrl: cfg.DATABASE_URL, dataDir: cfg.PULSE_DATA_DIR });
  try {
    if ((await pendingMigrations(connection)).length > 0) await migrate(connection);
    return await fn(createDatabase(connection));
  } finally {
    await connection.close();
  }
}

export async function createLogger(cfg: Config): Promise<Logger> {
  return (await import('../log.js')).createLogger(cfg.LOG_LEVEL);
}

export async function startOrExit(log: Logger, start: () => Promise<Platform>): Promise<Platform> {
  try {
    return await start();
  } catch (error) {
    log.fatal({ err: error }, `pulse could not start: ${(error as Error).message}`);
    log.flush?.();
    process.exit(1);
  }
}

/**
 * Stops cleanly on SIGINT/SIGTERM; if stopping takes longer than 10 s, exits anyway. Installed before
 * anything starts, so a signal during startup is not lost: the stop runs as soon as it is known.
 */
export function handleStopSignals(log: Logger) {
  let stop: (() => Promise<void>) | undefined;
  let signalled = false;
  const runStop = () => {
    const deadline = setTimeout(() => {
      log.error('stopping took longer than 10 s; exiting');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    deadline.unref();
    stop!().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    log.info(`${signal} received; stopping`);
    if (stop) runStop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    /** What stopping means, once everything has started. */
    setStop(fn: () => Promise<void>) {
      stop = fn;
      if (signalled) runStop();
    },
  };
}
