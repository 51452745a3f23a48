// `pulse up`, `pulse run` and `pulse ingest drain`: the commands that run Pulse (through startPlatform) and
// say where it is.
import type { Command } from 'commander';
import type { Config } from '../../config.js';
import { createUsers, type NewUser } from '../../identity/users.js';
import { isLoopbackHost } from '../../lib/listen.js';
import { missingInputs, ROLE_NAMES, type RoleName } from '../../roles.js';
import type { RunningSimulator } from '../../simulator/index.js';
import type { Platform } from '../platform.js';
import { createLogger, handleStopSignals, loadConfigOrExit, positiveInt, startOrExit } from './common.js';
import { showSimulatorStatus, simulatorDefaults } from './simulate.js';

const DEMO_TENANTS = [
  { tenantId: 'tenant-a', sites: ['warehouse-east', 'warehouse-west', 'cold-storage-1'] },
  { tenantId: 'tenant-b', sites: ['factory-floor', 'loading-dock', 'office-hvac'] },
];

// A registrar, like the API's route registrars: the group's commands one after another, as commander declares them.
export function addServeCommands(program: Command): void {
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
      const { startPlatform } = await import('../platform.js');
      const { removeRuntimeInfo, writeRuntimeInfo } = await import('../data-dir.js');
      const { DEMO_HOST, DEMO_PASSWORD, demoUsersWanted, seedDemoRules, seedDemoUsers } = await import('../demo.js');
      const { startSimulator } = await import('../../simulator/index.js');
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
      const { startPlatform } = await import('../platform.js');
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
      const { defaultClientId, drain } = await import('../../ingest/index.js');
      const { startPlatform } = await import('../platform.js');
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
