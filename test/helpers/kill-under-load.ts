// `kill -9` or a graceful stop of `pulse up` (embedded broker) under QoS 1 load: provisions devices,
// publishes from many in-flight slots, stops the process mid-stream, starts it again on the same data and
// lists every acknowledged message that has no row. `killUnderLoad` publishes to the first process only;
// `restartUnderLoad` keeps publishing through several restarts with a client that reconnects at once, so
// it also knocks while the next process starts. Used by test/ingest/kill.test.ts, restart.test.ts and
// `npm run audit:security`.
import mqtt from 'mqtt';
import { connect } from '../../src/db/connection.js';
import { freePort } from './mosquitto.js';
import { startPulse } from './processes.js';
import { provisionDevices } from './provision.js';

export interface KillOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  devices: number;
  /** Kill once this many messages were acknowledged. */
  killAfterAcks: number;
  /** Never more than this many messages (keep it within the rate limit: burst 20 per device). */
  maxMessages: number;
  inFlight?: number;
}

export interface KillOutcome {
  sent: number;
  acknowledged: number;
  /** Acknowledged messages without a row, as device:seq. */
  lost: string[];
}

const ADMIN_KEY = 'kill-under-load-admin-key';

/** `pulse up` on the options' data, with a port for its broker that stays the same across restarts. */
async function upUnderLoad(options: { dataDir: string; databaseUrl?: string | undefined; devices: number }) {
  const mqttPort = await freePort();
  const env = {
    PULSE_DATA_DIR: options.dataDir,
    MQTT_PORT: String(mqttPort),
    ADMIN_KEY,
    ...(options.databaseUrl && { DATABASE_URL: options.databaseUrl }),
  };
  const first = await startPulse('up', ['up'], env);
  const plan = Array.from({ length: options.devices }, (_, i) => ({
    tenant_id: 'acme',
    device_id: `d${i}`,
    site_id: 's',
  }));
  const tokens = await provisionDevices(first.base, ADMIN_KEY, plan);
  /** The n-th message: from device n mod devices, with its token in the payload (DEV, anonymous). */
  const message = (n: number) => {
    const device = `d${n % options.devices}`;
    const body = JSON.stringify({
      site_id: 's',
      provision_token: tokens.get(`acme/${device}`),
      seq: n,
      metrics: { v: n },
    });
    return { key: `${device}:${n}`, topic: `tenant/acme/device/${device}/telemetry`, body };
  };
  return { env, mqttPort, first, message };
}

/** Which of the acknowledged messages have no row, read directly from the data after a last clean start. */
async function lostOf(options: KillOptions, env: Record<string, string>, acknowledged: string[]): Promise<string[]> {
  const last = await startPulse('up-again', ['up'], env);
  await last.kill('SIGTERM');
  const connection = await connect({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });
  try {
    const { rows } = await connection.pool.query<{ key: string }>(
      `SELECT device_id || ':' || seq AS key FROM telemetry WHERE tenant_id = 'acme'`,
    );
    const stored = new Set(rows.map((row) => row.key));
    return acknowledged.filter((key) => !stored.has(key));
  } finally {
    await connection.close();
  }
}

export async function killUnderLoad(options: KillOptions): Promise<KillOutcome> {
  const { env, mqttPort, first, message } = await upUnderLoad(options);

  const acknowledged: string[] = [];
  const publisher = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 });
  publisher.on('error', () => undefined);
  // mqtt.js keeps unacknowledged QoS 1 messages for a reconnect: their promises never settle on close.
  const closed = new Promise<'closed'>((resolve) => publisher.once('close', () => resolve('closed')));
  let sent = 0;
  let killed: Promise<void> | undefined;
  const publishFromOneSlot = async (): Promise<void> => {
    while (sent < options.maxMessages && !killed) {
      const { key, topic, body } = message(sent++);
      const outcome = await Promise.race([
        publisher.publishAsync(topic, body, { qos: 1 }).catch(() => 'closed'),
        closed,
      ]);
      if (outcome === 'closed') return; // the connection died with the process: not acknowledged
      acknowledged.push(key);
      if (acknowledged.length === options.killAfterAcks) killed = first.kill('SIGKILL');
    }
  };
  await Promise.all(Array.from({ length: options.inFlight ?? 64 }, publishFromOneSlot));
  await killed;
  publisher.end(true);
  if (!killed) throw new Error(`only ${acknowledged.length} messages were acknowledged: the kill never came`);

  // The same data starts again (recovering from the kill), then is read directly.
  return { sent, acknowledged: acknowledged.length, lost: await lostOf(options, env, acknowledged) };
}

export interface RestartOptions extends KillOptions {
  /** How each restart ends the running process, in order: SIGTERM (graceful) or SIGKILL. */
  restarts: NodeJS.Signals[];
}

/** A connection that is opened again every 20 ms after any close or refusal, until `deadline`. */
function reconnectingConnection(url: string, clientId: string, deadline: number) {
  let current: { client: mqtt.MqttClient; closed: Promise<'closed'> } | undefined;
  let connecting: Promise<void> | undefined;
  const connectAgain = async () => {
    while (Date.now() < deadline) {
      const client = await mqtt
        .connectAsync(url, { clientId, reconnectPeriod: 0, connectTimeout: 5000 })
        .catch(() => undefined);
      if (client) {
        client.on('error', () => undefined);
        const closed = new Promise<'closed'>((resolve) => client.once('close', () => resolve('closed')));
        current = { client, closed };
        void closed.then(() => current?.client === client && (current = undefined));
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return {
    async connected() {
      while (!current && Date.now() < deadline) {
        connecting ??= connectAgain().finally(() => (connecting = undefined));
        await connecting;
      }
      return current;
    },
    end: () => current?.client.end(true),
  };
}

/**
 * Publishes through every restart in `restarts` over `connections` connections (8) that each connect
 * again every 20 ms after a close or refusal, so clients are at the door while each new process starts
 * and while the old one stops; a restart comes every `killAfterAcks` acknowledgements. A message counts
 * as acknowledged only when its PUBACK came; one whose connection closed first is left out (the device
 * would send it again). Lists the acknowledged messages without a row.
 */
export async function restartUnderLoad(
  options: RestartOptions & { connections?: number },
): Promise<KillOutcome & { restarts: number }> {
  const { env, mqttPort, first, message } = await upUnderLoad(options);
  let running = first;
  const acknowledged: string[] = [];
  const deadline = Date.now() + 240_000;
  const connections = Array.from({ length: options.connections ?? 8 }, (_, i) =>
    reconnectingConnection(`mqtt://127.0.0.1:${mqttPort}`, `restart-under-load-${process.pid}-${i}`, deadline),
  );
  let sent = 0;
  let restarting: Promise<void> | undefined;
  let restarts = 0;
  /** The acknowledgements counted when the last restart was over: the next one comes killAfterAcks later. */
  let acknowledgedAtRestart = 0;
  const restart = async (signal: NodeJS.Signals) => {
    await running.kill(signal);
    running = await startPulse(`up-${restarts}`, ['up'], env);
    restarts += 1;
    acknowledgedAtRestart = acknowledged.length;
  };
  // The messages in equal shares, one per process — a restarting one's share goes to the process starting,
  // so clients knock while it starts. A share used up waits for the next restart: a slow start cannot take
  // every message and leave none for the restarts after it.
  const share = Math.floor(options.maxMessages / (options.restarts.length + 1));
  const phase = () => restarts + (restarting ? 1 : 0);
  const shareUsedUp = () => phase() < options.restarts.length && sent >= (phase() + 1) * share;
  /** The next restart, once this process had its acknowledgements or its share of the messages. */
  const maybeRestart = () => {
    if (restarts >= options.restarts.length || restarting) return;
    if (acknowledged.length >= acknowledgedAtRestart + options.killAfterAcks || shareUsedUp()) {
      restarting = restart(options.restarts[restarts]!).finally(() => (restarting = undefined));
    }
  };
  const publishFromOneSlot = async (slot: number): Promise<void> => {
    const connection = connections[slot % connections.length]!;
    while (sent < options.maxMessages && Date.now() < deadline) {
      if (shareUsedUp()) {
        maybeRestart();
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      const open = await connection.connected();
      if (!open) return;
      const { key, topic, body } = message(sent++);
      const outcome = await Promise.race([
        open.client.publishAsync(topic, body, { qos: 1 }).catch(() => 'closed'),
        open.closed,
      ]);
      if (outcome === 'closed') continue; // not acknowledged
      acknowledged.push(key);
      maybeRestart();
    }
  };
  await Promise.all(Array.from({ length: options.inFlight ?? 64 }, (_, slot) => publishFromOneSlot(slot)));
  await restarting;
  for (const connection of connections) connection.end();
  await running.kill('SIGTERM');
  if (restarts < options.restarts.length) {
    throw new Error(`${restarts} of ${options.restarts.length} restarts after ${acknowledged.length} acknowledgements`);
  }
  return { sent, acknowledged: acknowledged.length, restarts, lost: await lostOf(options, env, acknowledged) };
}
