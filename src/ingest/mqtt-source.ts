// MQTT sources. On an external broker: one persistent-session subscription to tenant/+/device/+/+,
// shared as $share/<group>/… so N ingest instances split the load, through ingest's own lean client
// (mqtt-subscriber.ts). On the embedded broker: an in-process subscription (no socket, and aedes delays
// the device's own PUBACK until our callback).
//
// QoS 1 is acknowledged only after the message is stored or quarantined. A full backlog (written or still
// being looked up) pauses reading: backpressure to the broker instead of dropped messages.
import type { Logger } from 'pino';
import type { EmbeddedBroker } from '../broker/embedded.js';
import { MqttSubscriber } from './mqtt-subscriber.js';
import type { IngestPipeline } from './pipeline.js';
import { matchesDeviceFilter } from './topic.js';

export const DEVICE_TOPIC_FILTER = 'tenant/+/device/+/+';

export interface MqttSourceOptions {
  url: string;
  /** Set for external brokers: subscribe through $share/<group>/. aedes has no shared subscriptions. */
  sharedGroup?: string | undefined;
  clientId: string;
  ca?: Buffer | undefined;
  maxPacketBytes: number;
  /** The broker authenticated each device and let it publish only to its own topics (dynsec). */
  topicAuthenticated?: boolean;
  /** The session's last visit: unsubscribe from the group and take what the session holds (`pulse ingest drain`). */
  leave?: boolean;
  /** A clean session (ends a persistent one); persistent by default. */
  clean?: boolean;
  pipeline: IngestPipeline;
  log: Logger;
}

export interface MqttSource {
  readonly subscription: string;
  isConnected(): boolean;
  /** Milliseconds since a message last arrived, and whether any is still being stored. */
  idle?(): { sinceLastMs: number; inProgress: number };
  stop(): Promise<void>;
}

export async function startMqttSource(options: MqttSourceOptions): Promise<MqttSource> {
  const { pipeline, log } = options;
  const subscription = options.sharedGroup
    ? `$share/${options.sharedGroup}/${DEVICE_TOPIC_FILTER}`
    : DEVICE_TOPIC_FILTER;
  const inProgress = new Set<Promise<unknown>>();
  let waitingForRoom = false;
  const pauseWhileFull = () => {
    if (waitingForRoom || !pipeline.isFull) return;
    waitingForRoom = true;
    subscriber.pause();
    void pipeline.waitForRoom().then(() => {
      waitingForRoom = false;
      subscriber.resume();
    });
  };
  let attempts = 0;
  const subscriber: MqttSubscriber = new MqttSubscriber({
    url: options.url,
    clientId: options.clientId,
    ca: options.ca,
    subscription,
    maxPacketBytes: options.maxPacketBytes,
    onProtocolError: (reason) => {
      pipeline.metrics.mqttProtocolErrors.inc();
      log.warn({ url: redact(options.url), reason }, 'MQTT broker broke the protocol; reconnecting');
    },
    mode: options.leave ? 'leave' : 'subscribe',
    // A persistent session: QoS 1 messages sent while we were away are delivered on reconnect.
    clean: options.clean ?? false,
    onMessage: (message, done) => {
      const handled = handlePublish(pipeline, log, message, undefined, options.topicAuthenticated);
      if (done) {
        inProgress.add(handled);
        void handled.then(() => {
          inProgress.delete(handled);
          done();
        });
      }
      pauseWhileFull();
    },
    onEvent: (event, detail) => {
      if (event === 'connected') {
        attempts = 0;
        log.info(
          { url: redact(options.url), subscription, session_present: detail.sessionPresent },
          options.leave ? 'ingest session leaving its group' : 'ingest subscribed',
        );
      } else if (attempts++ % 30 === 0) {
        // Once, then every 30th attempt: a broker away for long does not flood the log.
        log.warn({ url: redact(options.url), err: detail.error }, 'MQTT broker connection closed; reconnecting');
      }
    },
  });
  await subscriber.start();
  const startedAt = Date.now();

  return {
    subscription,
    isConnected: () => subscriber.connected,
    idle: () => ({
      sinceLastMs: Date.now() - Math.max(subscriber.lastPublishAt, startedAt),
      inProgress: inProgress.size + subscriber.unacknowledged,
    }),
    async stop() {
      await Promise.allSettled(inProgress);
      await subscriber.stop();
    },
  };
}

/** The URL without its password, for logs. */
function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.href;
}

/**
 * The embedded broker: device PUBLISHes are handled in the broker's gate, before it answers them, so a
 * QoS 1 PUBACK is sent only once the message is stored or quarantined (see broker/embedded.ts). A QoS 0
 * message is let through at once unless the backlog is full. Once stopping, device publishes are refused
 * (the connection closes unanswered and the device sends again later).
 */
export function startEmbeddedSource(broker: EmbeddedBroker, pipeline: IngestPipeline, log: Logger): MqttSource {
  const inProgress = new Set<Promise<unknown>>();
  let stopping = false;
  // Device logins are checked against the registry cache, like the tokens in payloads.
  broker.checkDevicesWith((tenantId, deviceId, token) => pipeline.credentialsValid(tenantId, deviceId, token));
  const ungate = broker.gatePublishes(matchesDeviceFilter, (packet, callback, token) => {
    if (stopping) return callback(new Error('ingest is stopping'));
    // A device that logged in may leave the token out of its payload: the broker let it publish to its
    // own topics only, and the token it logged in with is checked again here, as HTTP's header is.
    const handled = handlePublish(pipeline, log, packet, token);
    if (packet.qos === 0 && !pipeline.isFull) return callback();
    inProgress.add(handled);
    void handled.then(() => {
      inProgress.delete(handled);
      callback();
    });
  });
  return {
    subscription: DEVICE_TOPIC_FILTER,
    isConnected: () => !broker.broker.closed,
    async stop() {
      stopping = true;
      await Promise.allSettled(inProgress);
      ungate();
    },
  };
}

/** One MQTT message through the pipeline; QoS 1 waits until it is stored or quarantined. */
function handlePublish(
  pipeline: IngestPipeline,
  log: Logger,
  packet: { topic: string; payload: Buffer | string; sizeBytes?: number; qos: number },
  loginToken?: string,
  topicAuthenticated = false,
): Promise<unknown> {
  return pipeline
    .handle({
      source: 'mqtt',
      topic: packet.topic,
      headerToken: loginToken,
      topicAuthenticated,
      body: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      sizeBytes: packet.sizeBytes,
      wait: packet.qos > 0 ? 'stored' : 'queued',
    })
    .catch((error: unknown) => log.error({ err: error, topic: packet.topic }, 'could not process an MQTT message'));
}
