// The stage-to-stage bus. In-process for now (one `pulse up`); a NATS JetStream implementation of the
// same interface comes with multi-instance deployments. Handlers run after the publisher's current
// tick and a throwing handler never affects the publisher or other handlers.
import type { Logger } from 'pino';

export interface AcceptedMessage {
  time: Date;
  tenant_id: string;
  device_id: string;
  site_id: string;
  msg_type: string;
  seq: number;
  metrics: Record<string, number | boolean>;
}

export interface AlertEvent {
  event: 'OPENED' | 'UPDATED' | 'ACKNOWLEDGED' | 'CLOSED';
  alert_id: number;
  tenant_id: string;
  fingerprint: string;
}

export interface BusEvents {
  /** Messages accepted by ingest, before they are stored (live views); gathered per event-loop turn. */
  'telemetry.accepted': AcceptedMessage[];
  /** Messages stored in telemetry, in batches as written. */
  'telemetry.stored': AcceptedMessage[];
  /** A device's registration, token or status changed (caches must forget it). */
  'device.changed': { tenant_id: string; device_id: string };
  /** An alert opened, changed or closed (after the change is committed). */
  'alert.changed': AlertEvent;
  /** Delivery jobs were queued (workers in this process start on them without waiting for their poll). */
  'delivery.queued': { jobs: number };
}

export type BusTopic = keyof BusEvents;

export interface Bus {
  publish<T extends BusTopic>(topic: T, event: BusEvents[T]): void;
  /** Returns a function that unsubscribes. */
  subscribe<T extends BusTopic>(topic: T, handler: (event: BusEvents[T]) => void | Promise<void>): () => void;
}

export function createInProcessBus(log: Logger): Bus {
  const handlers = new Map<BusTopic, Set<(event: never) => void | Promise<void>>>();
  return {
    publish(topic, event) {
      for (const handler of handlers.get(topic) ?? []) {
        queueMicrotask(() => {
          Promise.resolve()
            .then(() => (handler as (e: typeof event) => void | Promise<void>)(event))
            .catch((error: unknown) => log.error({ err: error, topic }, 'bus handler failed'));
        });
      }
    },
    subscribe(topic, handler) {
      const set = handlers.get(topic) ?? new Set();
      set.add(handler as (event: never) => void);
      handlers.set(topic, set);
      return () => set.delete(handler as (event: never) => void);
    },
  };
}
