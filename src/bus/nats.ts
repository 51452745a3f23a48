// The bus over NATS (NATS_URL), for roles in separate processes and several instances of each (ADR 015).
//   durable (JetStream, acked, replicated on a cluster of ≥ 3; nats-streams.ts):
//     pulse.stored.<partition>  stream PULSE_STORED: stored messages for the evaluator, by device partition
//     pulse.alerts              stream PULSE_ALERTS: alert changes for the dispatcher
//   live (plain subjects, only for whoever listens now; nats-transport.ts):
//     pulse.live.telemetry, pulse.device.changed, pulse.delivery.queued — and the durable subjects above,
//     which plain subscribers (the api's WebSocket, the evaluator's closes) hear too.
// Durable events wait in an outbox until JetStream has stored them (nats-outbox.ts); the evaluator's
// partitions are owned by one live instance at a time (nats-ownership.ts). This file puts them together.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { AcceptedMessage } from '../contracts/messages.js';
import type { Bus, BusTopic, Handler, Ownership } from './index.js';
import { ALERTS_SUBJECT, decode, encodeMessages, LIVE_SUBJECTS, storedSubject, subjectOf } from './nats-encoding.js';
import { createOutbox } from './nats-outbox.js';
import { leaseBucket, startOwnership } from './nats-ownership.js';
import {
  consumeStream,
  PartitionMismatch,
  provisionStreams,
  streamsHealth,
  type StreamOptions,
} from './nats-streams.js';
import { connectNats, followConnection, liveSubjects, shown, type ConnectOptions } from './nats-transport.js';
import { partitionOf } from './partitions.js';

export interface NatsBusOptions extends ConnectOptions, StreamOptions {
  /** Durable events held in memory while NATS cannot take them, in bytes; beyond, the oldest go. */
  outboxMaxBytes: number;
  log: Logger;
}

/** Stored messages per NATS message: keeps each well under the server's 1 MB default payload limit. */
const CHUNK = 500;
/**
 * Stored messages of a partition (and live telemetry) are gathered this long before they go out as one
 * event: ingest writes small batches when devices wait for their PUBACK, and NATS's CPU follows the
 * number of replicated JetStream messages far more than their size. 100 ms instead of 25 ms: a sixth
 * less NATS CPU at 5,000 msg/s (ADR 015), for at most 75 ms more from message to alert.
 */
const STORED_LINGER_MS = 100;

export async function createNatsBus(options: NatsBusOptions): Promise<Bus> {
  const { log } = options;
  const instanceId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const nc = await connectNats(options);
  const js = jetstream(nc);
  const counters = {
    published: 0,
    publish_retries: 0,
    outbox_dropped: 0,
    live_dropped: 0,
    consumed: 0,
    redelivered: 0,
    handler_failures: 0,
  };
  const outbox = createOutbox(js, { instanceId, maxBytes: options.outboxMaxBytes, log, counters });
  const live = liveSubjects(nc, () => (counters.live_dropped += 1));
  const gapHandlers = new Set<() => void>();
  const connection = followConnection(nc, log, () => {
    for (const handler of gapHandlers) handler();
    live.askForListeners();
    outbox.pump();
  });

  const { jsm, replicas, partitions } = await provisionStreams(nc, js, options, log).catch(async (error: unknown) => {
    await nc.close();
    throw error instanceof PartitionMismatch
      ? error
      : new Error(`NATS at ${shown(options.servers)} has no usable JetStream: ${(error as Error).message}`);
  });

  const gathering = gatherTelemetry(partitions, {
    sendStored: (partition, messages) => outbox.enqueue(storedSubject(partition), encodeMessages(messages)),
    sendLive: (messages) => {
      if (live.wanted()) live.publish(LIVE_SUBJECTS['telemetry.accepted'], encodeMessages(messages));
    },
  });
  const consumptions = new Set<{ stream: string; durable: string }>();
  const openLeases = leaseBucket(nc, options.failoverSeconds, replicas);
  const ownerships = new Set<Ownership & { stop(): Promise<void> }>();

  return {
    kind: 'nats',
    partitions,
    publish(topic, event) {
      if (topic === 'telemetry.stored') gathering.stored(event as AcceptedMessage[]);
      else if (topic === 'telemetry.accepted') gathering.live(event as AcceptedMessage[]);
      else if (topic === 'alert.changed') outbox.enqueue(ALERTS_SUBJECT, JSON.stringify(event));
      else live.publish(subjectOf(topic), JSON.stringify(event));
    },

    subscribe(topic, handler) {
      const subscription = subscribeTopic(nc, log, topic, handler);
      const stopListening = topic === 'telemetry.accepted' ? live.listen() : undefined;
      return () => {
        stopListening?.();
        subscription.unsubscribe();
      };
    },

    consume(topic, group, handler, partition) {
      const consuming = { js, jsm, failoverSeconds: options.failoverSeconds, log, counters, consumptions };
      return Promise.resolve(consumeStream(consuming, topic, group, handler, partition));
    },

    onLiveGap(handler) {
      gapHandlers.add(handler);
      return () => void gapHandlers.delete(handler);
    },

    async own(group, owner) {
      const ownership = await startOwnership(
        nc,
        await openLeases(),
        group,
        instanceId,
        owner,
        partitions,
        options,
        log,
      );
      ownerships.add(ownership);
      return {
        owned: ownership.owned,
        async stop() {
          ownerships.delete(ownership);
          await ownership.stop();
        },
      };
    },

    async health() {
      const connected = connection.connected();
      return {
        status: connected && counters.outbox_dropped === 0 ? 'ok' : 'degraded',
        kind: 'nats',
        connected,
        server: connected ? nc.getServer() : null,
        instance: instanceId,
        outbox: outbox.health(),
        // Whether this process listens to live telemetry, and whether any process did lately.
        live_telemetry: { listening: live.listening(), wanted: live.wanted() },
        counters: { ...counters },
        ...(connected ? await streamsHealth(jsm, consumptions) : { streams: {}, consumers: {} }),
      };
    },

    async close() {
      for (const ownership of [...ownerships]) {
        ownerships.delete(ownership);
        await ownership.stop();
      }
      gathering.flush();
      live.stop();
      await outbox.close(connection.connected);
      await nc.drain().catch(() => nc.close());
    },
  };
}

/** Every event of `topic` while connected; an undecodable event or a failing handler is logged. */
function subscribeTopic<T extends BusTopic>(nc: NatsConnection, log: Logger, topic: T, handler: Handler<T>) {
  return nc.subscribe(subjectOf(topic), {
    callback: (error, msg) => {
      if (error) return;
      let event;
      try {
        event = decode(topic, msg.data);
      } catch (decodeError) {
        log.error({ err: decodeError, subject: msg.subject }, 'undecodable bus event ignored');
        return;
      }
      Promise.resolve()
        .then(() => handler(event))
        .catch((handlerError: unknown) => log.error({ err: handlerError, topic }, 'bus handler failed'));
    },
  });
}

/**
 * Stored messages, by partition, and live telemetry are gathered for STORED_LINGER_MS (or CHUNK messages of
 * a partition) and sent as one event. Live telemetry is gathered over the same window: ingest announces it
 * per event-loop turn, which under load is thousands of small NATS messages a second for the api instances
 * to decode.
 */
function gatherTelemetry(
  partitions: number,
  send: {
    sendStored(partition: number, messages: AcceptedMessage[]): void;
    sendLive(messages: AcceptedMessage[]): void;
  },
) {
  const gathering = new Map<number, AcceptedMessage[]>();
  let liveGathering: AcceptedMessage[] = [];
  let gatherTimer: NodeJS.Timeout | undefined;
  function sendGathered(partition: number): void {
    const messages = gathering.get(partition);
    gathering.delete(partition);
    if (messages && messages.length > 0) send.sendStored(partition, messages);
  }
  function sendAllGathered(): void {
    gatherTimer = undefined;
    for (const partition of [...gathering.keys()]) sendGathered(partition);
    if (liveGathering.length > 0) send.sendLive(liveGathering);
    liveGathering = [];
  }
  return {
    stored(messages: AcceptedMessage[]): void {
      for (const message of messages) {
        const partition = partitionOf(message.tenant_id, message.device_id, partitions);
        const list = gathering.get(partition);
        if (!list) gathering.set(partition, [message]);
        else if (list.push(message) >= CHUNK) sendGathered(partition);
      }
      gatherTimer ??= setTimeout(sendAllGathered, STORED_LINGER_MS);
    },
    live(messages: AcceptedMessage[]): void {
      for (const message of messages) liveGathering.push(message);
      gatherTimer ??= setTimeout(sendAllGathered, STORED_LINGER_MS);
    },
    /** Sends what is gathered now (stopping). */
    flush(): void {
      clearTimeout(gatherTimer);
      sendAllGathered();
    },
  };
}
