// `pulse simulate`: devices that provision themselves through the API, then publish (src/simulator/).
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { RunningSimulator, SimulatorOptions } from '../../simulator/index.js';
import { createLogger, handleStopSignals, loadConfigOrExit, positiveInt } from './common.js';

export const simulatorDefaults = {
  heartbeatSeconds: 5,
  telemetrySeconds: 10,
  uplinkDrops: { periodSeconds: 60, durationSeconds: 20 },
  // Awake 10 s every 2 min: commands sent to them wait QUEUED, visibly, until they come.
  sleep: { everyNth: 5, periodSeconds: 120, awakeSeconds: 10 },
} satisfies Partial<SimulatorOptions>;

export function addSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('simulate devices as the original simulator does: provisions them through the API, then publishes')
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
      const { readRuntimeInfo, resolveAdminKey } = await import('../data-dir.js');
      const { startSimulator } = await import('../../simulator/index.js');
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
}

/** A live status line on a terminal; a log line every 30 s otherwise. */
export async function showSimulatorStatus(simulator: RunningSimulator) {
  const { showStatusLine, endStatusLine } = await import('../log.js');
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
