// The outbox: durable events wait here, in publish order, until JetStream has stored them, so a NATS outage
// or a node failover delays them instead of losing them; a message id makes a retried publish a no-op.
// Beyond its size limit the oldest events go.
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { backoffDelay } from '../lib/retry.js';

/** Durable publishes in flight at once (each waits for the stream's acknowledgement). */
const PUBLISH_WINDOW = 64;
/**
 * A stream without a leader (a node died) answers nothing: give up on an attempt soon and try again at
 * most a second later, so events flow as soon as a new leader is elected (the message id dedupes).
 */
const PUBLISH_TIMEOUT_MS = 3000;
/** Waits before the outbox sends again after a refusal (ms): a leader is usually back within a second. */
const OUTBOX_BACKOFF = { initial: 100, max: 1000 };

interface OutboxEntry {
  subject: string;
  data: string;
  msgId: string;
  sending: boolean;
}

export interface OutboxCounters {
  published: number;
  publish_retries: number;
  outbox_dropped: number;
}

export function createOutbox(
  js: JetStreamClient,
  options: { instanceId: string; maxBytes: number; log: Logger; counters: OutboxCounters },
) {
  const { instanceId, log, counters } = options;
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
    for (let i = 0; outboxBytes > options.maxBytes && i < outbox.length - 1;) {
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

  return {
    enqueue,
    /** Sends what waits (the connection is back). */
    pump,
    health: () => ({ events: outbox.length, bytes: outboxBytes }),
    /** Gives what waits a moment to reach the stream while connected; whatever is left is logged as lost. */
    async close(connected: () => boolean): Promise<void> {
      const deadline = Date.now() + 5000;
      while (outbox.length > 0 && connected() && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      closing = true;
      clearTimeout(retryTimer);
      if (outbox.length > 0) log.error({ events: outbox.length }, 'stopping with events NATS has not stored');
    },
  };
}
