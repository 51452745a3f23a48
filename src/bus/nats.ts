// The bus over NATS (NATS_URL), for roles in separate processes and several instances of each (ADR 015).
//   durable (JetStream, acked, replicated on a cluster of ≥ 3):
//     pulse.stored.<partition>  stream PULSE_STORED: stored messages for the evaluator, by device partition
//     pulse.alerts              stream PULSE_ALERTS: alert changes for the dispatcher
//   live (plain subjects, only for whoever listens now):
//     pulse.live.telemetry, pulse.device.changed, pulse.delivery.queued — and the durable subjects above,
//     which plain subscribers (the api's WebSocket, the evaluator's closes) hear too.
// Durable events wait in an outbox until JetStream has stored them, so a NATS outage or a node failover
// delays them instead of losing them; a message id makes a retried publish a no-op.
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JsMsg,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, credsAuthenticator, nanos, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ComponentHealth } from '../contracts/health.js';
import type { AcceptedMessage } from '../contracts/messages.js';
import {
  STORED_CONSUMER_GROUP,
  type Bus,
  type BusEvents,
  type BusTopic,
  type DurableTopic,
  type Ownership,
  type PartitionOwner,
} from './index.js';
import { assignPartitions, partitionOf } from './partitions.js';
import { backoffDelay } from '../lib/retry.js';

export interface NatsBusOptions {
  servers: string[];
  /** PEM of a private CA for tls:// servers. */
  caFile?: string | undefined;
  /** A NATS .creds file (JWT + nkey seed). User and password may also sit in the URL. */
  credsFile?: string | undefined;
  /** Undefined: the count the cluster recorded, or NEW_CLUSTER_PARTITIONS for a new one. */
  partitions?: number | undefined;
  /** A dead instance's partitions move within this time. */
  failoverSeconds: number;
  /** Stream replicas; undefined: 3 when the cluster has ≥ 3 servers, else 1. */
  replicas?: number | undefined;
  /** How long events wait in a stream for a consumer before they are dropped. */
  streamMaxAgeHours: number;
  /** Durable events held in memory while NATS cannot take them, in bytes; beyond, the oldest go. */
  outboxMaxBytes: number;
  /** Names this process's connection (shown by the server's monitoring). */
  name: string;
  log: Logger;
}

const STORED_STREAM = 'PULSE_STORED';
/**
 * Partitions of a cluster started without EVALUATOR_PARTITIONS: enough for 8 evaluator instances (each
 * keeps up with tens of thousands of messages a second), and few enough that a partition's batches are
 * large (NATS's CPU follows the number of JetStream messages).
 */
const NEW_CLUSTER_PARTITIONS = 8;

const ALERTS_STREAM = 'PULSE_ALERTS';
const LEASES_BUCKET = 'pulse_leases';
const CONFIG_BUCKET = 'pulse_config';
/** Stored messages per NATS message: keeps each well under the server's 1 MB default payload limit. */
const CHUNK = 500;
/**
 * Stored messages of a partition (and live telemetry) are gathered this long before they go out as one
 * event: ingest writes small batches when devices wait for their PUBACK, and NATS's CPU follows the
 * number of replicated JetStream messages far more than their size. 100 ms instead of 25 ms: a sixth
 * less NATS CPU at 5,000 msg/s (ADR 015), for at most 75 ms more from message to alert.
 */
const STORED_LINGER_MS = 100;
/** Durable publishes in flight at once (each waits for the stream's acknowledgement). */
const PUBLISH_WINDOW = 64;
/**
 * A stream without a leader (a node died) answers nothing: give up on an attempt soon and try again at
 * most a second later, so events flow as soon as a new leader is elected (the message id dedupes).
 */
const PUBLISH_TIMEOUT_MS = 3000;
/** Waits before the outbox sends again after a refusal (ms): a leader is usually back within a second. */
const OUTBOX_BACKOFF = { initial: 100, max: 1000 };

const LIVE_SUBJECTS: Record<Exclude<BusTopic, DurableTopic>, string> = {
  'telemetry.accepted': 'pulse.live.telemetry',
  'device.changed': 'pulse.device.changed',
  'reader.removed': 'pulse.reader.removed',
  'delivery.queued': 'pulse.delivery.queued',
  'commands.queued': 'pulse.commands.queued',
  'device.presence': 'pulse.device.presence',
  'commands.changed': 'pulse.commands.changed',
  'config.changed': 'pulse.config.changed',
};
/**
 * Live telemetry is every message again, for WebSocket viewers that are mostly absent: a process that
 * listens to it says so on this subject every DEMAND_INTERVAL_MS ('listening'), a process that starts
 * asks who listens ('ask'), and publishers send it only while they heard a listener lately.
 */
const DEMAND_SUBJECT = 'pulse.live.demand';
const DEMAND_INTERVAL_MS = 2000;
const storedSubject = (partition: number | '*') => `pulse.stored.${partition}`;
const ALERTS_SUBJECT = 'pulse.alerts';

function subjectOf(topic: BusTopic): string {
  if (topic === 'telemetry.stored') return storedSubject('*');
  if (topic === 'alert.changed') return ALERTS_SUBJECT;
  return LIVE_SUBJECTS[topic];
}

// Messages travel as a JSON array of tuples, [time in epoch ms, tenant, device, site, type, seq, metrics]:
// a quarter to a third fewer bytes than objects for NATS to route, store and replicate.
type WireTuple = [number, string, string, string, string, number, AcceptedMessage['metrics']];
/** Before tuples, messages were objects with the time in epoch ms; a stream may still hold some. */
type WireObject = Omit<AcceptedMessage, 'time'> & { time: number };
const encodeMessages = (messages: AcceptedMessage[]) =>
  JSON.stringify(
    messages.map((m): WireTuple => [
      m.time.getTime(),
      m.tenant_id,
      m.device_id,
      m.site_id,
      m.msg_type,
      m.seq,
      m.metrics,
    ]),
  );

function decodeMessage(m: WireTuple | WireObject): AcceptedMessage {
  if (!Array.isArray(m)) return { ...m, time: new Date(m.time) };
  const [time, tenant_id, device_id, site_id, msg_type, seq, metrics] = m;
  return { time: new Date(time), tenant_id, device_id, site_id, msg_type, seq, metrics };
}

function decode<T extends BusTopic>(topic: T, data: Uint8Array): BusEvents[T] {
  const value: unknown = JSON.parse(new TextDecoder().decode(data));
  if (topic === 'telemetry.stored' || topic === 'telemetry.accepted') {
    return (value as (WireTuple | WireObject)[]).map(decodeMessage) as BusEvents[T];
  }
  return value as BusEvents[T];
}

interface OutboxEntry {
  subject: string;
  data: string;
  msgId: string;
  sending: boolean;
}

export async function createNatsBus(options: NatsBusOptions): Promise<Bus> {
  const { log } = options;
  const instanceId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  let nc: NatsConnection;
  try {
    nc = await connect({
      ...serversAndCredentials(options.servers),
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      pingInterval: 5000,
      ...(options.caFile ? { tls: { ca: await readFile(options.caFile, 'utf8') } } : {}),
      ...(options.credsFile ? { authenticator: credsAuthenticator(await readFile(options.credsFile)) } : {}),
    });
  } catch (error) {
    throw new Error(`cannot connect to NATS at ${shown(options.servers)}: ${(error as Error).message}`);
  }
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
  let connected = true;
  const gapHandlers = new Set<() => void>();
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        connected = false;
        log.warn({ server: 'server' in status ? status.server : undefined }, 'NATS connection lost; reconnecting');
      } else if (status.type === 'reconnect') {
        connected = true;
        log.info({ server: 'server' in status ? status.server : undefined }, 'NATS connection back');
        for (const handler of gapHandlers) handler();
        askForListeners();
        pump();
      }
    }
  })();

  // Every step is idempotent: a cluster still electing its leaders is asked again.
  const { jsm, replicas, partitions } = await patiently(log, async () => {
    const jsm = await jetstreamManager(nc);
    const servers = new Set([...(nc.info?.connect_urls ?? []), nc.getServer()]).size;
    const replicas = options.replicas ?? (servers >= 3 ? 3 : 1);
    const partitions = await clusterPartitions(new Kvm(js), replicas, options.partitions);
    await ensureStreams(jsm, replicas, options.streamMaxAgeHours);
    // Stored messages are kept while a consumer is interested: the evaluator's partition consumers exist
    // from the first start of any process, so nothing ingest stores before an evaluator runs is dropped.
    for (let partition = 0; partition < partitions; partition++) {
      await ensureConsumer(
        jsm,
        STORED_STREAM,
        `${STORED_CONSUMER_GROUP}-p${partition}`,
        storedSubject(partition),
        options.failoverSeconds,
        true,
      );
    }
    return { jsm, replicas, partitions };
  }).catch(async (error: unknown) => {
    await nc.close();
    throw error instanceof PartitionMismatch
      ? error
      : new Error(`NATS at ${shown(options.servers)} has no usable JetStream: ${(error as Error).message}`);
  });

  // The outbox: durable events in publish order, at most PUBLISH_WINDOW waiting for their ack.
  const outbox: OutboxEntry[] = [];
  let outboxBytes = 0;
  let inFlight = 0;
  let sequence = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let failedRounds = 0;
  let closing = false;

  function enqueue(subject: string, data: string): void {
    outbox.push({ subject, data, msgId: `${instanceId}-${++sequence}`, sending: false });
    outboxBytes += data.length;
    for (let i = 0; outboxBytes > options.outboxMaxBytes && i < outbox.length - 1;) {
      if (outbox[i]!.sending) {
        i += 1;
        continue;
      }
      outboxBytes -= outbox.splice(i, 1)[0]!.data.length;
      counters.outbox_dropped += 1;
      if (counters.outbox_dropped === 1 || counters.outbox_dropped % 1000 === 0) {
        log.error({ dropped: counters.outbox_dropped }, 'NATS outbox full: oldest events dropped (NATS unreachable)');
      }
    }
    pump();
  }

  // Entries being sent are at the front, so the scan for the next ones to send stays short.
  function pump(): void {
    if (retryTimer || closing) return;
    for (let i = 0; i < outbox.length && inFlight < PUBLISH_WINDOW; i++) {
      const entry = outbox[i]!;
      if (entry.sending) continue;
      entry.sending = true;
      inFlight += 1;
      js.publish(entry.subject, entry.data, { msgID: entry.msgId, timeout: PUBLISH_TIMEOUT_MS }).then(
        () => settle(entry, true),
        (error: unknown) => settle(entry, false, error),
      );
    }
  }

  function settle(entry: OutboxEntry, stored: boolean, error?: unknown): void {
    inFlight -= 1;
    entry.sending = false;
    if (stored) {
      outbox.splice(outbox.indexOf(entry), 1);
      outboxBytes -= entry.data.length;
      counters.published += 1;
      failedRounds = 0;
      pump();
      return;
    }
    counters.publish_retries += 1;
    if (retryTimer) return;
    const retryDelay = backoffDelay(++failedRounds, OUTBOX_BACKOFF);
    log.warn({ err: error, outbox: outbox.length, retry_in_ms: retryDelay }, 'NATS did not store an event; retrying');
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      pump();
    }, retryDelay);
  }

  const gathering = new Map<number, AcceptedMessage[]>();
  let gatherTimer: NodeJS.Timeout | undefined;
  function sendGathered(partition: number): void {
    const messages = gathering.get(partition);
    gathering.delete(partition);
    if (messages && messages.length > 0) enqueue(storedSubject(partition), encodeMessages(messages));
  }
  // Live telemetry is gathered over the same window: ingest announces it per event-loop turn, which
  // under load is thousands of small NATS messages a second for the api instances to decode.
  let liveGathering: AcceptedMessage[] = [];
  function sendAllGathered(): void {
    gatherTimer = undefined;
    for (const partition of [...gathering.keys()]) sendGathered(partition);
    if (liveGathering.length > 0 && liveWanted()) {
      publishLive(LIVE_SUBJECTS['telemetry.accepted'], encodeMessages(liveGathering));
    }
    liveGathering = [];
  }

  // Live-telemetry demand: heard from any process (this one too), said while this one listens.
  let listenerHeardAt = Number.NEGATIVE_INFINITY;
  let liveListeners = 0;
  let demandTimer: NodeJS.Timeout | undefined;
  const liveWanted = () => Date.now() - listenerHeardAt < 3 * DEMAND_INTERVAL_MS;
  const sayListening = () => publishLive(DEMAND_SUBJECT, 'listening');
  function askForListeners(): void {
    publishLive(DEMAND_SUBJECT, 'ask');
  }
  nc.subscribe(DEMAND_SUBJECT, {
    callback: (error, msg) => {
      if (error) return;
      if (msg.string() !== 'ask') listenerHeardAt = Date.now();
      else if (liveListeners > 0) sayListening();
    },
  });
  askForListeners();
  function listenLive(): () => void {
    if (++liveListeners === 1) {
      sayListening();
      demandTimer = setInterval(sayListening, DEMAND_INTERVAL_MS);
      demandTimer.unref();
    }
    let listening = true;
    return () => {
      if (!listening) return;
      listening = false;
      if (--liveListeners === 0) clearInterval(demandTimer);
    };
  }

  function publishLive(subject: string, data: string): void {
    try {
      nc.publish(subject, data);
    } catch {
      counters.live_dropped += 1; // closed or its reconnect buffer is full: live events are not kept
    }
  }

  const consumptions = new Set<{ stream: string; durable: string }>();
  // Lease calls give up after one ownership tick: a NATS leader election must not stall a tick for the
  // client's default 5 s per call. The bucket is opened by the first instance that takes partitions.
  let leases: Promise<KV> | undefined;
  const leaseBucket = () =>
    (leases ??= new Kvm(jetstream(nc, { timeout: ownershipTickMs(options.failoverSeconds) }))
      .create(LEASES_BUCKET, { history: 1, ttl: leaseTtlMs(options.failoverSeconds), replicas })
      .catch((error: unknown) => {
        leases = undefined;
        throw error;
      }));
  const ownerships = new Set<Ownership>();

  const bus: Bus = {
    kind: 'nats',
    partitions,
    publish(topic, event) {
      if (topic === 'telemetry.stored') {
        for (const message of event as AcceptedMessage[]) {
          const partition = partitionOf(message.tenant_id, message.device_id, partitions);
          const list = gathering.get(partition);
          if (!list) gathering.set(partition, [message]);
          else if (list.push(message) >= CHUNK) sendGathered(partition);
        }
        gatherTimer ??= setTimeout(sendAllGathered, STORED_LINGER_MS);
      } else if (topic === 'telemetry.accepted') {
        for (const message of event as AcceptedMessage[]) liveGathering.push(message);
        gatherTimer ??= setTimeout(sendAllGathered, STORED_LINGER_MS);
      } else if (topic === 'alert.changed') {
        enqueue(ALERTS_SUBJECT, JSON.stringify(event));
      } else {
        publishLive(subjectOf(topic), JSON.stringify(event));
      }
    },

    subscribe(topic, handler) {
      const subscription = nc.subscribe(subjectOf(topic), {
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
      const stopListening = topic === 'telemetry.accepted' ? listenLive() : undefined;
      return () => {
        stopListening?.();
        subscription.unsubscribe();
      };
    },

    consume(topic, group, handler, partition) {
      const stream = topic === 'telemetry.stored' ? STORED_STREAM : ALERTS_STREAM;
      const durable = partition === undefined ? group : `${group}-p${partition}`;
      const filter = topic === 'telemetry.stored' ? storedSubject(partition ?? 0) : ALERTS_SUBJECT;
      // A partition is consumed by one instance, in order: acknowledging the latest finished event
      // acknowledges every earlier one (AckPolicy.All), one ack per evaluator flush instead of one per event.
      const inOrder = partition !== undefined;
      const record = { stream, durable };
      consumptions.add(record);
      let stopped = false;
      let messages: ConsumerMessages | undefined;
      let handling = 0;
      let drained: (() => void) | undefined;

      const take = (msg: JsMsg, outstanding: { msg: JsMsg; done: boolean }[]) => {
        counters.consumed += 1;
        if (msg.redelivered) counters.redelivered += 1;
        let event: BusEvents[typeof topic];
        try {
          event = decode(topic, msg.data);
        } catch (error) {
          log.error({ err: error, subject: msg.subject }, 'undecodable bus event dropped');
          msg.term();
          return;
        }
        handling += 1;
        const entry = { msg, done: false };
        if (inOrder) outstanding.push(entry);
        // Not awaited: the next event is taken while this one's effects are being committed.
        handler(event)
          .then(
            () => {
              entry.done = true;
              if (!inOrder) return msg.ack();
              // One ack for the longest finished run from the oldest: it acknowledges them all.
              let last: typeof entry | undefined;
              while (outstanding[0]?.done) last = outstanding.shift();
              last?.msg.ack();
            },
            (error: unknown) => {
              counters.handler_failures += 1;
              log.warn({ err: error, topic, consumer: durable }, 'bus event not handled; it comes again');
              // In order, a failed event stays not done and holds back the acknowledgement of every
              // later one: they all come again after the ack wait.
              if (!inOrder) msg.nak(1000);
            },
          )
          .finally(() => {
            handling -= 1;
            if (handling === 0) drained?.();
          });
      };

      // NATS may be away, electing a leader or have lost the consumer: keep (re)attaching until stopped.
      const running = (async () => {
        while (!stopped) {
          try {
            await ensureConsumer(jsm, stream, durable, filter, options.failoverSeconds, inOrder);
            const consumer = await js.consumers.get(stream, durable);
            // A few batches in hand (each up to CHUNK messages): what is not yet taken stays in the stream.
            // Pull requests live no longer than a lease: the server keeps sending to a dead instance's
            // open requests until they expire (30 s by default), which starved its partitions' new owner.
            messages = await consumer.consume({
              max_messages: 32,
              expires: Math.max(1000, leaseTtlMs(options.failoverSeconds)),
            });
            if (stopped) await messages.close();
            const outstanding: { msg: JsMsg; done: boolean }[] = [];
            for await (const msg of messages) take(msg, outstanding);
          } catch (error) {
            if (!stopped) log.warn({ err: error, consumer: durable }, 'bus consumer interrupted; attaching again');
          }
          if (!stopped) await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      })();

      return Promise.resolve({
        async stop() {
          stopped = true;
          consumptions.delete(record);
          await messages?.close();
          await running;
          if (handling > 0) await new Promise<void>((resolve) => (drained = resolve));
        },
      });
    },

    onLiveGap(handler) {
      gapHandlers.add(handler);
      return () => void gapHandlers.delete(handler);
    },

    async own(group, owner) {
      const ownership = await startOwnership(
        nc,
        await leaseBucket(),
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

    async health(): Promise<ComponentHealth> {
      const consumers: Record<string, { pending: number; ack_pending: number; redelivered: number }> = {};
      const streams: Record<string, { messages: number; bytes: number; replicas: number }> = {};
      if (connected) {
        for (const name of [STORED_STREAM, ALERTS_STREAM]) {
          const info = await jsm.streams.info(name).catch(() => undefined);
          if (info) {
            streams[name] = {
              messages: info.state.messages,
              bytes: info.state.bytes,
              replicas: info.config.num_replicas,
            };
          }
        }
        for (const { stream, durable } of consumptions) {
          const info = await jsm.consumers.info(stream, durable).catch(() => undefined);
          if (info) {
            consumers[durable] = {
              pending: info.num_pending,
              ack_pending: info.num_ack_pending,
              redelivered: info.num_redelivered,
            };
          }
        }
      }
      return {
        status: connected && counters.outbox_dropped === 0 ? 'ok' : 'degraded',
        kind: 'nats',
        connected,
        server: connected ? nc.getServer() : null,
        instance: instanceId,
        outbox: { events: outbox.length, bytes: outboxBytes },
        // Whether this process listens to live telemetry, and whether any process did lately.
        live_telemetry: { listening: liveListeners > 0, wanted: liveWanted() },
        counters: { ...counters },
        streams,
        consumers,
      };
    },

    async close() {
      for (const ownership of [...ownerships]) {
        ownerships.delete(ownership);
        await ownership.stop();
      }
      clearTimeout(gatherTimer);
      clearInterval(demandTimer);
      sendAllGathered();
      // Give the outbox a moment to reach the stream; whatever is left is logged as lost.
      const deadline = Date.now() + 5000;
      while (outbox.length > 0 && connected && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      closing = true;
      clearTimeout(retryTimer);
      if (outbox.length > 0) log.error({ events: outbox.length }, 'stopping with events NATS has not stored');
      await nc.drain().catch(() => nc.close());
    },
  };
  return bus;
}

/**
 * A cluster that has just started, or lost a node, answers JetStream requests only once it has elected
 * its leaders; under load that took longer than a request's 5 s when every process started at once.
 */
const SETUP_PATIENCE_MS = 30_000;

/** Runs `setup` again while JetStream times out, for at most SETUP_PATIENCE_MS; other errors at once. */
async function patiently<T>(log: Logger, setup: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + SETUP_PATIENCE_MS;
  for (;;) {
    try {
      return await setup();
    } catch (error) {
      if (!isTimeout(error) || Date.now() > deadline) throw error;
      log.warn({ err: error }, 'NATS JetStream did not answer in time (electing leaders?); asking again');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function isTimeout(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof TimeoutError) return true;
  }
  return false;
}

/**
 * A lease (and a member's last announcement) lives 0.6 of the failover time and is renewed every sixth
 * of it: a dead instance's partitions are free after at most 0.6, taken at the next check after that,
 * and a live one may miss two renewals (a NATS leader election) without losing them.
 */
function leaseTtlMs(failoverSeconds: number): number {
  return Math.round(failoverSeconds * 600);
}

function ownershipTickMs(failoverSeconds: number): number {
  return Math.max(200, Math.round((failoverSeconds * 1000) / 6));
}

/** Long enough for a busy evaluator's flush, short enough to come again before a lease expires. */
function ackWaitMs(failoverSeconds: number): number {
  return Math.max(1000, leaseTtlMs(failoverSeconds) * 0.9);
}

async function ensureStreams(jsm: JetStreamManager, replicas: number, maxAgeHours: number): Promise<void> {
  const common: Partial<StreamConfig> = {
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    max_age: nanos(maxAgeHours * 3600 * 1000),
    duplicate_window: nanos(120_000),
  };
  // Interest, not work queue: a work queue insists on one ack per event, and partition consumers
  // acknowledge a whole run at once (AckPolicy.All).
  await ensureStream(jsm, {
    ...common,
    retention: RetentionPolicy.Interest,
    name: STORED_STREAM,
    subjects: [storedSubject('*')],
  });
  await ensureStream(jsm, {
    ...common,
    retention: RetentionPolicy.Workqueue,
    name: ALERTS_STREAM,
    subjects: [ALERTS_SUBJECT],
  });
}

/**
 * What `find` finds, else what `create` made. Several processes start at once: when another one created
 * it first, `create` fails and `find` then finds it.
 */
async function findOrCreate<T>(find: () => Promise<T>, create: () => Promise<T>): Promise<T> {
  const found = await find().catch(() => undefined);
  if (found) return found;
  try {
    return await create();
  } catch (error) {
    const createdElsewhere = await find().catch(() => undefined);
    if (!createdElsewhere) throw error;
    return createdElsewhere;
  }
}

/** Creates a stream, or brings an existing one to this configuration. */
async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  const { config: current } = await findOrCreate(
    () => jsm.streams.info(config.name),
    () => jsm.streams.add(config),
  );
  if (current.num_replicas !== config.num_replicas || current.max_age !== config.max_age) {
    await jsm.streams.update(config.name, { ...current, num_replicas: config.num_replicas, max_age: config.max_age });
  }
}

async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  filter: string,
  failoverSeconds: number,
  inOrder: boolean,
): Promise<void> {
  const config = {
    durable_name: durable,
    filter_subject: filter,
    ack_policy: inOrder ? AckPolicy.All : AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // An event a dead instance held is delivered again before its partition's new owner starts.
    ack_wait: nanos(ackWaitMs(failoverSeconds)),
    max_ack_pending: 256,
    max_deliver: -1,
  };
  await findOrCreate(
    () => jsm.consumers.info(stream, durable),
    () => jsm.consumers.add(stream, config),
  );
}

class PartitionMismatch extends Error {}

/**
 * The client takes credentials as options, not from URLs: `nats://user:password@host` gives user and
 * password, `nats://token@host` a token (as the NATS CLI reads them).
 */
function serversAndCredentials(servers: string[]): { servers: string[]; user?: string; pass?: string; token?: string } {
  let credentials: { user?: string; pass?: string; token?: string } = {};
  const bare = servers.map((server) => {
    const url = new URL(server);
    if (url.username && url.password) {
      credentials = { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
    } else if (url.username) {
      credentials = { token: decodeURIComponent(url.username) };
    }
    return `${url.protocol}//${url.host}`;
  });
  return { servers: bare, ...credentials };
}

/** The servers for messages and logs, without passwords. */
function shown(servers: string[]): string {
  return servers
    .map((server) => {
      try {
        const url = new URL(server);
        if (url.password) url.password = '***';
        else if (url.username) url.username = '***'; // a token
        return url.href.replace(/\/$/, '');
      } catch {
        return server;
      }
    })
    .join(', ');
}

/** JetStream refused a write because the key has another revision than the one we hold. */
function isWrongRevision(error: unknown): boolean {
  return /wrong last sequence/i.test((error as Error).message ?? '');
}

/** Every instance must cut devices into the same partitions: the first one to start records the count. */
/**
 * The cluster's partition count: recorded by the first process that starts (`wanted`, else
 * NEW_CLUSTER_PARTITIONS); a process that wants another one refuses to start.
 */
async function clusterPartitions(kvm: Kvm, replicas: number, wanted: number | undefined): Promise<number> {
  const config: KV = await kvm.create(CONFIG_BUCKET, { history: 1, replicas });
  try {
    await config.create('evaluator.partitions', String(wanted ?? NEW_CLUSTER_PARTITIONS));
    return wanted ?? NEW_CLUSTER_PARTITIONS;
  } catch (error) {
    const recorded = Number((await config.get('evaluator.partitions'))?.string());
    if (!Number.isInteger(recorded) || recorded < 1) throw error; // not there: creating it failed for another reason
    if (wanted !== undefined && recorded !== wanted) {
      throw new PartitionMismatch(
        `EVALUATOR_PARTITIONS is ${wanted} here but ${recorded} in the running cluster; every process must use the same value (or leave it unset)`,
      );
    }
    return recorded;
  }
}

/**
 * Partition leases in a KV bucket whose entries expire, membership announced on a plain subject: every
 * instance renews its leases and says it is alive each tick; all compute the same assignment over the
 * members heard lately; an instance gives up what is no longer its own and takes what is free and
 * assigned to it.
 */
async function startOwnership(
  nc: NatsConnection,
  kv: KV,
  group: string,
  instanceId: string,
  owner: PartitionOwner,
  partitions: number,
  options: NatsBusOptions,
  log: Logger,
): Promise<Ownership & { stop(): Promise<void> }> {
  const leaseKey = (partition: number) => `${group}.partitions.${partition}`;
  /** partition → its lease's revision, and when it was last renewed */
  const owned = new Map<number, { revision: number; renewedAt: number }>();
  const tickMs = ownershipTickMs(options.failoverSeconds);
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  // Membership is live, on a plain subject: every instance says it is here each tick, and whoever was
  // heard within a lease lifetime is a member. (Listing KV keys would create a consumer every tick.)
  const membersSubject = `pulse.members.${group}`;
  const heard = new Map<string, number>();
  const membership = nc.subscribe(membersSubject, {
    callback: (error, msg) => {
      if (error) return;
      try {
        const said = JSON.parse(new TextDecoder().decode(msg.data)) as { id: string; leaving?: boolean };
        if (said.leaving) heard.delete(said.id);
        else heard.set(said.id, Date.now());
      } catch {
        // not ours
      }
    },
  });
  const announce = (leaving = false) => {
    try {
      nc.publish(membersSubject, JSON.stringify({ id: instanceId, leaving }));
    } catch {
      // disconnected: the leases say the rest
    }
  };

  const release = async (partitions: number[], deleteLeases: boolean) => {
    if (partitions.length === 0) return;
    await owner.release(partitions).catch((error: unknown) => log.error({ err: error, partitions }, 'release failed'));
    for (const partition of partitions) {
      const lease = owned.get(partition);
      owned.delete(partition);
      if (deleteLeases && lease) {
        await kv.delete(leaseKey(partition), { previousSeq: lease.revision }).catch(() => undefined);
      }
    }
    log.info({ group, partitions }, 'partitions released');
  };

  const tick = async () => {
    // Leases first: a slow membership listing must not cost the partitions we hold.
    const lost: number[] = [];
    await Promise.all(
      [...owned].map(async ([partition, lease]) => {
        try {
          const revision = await kv.update(leaseKey(partition), instanceId, lease.revision);
          owned.set(partition, { revision, renewedAt: Date.now() });
        } catch (error) {
          // Another revision: the lease expired and was taken meanwhile. A timeout (NATS electing a new
          // leader) is no proof: the lease stays ours until it has gone unrenewed for its whole lifetime.
          if (isWrongRevision(error) || Date.now() - lease.renewedAt >= leaseTtlMs(options.failoverSeconds)) {
            lost.push(partition);
          }
        }
      }),
    );
    if (lost.length > 0) log.warn({ group, partitions: lost }, 'partition leases lost');
    await release(lost, false);

    announce();
    const lifetime = leaseTtlMs(options.failoverSeconds);
    const members = [...heard].filter(([, at]) => Date.now() - at < lifetime).map(([id]) => id);
    if (!members.includes(instanceId)) members.push(instanceId);
    const mine = new Set(assignPartitions(partitions, members).get(instanceId) ?? []);
    await release(
      [...owned.keys()].filter((partition) => !mine.has(partition)),
      true,
    );

    const gained: { partition: number; revision: number }[] = [];
    await Promise.all(
      [...mine]
        .filter((partition) => !owned.has(partition))
        .map(async (partition) => {
          try {
            gained.push({ partition, revision: await kv.create(leaseKey(partition), instanceId) });
          } catch {
            // still leased by an instance that is leaving or has died: taken once its lease is released or expires
          }
        }),
    );
    gained.sort((a, b) => a.partition - b.partition);
    if (gained.length > 0) {
      for (const { partition, revision } of gained) owned.set(partition, { revision, renewedAt: Date.now() });
      const partitions = gained.map((g) => g.partition);
      try {
        await owner.acquire(partitions);
        log.info({ group, partitions }, 'partitions acquired');
      } catch (error) {
        // Could not take them (the database is away): give the leases back and try again next tick.
        log.warn({ err: error, group, partitions }, 'could not take partitions');
        await release(partitions, true);
      }
    }
  };

  const check = () =>
    (running = tick().catch((error: unknown) => log.warn({ err: error, group }, 'partition ownership check failed')));
  // Hear the others before the first assignment, so that instances starting together do not all
  // claim every partition at once.
  announce();
  await new Promise((resolve) => setTimeout(resolve, tickMs));
  await check();
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    timer = setTimeout(() => {
      void check().then(() => {
        if (!stopped) schedule();
      });
    }, tickMs);
  };
  schedule();

  return {
    owned: () => [...owned.keys()].sort((a, b) => a - b),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await release([...owned.keys()], true);
      announce(true);
      membership.unsubscribe();
    },
  };
}
