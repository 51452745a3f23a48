// MQTT sources. On an external broker: one persistent-session subscription to tenant/+/device/+/+,
// shared as $share/<group>/… so N ingest instances split the load. On the embedded broker: an in-process
// subscription (no socket, and aedes delays the device's own PUBACK until our callback).
//
// QoS 1 is acknowledged only after the message is stored or quarantined. MQTT.js sends a PUBACK as soon
// as handleMessage calls back, and reads the next packet only after that, so waiting there would take one
// message per flush. Instead handleMessage calls back at once and the PUBACK itself is held: acks leave in
// arrival order (as MQTT 3.1.1 requires), each once its message is done, a burst of them in one write.
// A full backlog (written or still being looked up) holds the callback, which stops reading from the
// socket: backpressure to the broker instead of dropped messages.
import { hostname } from 'node:os';
import type { Aedes, AedesPublishPacket } from 'aedes';
import mqtt, { type IClientPublishOptions, type MqttClient, type Packet } from 'mqtt';
import type { Logger } from 'pino';
import type { IngestPipeline } from './pipeline.js';

export const DEVICE_TOPIC_FILTER = 'tenant/+/device/+/+';

export interface MqttSourceOptions {
  url: string;
  /** Set for external brokers: subscribe through $share/<group>/. aedes has no shared subscriptions. */
  sharedGroup?: string | undefined;
  clientId?: string | undefined;
  pipeline: IngestPipeline;
  log: Logger;
}

export interface MqttSource {
  readonly subscription: string;
  isConnected(): boolean;
  stop(): Promise<void>;
}

type SendPacket = (packet: Packet, callback?: (error?: Error) => void, options?: IClientPublishOptions) => void;

export async function startMqttSource(options: MqttSourceOptions): Promise<MqttSource> {
  const { pipeline, log } = options;
  const subscription = options.sharedGroup
    ? `$share/${options.sharedGroup}/${DEVICE_TOPIC_FILTER}`
    : DEVICE_TOPIC_FILTER;
  const client: MqttClient = mqtt.connect(options.url, {
    clientId: options.clientId ?? `pulse-ingest-${hostname()}`,
    clean: false, // persistent session: QoS 1 messages sent while we were away are delivered on reconnect
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });

  // Acks in arrival order; each is sent once its message is done, in one write per burst.
  interface HeldAck {
    done: boolean;
    packet?: Packet;
  }
  const held = new Map<number, HeldAck>();
  // A queue with a moving head: Array.shift() is O(n), and thousands of acks are held at once.
  let ackQueue: HeldAck[] = [];
  let ackHead = 0;
  const inProgress = new Set<Promise<unknown>>();
  const internals = client as unknown as { _sendPacket: SendPacket; stream?: { cork(): void; uncork(): void } };
  const sendPacket = internals._sendPacket.bind(client);
  const releaseAcks = () => {
    const first = ackQueue[ackHead];
    if (!first?.done || !first.packet) return;
    internals.stream?.cork();
    for (let next: HeldAck | undefined = first; next?.done && next.packet; next = ackQueue[ackHead]) {
      sendPacket(next.packet);
      ackHead += 1;
    }
    process.nextTick(() => internals.stream?.uncork());
    if (ackHead > 4096 && ackHead * 2 > ackQueue.length) {
      ackQueue = ackQueue.slice(ackHead);
      ackHead = 0;
    }
  };
  internals._sendPacket = (packet, callback, publishOptions) => {
    const ack = packet.cmd === 'puback' ? held.get(packet.messageId ?? -1) : undefined;
    if (!ack) return sendPacket(packet, callback, publishOptions);
    held.delete(packet.messageId!);
    ack.packet = packet;
    ackQueue.push(ack);
    callback?.(); // let MQTT.js read the next packet now
    releaseAcks();
  };

  client.handleMessage = (packet, callback) => {
    if (packet.cmd !== 'publish') return callback();
    const qos = packet.qos;
    const handled = handlePublish(pipeline, log, packet);
    if (qos > 0 && packet.messageId !== undefined) {
      const ack: HeldAck = { done: false };
      held.set(packet.messageId, ack);
      inProgress.add(handled);
      void handled.then(() => {
        inProgress.delete(handled);
        ack.done = true;
        releaseAcks();
      });
    }
    if (pipeline.isFull) void pipeline.waitForRoom().then(() => callback());
    else callback();
  };

  client.on('error', (error) => log.warn({ err: error }, 'MQTT error'));
  client.on('reconnect', () => log.info({ url: options.url }, 'reconnecting to the MQTT broker'));

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    client.once('error', onError);
    client.once('connect', (connack) => {
      client.off('error', onError);
      // A resumed session already holds the subscription; subscribing again is harmless.
      client.subscribe(subscription, { qos: 1 }, (error) => (error ? reject(error) : resolve()));
      log.info({ url: options.url, subscription, session_present: connack.sessionPresent }, 'ingest subscribed');
    });
  });

  return {
    subscription,
    isConnected: () => client.connected,
    async stop() {
      await Promise.allSettled(inProgress);
      releaseAcks();
      await client.endAsync();
    },
  };
}

/**
 * The embedded broker's in-process subscription. aedes sends a QoS 1 device its PUBACK once every
 * subscriber has called back, so calling back after storage gives the device the same guarantee.
 */
export function startEmbeddedSource(broker: Aedes, pipeline: IngestPipeline, log: Logger): Promise<MqttSource> {
  const deliver = (packet: AedesPublishPacket, callback: () => void) => {
    const qos = packet.qos;
    const handled = handlePublish(pipeline, log, packet);
    if (qos > 0 || pipeline.isFull) void handled.then(() => callback());
    else callback();
  };
  return new Promise((resolve) => {
    broker.subscribe(DEVICE_TOPIC_FILTER, deliver, () =>
      resolve({
        subscription: DEVICE_TOPIC_FILTER,
        isConnected: () => !broker.closed,
        stop: () => new Promise<void>((done) => broker.unsubscribe(DEVICE_TOPIC_FILTER, deliver, () => done())),
      }),
    );
  });
}

/** One MQTT message through the pipeline; QoS 1 waits until it is stored or quarantined. */
function handlePublish(
  pipeline: IngestPipeline,
  log: Logger,
  packet: { topic: string; payload: Buffer | string; qos: number },
): Promise<unknown> {
  return pipeline
    .handle({
      source: 'mqtt',
      topic: packet.topic,
      body: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      wait: packet.qos > 0 ? 'stored' : 'queued',
    })
    .catch((error: unknown) => log.error({ err: error, topic: packet.topic }, 'could not process an MQTT message'));
}
