// The embedded MQTT broker (aedes, MQTT 3.1.1) used when MQTT_URL is unset. If the wanted port is taken —
// say by a Mosquitto already running — it says so once and listens on a free port instead.
//
// A client's PUBLISH on a gated topic filter goes through the gate before aedes answers it: aedes 1.x
// writes a QoS 1 PUBACK first and delivers to subscribers after (lib/handlers/publish.js), but runs
// `authorizePublish` before either, so a gate that calls back once the message is stored makes the PUBACK
// mean "stored" (ADR 008). aedes reads no more of that client's socket until every PUBLISH of the chunk
// it read has called back, so a slow gate is backpressure on the publisher, not a growing queue.
// Subscriptions that could match device topics are refused (SUBACK 0x80): their payloads hold tokens.
import { createServer, type Server } from 'node:net';
import { Aedes, type AedesOptions, type PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { rememberedPort, rememberPort } from '../data-dir.js';
import { listenWithFallback } from '../lib/listen.js';

/** Calls back once the message is handled; an error closes the client's connection unanswered. */
export type PublishGate = (packet: PublishPacket, callback: (error?: Error) => void) => void;

export interface EmbeddedBroker {
  readonly port: number;
  readonly url: string;
  readonly broker: Aedes;
  clientCount(): number;
  /** Routes client PUBLISHes whose topic `matches` through `gate`; returns the function that removes it. */
  gatePublishes(matches: (topic: string) => boolean, gate: PublishGate): () => void;
  stop(): Promise<void>;
}

/**
 * Whether a subscription filter could match a device topic, `tenant/<tenant>/device/<device>/<type>`
 * (`#`, `+/+/+/+/+`, `tenant/#` and the like all could).
 */
export function mayMatchDeviceTopic(filter: string): boolean {
  const pattern = ['tenant', undefined, 'device', undefined, undefined];
  const levels = filter.split('/');
  for (const [index, level] of levels.entries()) {
    if (level === '#') return true;
    if (index >= pattern.length) return false;
    if (level !== '+' && pattern[index] !== undefined && level !== pattern[index]) return false;
  }
  return levels.length === pattern.length;
}

export async function startEmbeddedBroker(options: {
  host: string;
  port: number;
  log: Logger;
  /** Where to remember a fallback port (PULSE_DATA_DIR), unless the data lives in memory. */
  dataDir?: string | undefined;
}): Promise<EmbeddedBroker> {
  const gates = new Set<{ matches: (topic: string) => boolean; gate: PublishGate }>();
  const authorizePublish: NonNullable<AedesOptions['authorizePublish']> = (client, packet, callback) => {
    // aedes' own default: $SYS topics are the broker's.
    if (packet.topic.startsWith('$SYS/')) return callback(new Error('$SYS/ topic is reserved'));
    for (const { matches, gate } of gates) {
      if (matches(packet.topic)) return gate(packet, (error) => callback(error ?? null));
    }
    callback(null);
  };
  // Device messages carry their provision token: no client of ours may read another device's (#16 adds
  // authenticated device clients and their own subtrees).
  const authorizeSubscribe: NonNullable<AedesOptions['authorizeSubscribe']> = (_client, subscription, callback) =>
    callback(null, mayMatchDeviceTopic(subscription.topic) ? null : subscription);
  const broker = await Aedes.createBroker({ concurrency: 1000, authorizePublish, authorizeSubscribe });
  const server: Server = createServer(broker.handle);
  // The fallback port is kept in the data dir: device scripts written against it keep working after a restart.
  const port = await listenWithFallback(
    server,
    options.host,
    options.port,
    (taken) =>
      options.log.warn(
        `MQTT port ${taken} is in use; the embedded broker listens on another port instead (set MQTT_PORT, or MQTT_URL to use the broker that is there)`,
      ),
    options.dataDir ? rememberedPort(options.dataDir, 'mqtt') : undefined,
  );
  if (options.dataDir && port !== options.port && options.port !== 0) rememberPort(options.dataDir, 'mqtt', port);
  const host = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  return {
    port,
    url: `mqtt://${host}:${port}`,
    broker,
    clientCount: () => broker.connectedClients,
    gatePublishes(matches, gate) {
      const entry = { matches, gate };
      gates.add(entry);
      return () => gates.delete(entry);
    },
    stop: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
