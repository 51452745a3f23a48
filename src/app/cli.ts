// `pulse` — the one program. Parses arguments and configuration, then wires roles to adapters through
// startPlatform(); it holds no logic of its own beyond printing.
//
// Only what every command needs is imported up front; each command imports the rest when it runs, so
// `pulse --help` and the short commands do not pay for the whole server (`npm run bench:cli`).
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Logger } from 'pino';
import type { CommandName, CommandOutput } from './commands.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { AppError } from '../errors.js';
import { createUsers, type NewUser } from '../identity/users.js';
import type { Platform } from './platform.js';
import { missingInputs, ROLE_NAMES, type RoleName } from '../roles.js';
import type { RunningSimulator, SimulatorOptions } from '../simulator/index.js';
import { ROLES, type Role } from '../model/users.js';
import { PASSWORD_RULES } from '../identity/passwords.js';
import { isLoopbackHost } from '../lib/listen.js';
import { textTable } from '../lib/text-table.js';

const SHUTDOWN_LIMIT_MS = 10_000;
const DEMO_TENANTS = [
  { tenantId: 'tenant-a', sites: ['warehouse-east', 'warehouse-west', 'cold-storage-1'] },
  { tenantId: 'tenant-b', sites: ['factory-floor', 'loading-dock', 'office-hvac'] },
];

/** The configuration, or an exit that says what is wrong with it. */
async function loadConfigOrExit(): Promise<Config> {
  const { ConfigError, loadConfig } = await import('../config.js');
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

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number ≥ 0');
  return n;
};

const program = new Command('pulse')
  .description(
    'Pulse — self-hostable IoT fleet platform. Configuration comes from environment variables (docs/configuration.md).',
  )
  .showHelpAfterError();

program
  .command('up')
  .description(
    'run everything in one process on embedded defaults (PGlite, embedded MQTT broker) unless DATABASE_URL / MQTT_URL are set',
  )
  .option('--simulate <devices>', 'also run the device simulator with this many devices', positiveInt, 0)
  .action(async (options: { simulate: number }) => {
    const cfg = await loadConfigOrExit();
    const log = await createLogger(cfg);
    const signals = handleStopSignals(log);
    const { startPlatform } = await import('./platform.js');
    const { removeRuntimeInfo, writeRuntimeInfo } = await import('./data-dir.js');
    const { DEMO_HOST, DEMO_PASSWORD, demoUsersWanted, seedDemoRules, seedDemoUsers } = await import('./demo.js');
    const { startSimulator } = await import('../simulator/index.js');
    const platform = await startOrExit(log, () =>
      startPlatform({
        config: cfg,
        roles: ROLE_NAMES,
        log,
        migrate: true,
        embeddedBroker: true,
        defaultHost: DEMO_HOST,
      }),
    );
    const demoLogins = demoUsersWanted(cfg)
      ? await seedDemoUsers(
          createUsers(platform.db),
          DEMO_TENANTS.map((tenant) => tenant.tenantId),
        ).catch((error: unknown) => {
          log.warn({ err: error }, 'could not add the demo users');
          return [];
        })
      : [];
    let simulator: RunningSimulator | undefined;
    if (options.simulate > 0) {
      simulator = await startSimulator({
        ...simulatorDefaults,
        apiUrl: `http://127.0.0.1:${platform.httpPort}`,
        adminKey: platform.adminKey,
        transport: 'mqtt',
        mqttUrl: platform.mqttUrl,
        deviceCount: options.simulate,
        tenants: DEMO_TENANTS,
      }).catch((error: unknown) => {
        log.error({ err: error }, 'the simulator could not start; Pulse keeps running without it');
        return undefined;
      });
      if (simulator) {
        await seedDemoRules(
          platform.db,
          DEMO_TENANTS.map((tenant) => tenant.tenantId),
        ).catch((error: unknown) => log.warn({ err: error }, 'could not add the demo alert rules'));
      }
    }
    const statusLine = simulator ? await showSimulatorStatus(simulator) : undefined;
    writeRuntimeInfo(cfg.PULSE_DATA_DIR, {
      httpUrl: `http://127.0.0.1:${platform.httpPort}`,
      mqttUrl: platform.mqttUrl,
    });
    signals.setStop(async () => {
      statusLine?.stop();
      await simulator?.stop();
      await platform.stop();
      removeRuntimeInfo(cfg.PULSE_DATA_DIR);
    });
    printBanner(platform, simulator, demoLogins, DEMO_PASSWORD);
  });

program
  .command('run')
  .description(`run chosen roles against the configured database and broker (roles: ${ROLE_NAMES.join(', ')})`)
  .argument('<roles...>', 'roles to run in this process')
  .action(async (roles: string[]) => {
    const unknown = roles.filter((role) => !(ROLE_NAMES as readonly string[]).includes(role));
    if (unknown.length > 0) {
      console.error(`pulse: unknown role ${unknown.join(', ')} (available: ${ROLE_NAMES.join(', ')})`);
      process.exit(2);
    }
    const cfg = await loadConfigOrExit();
    const unheard = cfg.NATS_URL ? undefined : missingInputs(roles as RoleName[]);
    if (unheard) {
      console.error(`pulse: ${unheard}`);
      process.exit(2);
    }
    const log = await createLogger(cfg);
    const signals = handleStopSignals(log);
    const { startPlatform } = await import('./platform.js');
    const platform = await startOrExit(log, () =>
      startPlatform({
        config: cfg,
        roles: [...new Set(roles)] as RoleName[],
        log,
        migrate: false,
        embeddedBroker: false,
      }),
    );
    signals.setStop(() => platform.stop());
    log.info({ roles, url: platform.httpUrl, database: platform.engine }, 'pulse is running');
  });

program
  .command('ingest')
  .description('ingest instances on an external broker')
  .command('drain')
  .description(
    'remove an ingest instance for good (run it after stopping the instance): its broker session leaves the shared group, what the session still holds is stored, then the session ends',
  )
  .option('--client-id <id>', "the instance's MQTT_CLIENT_ID (default: MQTT_CLIENT_ID, else pulse-ingest-<hostname>)")
  .option('--quiet-seconds <s>', 'done once no message came for this long', positiveInt, 2)
  .action(async (options: { clientId?: string; quietSeconds: number }) => {
    const cfg = await loadConfigOrExit();
    if (!cfg.MQTT_URL) {
      console.error('pulse: ingest drain works on an external broker: set MQTT_URL');
      process.exit(2);
    }
    const log = await createLogger(cfg);
    if (!cfg.NATS_URL)
      log.warn('NATS_URL is unset: drained messages are stored, but evaluators elsewhere will not hear of them');
    const { defaultClientId, drain } = await import('../ingest/index.js');
    const { startPlatform } = await import('./platform.js');
    const clientId = options.clientId ?? cfg.MQTT_CLIENT_ID ?? defaultClientId();
    const platform = await startOrExit(log, () =>
      startPlatform({ config: { ...cfg, PORT: 0 }, roles: [], log, migrate: false, embeddedBroker: false }),
    );
    try {
      const taken = await drain(platform.deps, clientId, options.quietSeconds * 1000);
      console.log(`drained ${clientId}: ${taken} message(s) taken from its session; the session is gone`);
    } finally {
      await platform.stop();
    }
  });

program
  .command('migrate')
  .description('create or update the database schema (idempotent)')
  .action(async () => {
    const cfg = await loadConfigOrExit();
    const { connect } = await import('../db/connection.js');
    const { migrate, pendingMigrations } = await import('../db/migrate.js');
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

const device = program
  .command('device')
  .description('register, list and revoke devices (the provisioning API, from the shell)');

device
  .command('create')
  .description('register a device (or re-register it) and print its one-time activation code')
  .requiredOption('--tenant <tenant_id>')
  .requiredOption('--device <device_id>')
  .requiredOption('--site <site_id>')
  .option('--fw-version <version>')
  .option('--metadata <json>', 'JSON object stored with the device', '{}')
  .action((options: { tenant: string; device: string; site: string; fwVersion?: string; metadata: string }) =>
    runCommand('device create', options),
  );

device
  .command('list')
  .description('list registered devices')
  .option('--tenant <tenant_id>')
  .option('--site <site_id>')
  .addOption(new Option('--status <status>').choices(['ACTIVE', 'REVOKED', 'PENDING']))
  .option('--limit <n>', 'at most this many', positiveInt, 200)
  .action((options: { tenant?: string; site?: string; status?: string; limit: number }) =>
    runCommand('device list', options),
  );

device
  .command('revoke')
  .description('revoke a device: its token stops working and its unused activation codes are retired')
  .argument('<tenant_id>')
  .argument('<device_id>')
  .action((tenant: string, device: string) => runCommand('device revoke', { tenant, device }));

const command = program
  .command('command')
  .description("send a device commands and see its answers (docs/commands.md); an operator's work in the tenant");

command
  .command('send')
  .description(
    'send a device a command: it waits QUEUED until the device is connected; prints the command, with --wait its answer',
  )
  .argument('<tenant_id>')
  .argument('<device_id>')
  .argument('<name>', 'what the device switches on: ping, reboot, set_interval…')
  .option('--params <json>', 'its parameters, any JSON, e.g. \'{"seconds": 30}\'', '{}')
  .option('--expires <seconds>', 'how long it may wait for its device (default: a day)', positiveInt)
  .option('--wait <seconds>', 'wait up to this long (≤ 300) for the answer', positiveInt, 0)
  .action((tenant: string, device: string, name: string, options: { params: string; expires?: number; wait: number }) =>
    runCommand('command send', { tenant, device, name, ...options }),
  );

command
  .command('list')
  .description("a device's commands, newest first, with their state and answer")
  .argument('<tenant_id>')
  .argument('<device_id>')
  .option('--limit <n>', 'at most this many', positiveInt, 20)
  .action((tenant: string, device: string, options: { limit: number }) =>
    runCommand('command list', { tenant, device, limit: options.limit }),
  );

const job = program
  .command('job')
  .description("a tenant's fleet jobs (started through the API, POST /customer/jobs): list, show, cancel");

job
  .command('list')
  .description("the tenant's jobs, newest first, with how many devices succeeded, failed and are left")
  .argument('<tenant_id>')
  .option('--limit <n>', 'at most this many', positiveInt, 50)
  .action((tenant: string, options: { limit: number }) => runCommand('job list', { tenant, limit: options.limit }));

job
  .command('show')
  .description('a job, its progress and its first 100 devices with their outcome')
  .argument('<tenant_id>')
  .argument('<job_id>')
  .action((tenant: string, id: string) => runCommand('job show', { tenant, job: id }));

job
  .command('cancel')
  .description('cancel a running job: devices not started are withdrawn, and so are commands not yet confirmed')
  .argument('<tenant_id>')
  .argument('<job_id>')
  .action((tenant: string, id: string) => runCommand('job cancel', { tenant, job: id }));

const user = program
  .command('user')
  .description("manage the built-in issuer's users (logins of the web app and the API)");

user
  .command('create')
  .description('create a user; customers belong to one tenant, operators to none')
  .requiredOption('--username <name>')
  .addOption(new Option('--role <role>').choices([...ROLES]).makeOptionMandatory())
  .option('--tenant <tenant_id>', 'required for customer_viewer and customer_admin')
  .requiredOption('--password <password>', PASSWORD_RULES)
  .option('--email <email>')
  .action((options: { username: string; role: Role; tenant?: string; password: string; email?: string }) =>
    runCommand('user create', options),
  );

user
  .command('list')
  .description('list users')
  .action(() => runCommand('user list', {}));

user
  .command('delete')
  .description('delete a user; their sessions stop working')
  .argument('<username>')
  .action((username: string) => runCommand('user delete', { username }));

user
  .command('passwd')
  .description("set a user's password")
  .argument('<username>')
  .requiredOption('--password <password>', PASSWORD_RULES)
  .action((username: string, options: { password: string }) =>
    runCommand('user passwd', { username, password: options.password }),
  );

program
  .command('token')
  .description('print an access token of a user of the built-in issuer (for scripts and tests)')
  .argument('<username>')
  .option('--ttl <seconds>', 'lifetime of the token', positiveInt)
  .action((username: string, options: { ttl?: number }) => runCommand('token', { username, ttl: options.ttl }));

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
      const owner = await embeddedDatabaseOwner(cfg);
      if (owner !== undefined) {
        throw new AppError(
          'CONFLICT',
          `Pulse (pid ${owner}) holds the embedded database in ${cfg.PULSE_DATA_DIR}: export from the web app or GET /api/v2/telemetry/export, or stop it first`,
        );
      }
      const { timeWindow } = await import('../api/time-window.js');
      const { exportToFile } = await import('./export-file.js');
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
    const owner = await embeddedDatabaseOwner(cfg);
    if (owner !== undefined) {
      throw new AppError(
        'CONFLICT',
        `Pulse (pid ${owner}) holds the embedded database in ${cfg.PULSE_DATA_DIR}: stop it, then rebuild`,
      );
    }
    const { progressLine, rebuildRollups } = await import('../model/rollup-rebuild.js');
    const tty = process.stderr.isTTY;
    const result = await withDatabase(cfg, (db) =>
      rebuildRollups(db, options.since, {
        restart: options.restart ?? false,
        onProgress: (progress) =>
          process.stderr.write(tty ? `\r${progressLine(progress)}` : `${progressLine(progress)}\n`),
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
  .option('--telemetry-since <date>', 'also the telemetry from this date (UTC) or instant on, then the rollups over it')
  .option('--batch-size <rows>', 'telemetry rows per transaction', positiveInt, 5000)
  .action(async (options: { from: string; dryRun?: boolean; telemetrySince?: string; batchSize: number }) => {
    const cfg = await loadConfigOrExit();
    const owner = await embeddedDatabaseOwner(cfg);
    if (owner !== undefined) {
      throw new AppError(
        'CONFLICT',
        `Pulse (pid ${owner}) holds the embedded database in ${cfg.PULSE_DATA_DIR}: stop it, then import`,
      );
    }
    const { importOriginal, progressLine, reportLines } = await import('../import/original.js');
    const { resolveSecretsKey } = await import('./data-dir.js');
    const { createSecretBox } = await import('../lib/secrets.js');
    const { Allowlist } = await import('../lib/ssrf.js');
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

const simulatorDefaults = {
  heartbeatSeconds: 5,
  telemetrySeconds: 10,
  uplinkDrops: { periodSeconds: 60, durationSeconds: 20 },
  // Awake 10 s every 2 min: commands sent to them wait QUEUED, visibly, until they come.
  sleep: { everyNth: 5, periodSeconds: 120, awakeSeconds: 10 },
} satisfies Partial<SimulatorOptions>;

program
  .command('simulate')
  .description('simulate devices as the reference simulator does: provisions them through the API, then publishes')
  .option('--devices <n>', 'number of devices', positiveInt, 25)
  .option('--tenants <ids>', 'comma-separated tenants; devices are spread over them', 'tenant-a,tenant-b')
  .option('--sites <ids>', 'comma-separated sites used in every tenant', 'lab-1')
  .addOption(new Option('--transport <kind>', 'how devices send').choices(['mqtt', 'http']).default('mqtt'))
  .option('--api-url <url>', 'Pulse HTTP URL (default: where `pulse up` listens, else http://localhost:PORT)')
  .option(
    '--mqtt-url <url>',
    'broker URL (default: MQTT_URL, else the broker of `pulse up`, else mqtt://localhost:MQTT_PORT)',
  )
  .addOption(new Option('--qos <qos>', 'MQTT QoS').choices(['0', '1']).default('0'))
  .option('--heartbeat-seconds <s>', 'heartbeat period', positiveInt, simulatorDefaults.heartbeatSeconds)
  .option('--telemetry-seconds <s>', 'telemetry period', positiveInt, simulatorDefaults.telemetrySeconds)
  .option('--uplink-drop-period <s>', 'every this many seconds a device loses its uplink (0: never)', positiveInt, 60)
  .option('--uplink-drop-duration <s>', 'for this many seconds', positiveInt, 20)
  .option(
    '--sleepy-every <n>',
    'one MQTT device in n sleeps, connecting only now and then (0: none)',
    positiveInt,
    simulatorDefaults.sleep.everyNth,
  )
  .option('--sleep-period <s>', 'a sleepy device wakes every this many seconds', positiveInt, 120)
  .option('--awake-seconds <s>', 'and stays connected this long', positiveInt, 10)
  .action(async (options: Record<string, string | number>) => {
    const cfg = await loadConfigOrExit();
    const signals = handleStopSignals(await createLogger(cfg));
    const { readRuntimeInfo, resolveAdminKey } = await import('./data-dir.js');
    const { startSimulator } = await import('../simulator/index.js');
    const adminKey = resolveAdminKey(cfg).key;
    const running = readRuntimeInfo(cfg.PULSE_DATA_DIR);
    const simulator = await startSimulator({
      apiUrl: String(options.apiUrl ?? running?.httpUrl ?? `http://localhost:${cfg.PORT}`).replace(/\/$/, ''),
      adminKey,
      transport: options.transport as 'mqtt' | 'http',
      // mqtts:// or wss:// with a private CA: MQTT_CA_FILE, as for Pulse's own connection.
      mqttCa: cfg.MQTT_CA_FILE ? readFileSync(cfg.MQTT_CA_FILE) : undefined,
      mqttUrl:
        (options.mqttUrl as string | undefined) ??
        cfg.MQTT_URL ??
        running?.mqttUrl ??
        `mqtt://localhost:${cfg.MQTT_PORT}`,
      qos: Number(options.qos) as 0 | 1,
      deviceCount: options.devices as number,
      tenants: String(options.tenants)
        .split(',')
        .map((tenantId) => ({
          tenantId: tenantId.trim(),
          sites: String(options.sites)
            .split(',')
            .map((s) => s.trim()),
        })),
      heartbeatSeconds: Math.max(1, options.heartbeatSeconds as number),
      telemetrySeconds: Math.max(1, options.telemetrySeconds as number),
      uplinkDrops: {
        periodSeconds: options.uplinkDropPeriod as number,
        durationSeconds: options.uplinkDropDuration as number,
      },
      sleep: {
        everyNth: options.sleepyEvery as number,
        periodSeconds: options.sleepPeriod as number,
        awakeSeconds: Math.max(1, options.awakeSeconds as number),
      },
    });
    const statusLine = await showSimulatorStatus(simulator);
    signals.setStop(async () => {
      statusLine.stop();
      await simulator.stop();
    });
    console.log(`simulating ${simulator.stats().devices} devices over ${String(options.transport)}; Ctrl-C stops`);
  });

/**
 * Runs one of the CLI's database commands and prints what it returns: on the configured database, or,
 * when a running Pulse owns the embedded database, inside that process (ADR 017).
 */
async function runCommand(name: CommandName, args: Record<string, unknown>) {
  const cfg = await loadConfigOrExit();
  const owner = await embeddedDatabaseOwner(cfg);
  let output: CommandOutput | undefined;
  if (owner !== undefined) {
    const { runThroughOwner } = await import('./control.js');
    output = await runThroughOwner(cfg.PULSE_DATA_DIR, name, args);
    if (!output) {
      throw new AppError(
        'CONFLICT',
        `the embedded database in ${cfg.PULSE_DATA_DIR} is in use by Pulse (pid ${owner}), which is still starting: try again in a moment`,
      );
    }
  } else {
    const { run } = await import('./control.js');
    const { resolveSecretsKey } = await import('./data-dir.js');
    const { createSecretBox } = await import('../lib/secrets.js');
    output = await withDatabase(cfg, (db) =>
      run(name, { db, config: cfg, secrets: createSecretBox(resolveSecretsKey(cfg)) }, args),
    );
  }
  if ('lines' in output) for (const line of output.lines) console.log(line);
  else if (output.rows.length === 0) console.log(output.none);
  else for (const line of textTable(output.rows)) console.log(line);
}

/** The pid of the running Pulse that holds the embedded database, if one does. */
async function embeddedDatabaseOwner(cfg: Config): Promise<number | undefined> {
  if (cfg.DATABASE_URL || cfg.PULSE_DATA_DIR.startsWith('memory://')) return undefined;
  const { dataDirOwner } = await import('../lib/data-dir-lock.js');
  return dataDirOwner(cfg.PULSE_DATA_DIR);
}

/** Opens the configured database (migrating it first when needed) for one command. */
async function withDatabase<T>(cfg: Config, fn: (db: Database) => Promise<T>): Promise<T> {
  const { connect } = await import('../db/connection.js');
  const { migrate, pendingMigrations } = await import('../db/migrate.js');
  const { createDatabase } = await import('../db/database.js');
  const connection = await connect({ databaseUrl: cfg.DATABASE_URL, dataDir: cfg.PULSE_DATA_DIR });
  try {
    if ((await pendingMigrations(connection)).length > 0) await migrate(connection);
    return await fn(createDatabase(connection));
  } finally {
    await connection.close();
  }
}

async function createLogger(cfg: Config): Promise<Logger> {
  return (await import('./log.js')).createLogger(cfg.LOG_LEVEL);
}

async function startOrExit(log: Logger, start: () => Promise<Platform>): Promise<Platform> {
  try {
    return await start();
  } catch (error) {
    log.fatal({ err: error }, `pulse could not start: ${(error as Error).message}`);
    log.flush?.();
    process.exit(1);
  }
}

function printBanner(
  platform: Platform,
  simulator: RunningSimulator | undefined,
  logins: NewUser[],
  demoPassword: string,
) {
  const { config } = platform.deps;
  const mode = config.MODE;
  // A key the operator chose (PROD) is not printed whole: start banners end up in shared logs.
  const shownKey = mode === 'PROD' ? `${platform.adminKey.slice(0, 4)}… (ADMIN_KEY)` : platform.adminKey;
  const lines = [
    '',
    `  Pulse is running at ${platform.httpUrl}/app/${httpReach(platform)}`,
    `  health        ${platform.httpUrl}/health`,
    `  database      ${platform.engine === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'} (${platform.databaseLocation})`,
    `  MQTT broker   ${platform.mqttUrl ?? 'none'}${brokerReach(config)}`,
    ...(platform.deps.embeddedBroker
      ? [
          `                ${platform.deps.embeddedBroker.tlsUrl ?? ''}${platform.deps.embeddedBroker.tlsUrl ? '  ' : ''}${platform.httpUrl.replace(/^http/, 'ws')}/mqtt`,
        ]
      : []),
    `  roles         ${platform.roles.map((role) => role.name).join(', ')}`,
    `  admin key     ${shownKey}${platform.adminKeyFile ? `   (X-Admin-Key; stored in ${platform.adminKeyFile})` : ''}`,
    ...(simulator
      ? [
          `  simulator     ${simulator.stats().devices} devices in tenant-a and tenant-b over MQTT, with demo alert rules;`,
          `                they answer commands (ping, reboot, set_interval, firmware_update) and one in ${simulatorDefaults.sleep.everyNth} sleeps`,
        ]
      : []),
    ...(logins.length > 0
      ? [
          '',
          `  demo logins, for local use only (password ${demoPassword}; PROD creates none):`,
          ...logins.map(
            (user) => `    ${user.username.padEnd(18)} ${user.role}${user.tenantId ? ` of ${user.tenantId}` : ''}`,
          ),
        ]
      : []),
    '',
    `  try: curl -H 'X-Admin-Key: ${mode === 'PROD' ? '$ADMIN_KEY' : platform.adminKey}' ${platform.httpUrl}/api/admin/devices`,
    '',
  ];
  console.log(lines.join('\n'));
}

/** Who can reach the web app, when that is only this machine (`pulse up` without HOST). */
function httpReach(platform: Platform): string {
  const { HOST: host, MODE: mode } = platform.deps.config;
  if (host !== undefined && !isLoopbackHost(host)) return '';
  // PROD has no demo logins to speak of.
  const demo = mode === 'PROD' ? '' : ', without the demo logins unless DEMO_USERS=on';
  return `   (this machine only; HOST=0.0.0.0 opens it to the network${demo})`;
}

/** Who can reach the embedded broker, when that is only this machine. */
function brokerReach(config: Config): string {
  return !config.MQTT_URL && isLoopbackHost(config.MQTT_HOST)
    ? '   (this machine only; MQTT_HOST=0.0.0.0 takes devices from the network)'
    : '';
}

/** A live status line on a terminal; a log line every 30 s otherwise. */
async function showSimulatorStatus(simulator: RunningSimulator) {
  const { showStatusLine, endStatusLine } = await import('./log.js');
  const render = () => {
    const { devices, sent, rejected, commands, rate } = simulator.stats();
    return `simulator: ${devices} devices, ${sent} messages sent, ${rejected} rejected, ${rate.toFixed(1)} msg/s, ${commands} commands answered`;
  };
  const interactive = process.stdout.isTTY;
  const timer = setInterval(
    () => (interactive ? showStatusLine(render()) : console.log(render())),
    interactive ? 1000 : 30_000,
  );
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      endStatusLine();
    },
  };
}

/**
 * Stops cleanly on SIGINT/SIGTERM; if stopping takes longer than 10 s, exits anyway. Installed before
 * anything starts, so a signal during startup is not lost: the stop runs as soon as it is known.
 */
function handleStopSignals(log: Logger) {
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

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`pulse: ${(error as Error).message}`);
  process.exit(error instanceof AppError ? 2 : 1);
});
