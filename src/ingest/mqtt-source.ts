// MQTT sources. On an external broker: one persistent-session subscription to tenant/+/device/+/+,
// shared as $share/<group>/… so N ingest instances split the load. On the embedded broker: an in-process
// subscription (no socket, and aedes delays the device's own PUBACK until our callback).
//
// QoS 1 is acknowledged only after the message is stored or quarantined. MQTT.js sends a PUBACK as soon
// as handleMessage calls back, and reads the next packet only after that, so waiting there would take one
// message per flush. Instead handleMessage calls back at once and the PUBACK itself is held: acks leave in
// arrival order (as MQTT 3.1.1 requires), each once its message is done. A full backlog holds the
// callback, which stops reading from the socket: backpressure to the broker instead of dropped messages.
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

  const work = new Map<number, Promise<unknown>>();
  let ackChain: Promise<unknown> = Promise.resolve();
  const internals = client as unknown as { _sendPacket: SendPacket };
  const sendPacket = internals._sendPacket.bind(client);
  internals._sendPacket = (packet, callback, publishOptions) => {
    if (packet.cmd !== 'puback') return sendPacket(packet, callback, publishOptions);
    const done = work.get(packet.messageId ?? -1) ?? Promise.resolve();
    work.delete(packet.messageId ?? -1);
    ackChain = ackChain
      .then(() => done)
      .then(() => new Promise<void>((resolve) => sendPacket(packet, () => resolve())));
    callback?.(); // let MQTT.js read the next packet now
  };

  client.handleMessage = (packet, callback) => {
    if (packet.cmd !== 'publish') return callback();
    const qos = packet.qos;
    const handled = pipeline
      .handle({
        source: 'mqtt',
        topic: packet.topic,
        body: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
        wait: qos > 0 ? 'stored' : 'queued',
      })
      .catch((error: unknown) => log.error({ err: error, topic: packet.topic }, 'could not process an MQTT message'));
    if (qos > 0 && packet.messageId !== undefined) work.set(packet.messageId, handled);
    if (pipeline.writer.isFull) pipeline.writer.waitForRoom().then(() => callback());
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
      await Promise.allSettled(work.values());
      await ackChain;
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
    const handled = pipeline
      .handle({
        source: 'mqtt',
        topic: packet.topic,
        body: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
        wait: qos > 0 ? 'stored' : 'queued',
      })
      .catch((error: unknown) => log.error({ err: error, topic: packet.topic }, 'could not process an MQTT message'));
    if (qos > 0 || pipeline.writer.isFull) void handled.then(() => callback());
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
