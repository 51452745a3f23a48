// The command sender (ADR 027), run by the dispatcher role: it publishes commands and desired
// configuration to connected devices over MQTT, QoS 1, on their own `…/commands/` subtree.
//
// What to send is taken from the database in one transaction per batch of devices (takeOutgoing locks
// them), so any number of instances send each command once per connection. It wakes on bus hints —
// commands queued, a device connected, a command answered (room for the next), configuration changed —
// and every COMMAND_SWEEP_SECONDS it expires commands, runs fleet jobs and serves whatever a lost hint
// left waiting. A publish that fails puts its commands back in the queue.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import type { RoleDeps } from '../roles.js';
import * as commands from '../model/commands.js';
import { commandsTopic, CONFIG_LEAF } from '../model/command-protocol.js';
import { createJobRunner } from './jobs.js';
import { withDownloadLink } from './firmware-link.js';
import type { ComponentHealth } from '../contracts/health.js';
import type { DeviceKey } from '../contracts/messages.js';

const BATCH_DEVICES = 500;
const PUBLISH_TIMEOUT_MS = 10_000;

export interface CommandSender {
  health(): ComponentHealth;
  /** Runs a sweep now and resolves once what it found is sent (the dispatcher's pollNow). */
  sweepNow(): Promise<void>;
  stop(): Promise<void>;
}

export async function startCommandSender(deps: RoleDeps): Promise<CommandSender> {
  const { db, bus, log, config } = deps;
  const counters = { commands_sent: 0, configs_sent: 0, publish_failures: 0, expired: 0, sweep_failures: 0 };
  const client = deps.serviceMqttUrl ? await connect(deps.serviceMqttUrl, config.MQTT_CA_FILE, log) : undefined;
  if (!client) log.warn('no MQTT broker: commands reach HTTP devices only');
  const jobs = createJobRunner({ db, bus, log });
  const signing = { secrets: deps.secrets, ttlSeconds: config.FIRMWARE_URL_TTL_SECONDS, publicUrl: config.PUBLIC_URL };

  // Devices to serve, gathered per event-loop turn; `resend` when one of them has just connected.
  let waiting = new Map<string, { device: DeviceKey; resend: boolean }>();
  let serving: Promise<void> | undefined;
  let stopped = false;

  function want(devices: DeviceKey[], resend: boolean): void {
    if (stopped || !client) return;
    const first = waiting.size === 0;
    for (const device of devices) {
      const key = `${device.tenant_id}\u0000${device.device_id}`;
      waiting.set(key, { device, resend: resend || (waiting.get(key)?.resend ?? false) });
    }
    if (first) setImmediate(() => void serve());
  }

  async function serve(): Promise<void> {
    if (serving) return serving.then(serve);
    const batch = [...waiting.values()];
    waiting = new Map();
    if (batch.length === 0) return;
    serving = (async () => {
      for (const resend of [true, false]) {
        const devices = batch.filter((entry) => entry.resend === resend).map((entry) => entry.device);
        for (let start = 0; start < devices.length; start += BATCH_DEVICES) {
          const slice = devices.slice(start, start + BATCH_DEVICES);
          try {
            const outgoing = await db.withService((tx) =>
              commands.takeOutgoing(tx, slice, { maxInFlight: config.COMMAND_MAX_IN_FLIGHT, resend }),
            );
            await Promise.all(outgoing.map(publish));
          } catch (error) {
            log.warn({ err: error, devices: slice.length }, 'could not send commands; the sweep tries again');
          }
        }
      }
    })().finally(() => {
      serving = undefined;
    });
    return serving;
  }

  /** Configuration first (commands may rely on it), then the commands in creation order. */
  async function publish(out: commands.Outgoing): Promise<void> {
    const topic = (leaf: string) => commandsTopic(out.tenant_id, out.device_id, leaf);
    const unsent: string[] = [];
    try {
      if (out.config) {
        await withTimeout(client!.publishAsync(topic(CONFIG_LEAF), JSON.stringify(out.config), { qos: 1 }));
        counters.configs_sent += 1;
      }
      for (const [i, message] of out.commands.entries()) {
        try {
          const sent = withDownloadLink(message, out, signing);
          await withTimeout(client!.publishAsync(topic(message.id), JSON.stringify(sent), { qos: 1 }));
          counters.commands_sent += 1;
        } catch (error) {
          unsent.push(...out.commands.slice(i).map((command) => command.id));
          throw error;
        }
      }
    } catch (error) {
      counters.publish_failures += 1;
      log.warn({ err: error, tenant_id: out.tenant_id, device_id: out.device_id }, 'could not publish to a device');
      await db.withService((tx) => commands.putBack(tx, unsent)).catch(() => undefined);
    }
  }

  async function sweep(): Promise<void> {
    try {
      const expired = await db.withService((tx) => commands.expireCommands(tx));
      counters.expired += expired.length;
      if (expired.length > 0) bus.publish('commands.changed', expired);
      await jobs.tick();
      want(await db.withService((tx) => commands.devicesWithWork(tx)), false);
    } catch (error) {
      counters.sweep_failures += 1;
      log.warn({ err: error }, 'command sweep failed; trying again at the next');
    }
  }

  const unsubscribers = [
    bus.subscribe('commands.queued', (devices) => want(devices, false)),
    bus.subscribe('config.changed', (devices) => want(devices, false)),
    bus.subscribe('device.presence', (presence) => {
      if (presence.online) want([presence], true);
    }),
    bus.subscribe('commands.changed', (changes) => {
      // An answered command leaves room for the next one; a job's may let the job go on.
      want(
        changes.filter((change) => commands.isFinished(change.state)),
        false,
      );
      if (changes.some((change) => change.job_id)) jobs.nudge();
    }),
  ];
  const sweepTimer = setInterval(() => void sweep(), config.COMMAND_SWEEP_SECONDS * 1000);
  void sweep();

  return {
    health: () => ({
      status: client && !client.connected ? 'degraded' : 'ok',
      mqtt: client ? { connected: client.connected } : null,
      counters: { ...counters, ...jobs.counters },
    }),
    async sweepNow() {
      await sweep();
      await serve();
    },
    async stop() {
      stopped = true;
      for (const unsubscribe of unsubscribers) unsubscribe();
      clearInterval(sweepTimer);
      await serving;
      await jobs.stop();
      await client?.endAsync();
    },
  };
}

/** Connects in the background (a broker that is down must not hold the role's start) and reconnects. */
async function connect(url: string, caFile: string | undefined, log: RoleDeps['log']): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    clientId: `pulse-commands-${randomBytes(6).toString('hex')}`,
    clean: true,
    reconnectPeriod: 1000,
    ...(caFile ? { ca: await readFile(caFile) } : {}),
  });
  client.on('error', (error) => log.warn({ err: error }, 'command sender: MQTT error'));
  return client;
}

/** A publish not acknowledged in time counts as failed (mqtt.js may still send it once reconnected). */
function withTimeout<T>(promise: Promise<T>, ms = PUBLISH_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the broker did not acknowledge in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
