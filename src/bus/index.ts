// The stage-to-stage bus: what one role tells another. Two implementations of one interface:
//   - in-process (`pulse up`, NATS_URL unset): handlers run after the publisher's current tick;
//   - NATS (`bus/nats.ts`): durable JetStream streams for what must not be lost, plain subjects for what
//     is only live, so the roles can run as separate processes and several instances (ADR 015).
// A throwing handler never affects the publisher or other handlers.
import type { Logger } from 'pino';
import type { ComponentHealth } from '../contracts/health.js';
import type { AcceptedMessage, AlertEvent, CommandChange, DeviceKey } from '../contracts/messages.js';

export interface BusEvents {
  /** Messages accepted by ingest, before they are stored (live views); gathered per event-loop turn. Live. */
  'telemetry.accepted': AcceptedMessage[];
  /** Messages stored in telemetry, in batches as written. Durable, partitioned by device. */
  'telemetry.stored': AcceptedMessage[];
  /**
   * A device's registration, token or status changed (caches must forget it), or with `labels_only` just its
   * site, firmware, metadata, tags or attributes (its login and connection stay). Live.
   */
  'device.changed': { tenant_id: string; device_id: string; labels_only?: boolean };
  /** A tenant's alert reader (an MQTT login for alerts/<tenant>/#) was removed: put it out. Live. */
  'reader.removed': { tenant_id: string; name: string };
  /** An alert opened, changed or closed (after the change is committed). Durable for the dispatcher. */
  'alert.changed': AlertEvent;
  /** Delivery jobs were queued (workers start on them without waiting for their poll). Live, a hint. */
  'delivery.queued': { jobs: number };
  /** Commands were queued for these devices (sent at once to those connected). Live, a hint: the sender's sweep catches what is lost. */
  'commands.queued': DeviceKey[];
  /** A device connected for commands (its commands_ready) or went away. Live, a hint, as above. */
  'device.presence': DeviceKey & { online: boolean };
  /** Commands changed state (answered, expired, canceled): waiting API calls, the sender, jobs. Live. */
  'commands.changed': CommandChange[];
  /** The desired configuration of these devices changed. Live, a hint, as above. */
  'config.changed': DeviceKey[];
}

export type BusTopic = keyof BusEvents;
/** Topics kept in a stream until a consumer has handled them. */
export type DurableTopic = 'telemetry.stored' | 'alert.changed';

/** The group that consumes stored messages, partition by partition (the evaluator role). */
export const STORED_CONSUMER_GROUP = 'evaluator';

export type Handler<T extends BusTopic> = (event: BusEvents[T]) => void | Promise<void>;

export interface Consumption {
  /** Stops taking events and waits for the ones being handled; the rest go to another consumer. */
  stop(): Promise<void>;
}

/** Partitions a group of instances share: each is owned by one live instance at a time. */
export interface PartitionOwner {
  /** Called when this instance takes partitions (it restores their state, then consumes them). */
  acquire(partitions: number[]): Promise<void>;
  /** Called when it gives partitions up or lost them: stop consuming and forget their devices. */
  release(partitions: number[]): Promise<void>;
}

export interface Ownership {
  owned(): number[];
  stop(): Promise<void>;
}

export interface Bus {
  readonly kind: 'in-process' | 'nats';
  /** How many partitions device-keyed durable topics have (1 in-process). */
  readonly partitions: number;
  /** Publishes an event; durable topics are kept (and retried while the bus is away) until stored. */
  publish<T extends BusTopic>(topic: T, event: BusEvents[T]): void;
  /** Every subscriber of every instance gets every event while it is connected. Returns an unsubscribe. */
  subscribe<T extends BusTopic>(topic: T, handler: Handler<T>): () => void;
  /**
   * Durable and shared: each event goes to one consumer of `group`, and is acknowledged when the
   * handler's promise resolves; a rejection or a crash delivers it again (to this or another instance).
   * For 'telemetry.stored', `partition` names which partition to consume.
   */
  consume<T extends DurableTopic>(
    topic: T,
    group: string,
    handler: (event: BusEvents[T]) => Promise<void>,
    partition?: number,
  ): Promise<Consumption>;
  /**
   * Calls `handler` when live events may have been missed (the connection to NATS was lost and is back):
   * whatever was kept up to date by them (a cache) should be dropped. Returns an unsubscribe.
   */
  onLiveGap(handler: () => void): () => void;
  /** Joins the instances of `group` sharing the topic's partitions; calls owner as partitions move. */
  own(group: string, owner: PartitionOwner): Promise<Ownership>;
  health(): ComponentHealth | Promise<ComponentHealth>;
  close(): Promise<void>;
}

export function createInProcessBus(log: Logger): Bus {
  const handlers = new Map<BusTopic, Set<(event: never) => void | Promise<void>>>();
  const subscribe = <T extends BusTopic>(topic: T, handler: Handler<T>) => {
    const set = handlers.get(topic) ?? new Set();
    set.add(handler as (event: never) => void);
    handlers.set(topic, set);
    return () => void set.delete(handler as (event: never) => void);
  };
  return {
    kind: 'in-process',
    partitions: 1,
    publish(topic, event) {
      for (const handler of handlers.get(topic) ?? []) {
        queueMicrotask(() => {
          Promise.resolve()
            .then(() => (handler as (e: typeof event) => void | Promise<void>)(event))
            .catch((error: unknown) => log.error({ err: error, topic }, 'bus handler failed'));
        });
      }
    },
    subscribe,
    // One process holds every role that publishes and consumes: a consumer is a subscriber.
    consume(topic, _group, handler) {
      const unsubscribe = subscribe(topic, handler as Handler<typeof topic>);
      return Promise.resolve({ stop: () => Promise.resolve(unsubscribe()) });
    },
    onLiveGap: () => () => undefined, // nothing travels between processes: nothing is missed
    async own(_group, owner) {
      await owner.acquire([0]);
      return { owned: () => [0], stop: () => owner.release([0]) };
    },
    health: () => ({ status: 'ok', kind: 'in-process' }),
    close: () => Promise.resolve(),
  };
}
