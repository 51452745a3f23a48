// JetStream, where durable events are kept until a consumer has handled them:
//     pulse.stored.<partition>  stream PULSE_STORED: stored messages for the evaluator, by device partition
//     pulse.alerts              stream PULSE_ALERTS: alert changes for the dispatcher
// Setting the streams and their consumers up (every process, idempotently), the cluster's partition count,
// and consuming a stream: acknowledged when handled, delivered again after a failure or a crash.
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { nanos, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { STORED_CONSUMER_GROUP, type BusEvents, type Consumption, type DurableTopic } from './index.js';
import { ALERTS_SUBJECT, decode, storedSubject } from './nats-encoding.js';
import { leaseTtlMs } from './nats-ownership.js';

const STORED_STREAM = 'PULSE_STORED';
const ALERTS_STREAM = 'PULSE_ALERTS';
/**
 * Partitions of a cluster started without EVALUATOR_PARTITIONS: enough for 8 evaluator instances (each
 * keeps up with tens of thousands of messages a second), and few enough that a partition's batches are
 * large (NATS's CPU follows the number of JetStream messages).
 */
const NEW_CLUSTER_PARTITIONS = 8;
const CONFIG_BUCKET = 'pulse_config';

export interface StreamOptions {
  /** Undefined: the count the cluster recorded, or NEW_CLUSTER_PARTITIONS for a new one. */
  partitions?: number | undefined;
  /** A dead instance's partitions move within this time. */
  failoverSeconds: number;
  /** Stream replicas; undefined: 3 when the cluster has ≥ 3 servers, else 1. */
  replicas?: number | undefined;
  /** How long events wait in a stream for a consumer before they are dropped. */
  streamMaxAgeHours: number;
}

/** Sets up the streams and the evaluator's partition consumers; every step is idempotent. */
export function provisionStreams(nc: NatsConnection, js: JetStreamClient, options: StreamOptions, log: Logger) {
  // A cluster still electing its leaders is asked again.
  return patiently(nc, log, async () => {
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
  });
}

export interface Consuming {
  js: JetStreamClient;
  jsm: JetStreamManager;
  failoverSeconds: number;
  log: Logger;
  counters: { consumed: number; redelivered: number; handler_failures: number };
  /** The consumers this process runs, for its health. */
  consumptions: Set<{ stream: string; durable: string }>;
}

/** Consumes `topic` as `group` (for 'telemetry.stored', one partition of it) until stopped. */
export function consumeStream<T extends DurableTopic>(
  consuming: Consuming,
  topic: T,
  group: string,
  handler: (event: BusEvents[T]) => Promise<void>,
  partition: number | undefined,
): Consumption {
  const { js, jsm, log, counters, consumptions } = consuming;
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
    let event: BusEvents[T];
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
        await ensureConsumer(jsm, stream, durable, filter, consuming.failoverSeconds, inOrder);
        const consumer = await js.consumers.get(stream, durable);
        // A few batches in hand (each up to CHUNK messages): what is not yet taken stays in the stream.
        // Pull requests live no longer than a lease: the server keeps sending to a dead instance's
        // open requests until they expire (30 s by default), which starved its partitions' new owner.
        messages = await consumer.consume({
          max_messages: 32,
          expires: Math.max(1000, leaseTtlMs(consuming.failoverSeconds)),
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

  return {
    async stop() {
      stopped = true;
      consumptions.delete(record);
      await messages?.close();
      await running;
      if (handling > 0) await new Promise<void>((resolve) => (drained = resolve));
    },
  };
}

/** The streams' sizes and this process's consumers' backlogs, for the bus's health. */
export async function streamsHealth(jsm: JetStreamManager, consumptions: Set<{ stream: string; durable: string }>) {
  const consumers: Record<string, { pending: number; ack_pending: number; redelivered: number }> = {};
  const streams: Record<string, { messages: number; bytes: number; replicas: number }> = {};
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
  return { streams, consumers };
}

/**
 * A cluster that has just started, or lost a node, answers JetStream requests only once it has elected
 * its leaders; under load that took longer than a request's 5 s when every process started at once, and
 * before its JetStream is up nothing answers at all ("jetstream is not enabled").
 */
const SETUP_PATIENCE_MS = 30_000;

/** Runs `setup` again while JetStream is not ready, for at most SETUP_PATIENCE_MS; other errors at once. */
async function patiently<T>(nc: NatsConnection, log: Logger, setup: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + SETUP_PATIENCE_MS;
  for (;;) {
    try {
      return await setup();
    } catch (error) {
      if (!notReadyYet(nc, error) || Date.now() > deadline) throw error;
      log.warn({ err: error }, 'NATS JetStream is not ready (electing leaders?); asking again');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/**
 * A timeout, a 503, or no answer from a server that says it runs JetStream: a cluster still starting. No
 * answer from a server without JetStream is refused at once.
 */
function notReadyYet(nc: NatsConnection, error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof TimeoutError) return true;
    if (cause instanceof JetStreamApiError && cause.status === 503) return true;
    // The class is not exported by @nats-io/jetstream; its name is set.
    if (cause.name === 'JetStreamNotEnabled') return nc.info?.jetstream === true;
  }
  return false;
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

export class PartitionMismatch extends Error {}

/**
 * Every instance must cut devices into the same partitions: the cluster's partition count is recorded by
 * the first process that starts (`wanted`, else NEW_CLUSTER_PARTITIONS); a process that wants another one
 * refuses to start.
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
