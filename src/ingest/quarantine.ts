// Rejected messages. Every reject is counted (in memory per reason, and per minute, tenant and reason in
// quarantine_counters_minute); its event row is stored with the payload in DEV, without it in PROD with
// STORE_REJECTS, or not at all. A stored payload never holds a provision token. Writes are batched every
// second and survive a database outage in memory (events up to a bound; counters always).
import type { Logger } from 'pino';
import { escapeControlCharacters } from '../lib/control-characters.js';
import type { Reason } from './reasons.js';
import { isRowError, saveIsolatingRowErrors } from './writer.js';
import type { RejectDetails } from './validate.js';
import type { CounterIncrement, QuarantineEventRow } from '../model/quarantine.js';

export const REDACTED = '[REDACTED]';
const MAX_BUFFERED_EVENTS = 10_000;
const MAX_RAW_CHARS = 4096;
const TOKEN_PATTERN = /tok-[A-Za-z0-9_-]+/g;

export interface Reject extends RejectDetails {
  topic: string;
  /** The parsed payload, or the raw text when it was not JSON. */
  payload: unknown;
  rawText?: string | undefined;
}

export type SaveQuarantine = (counters: CounterIncrement[], events: QuarantineEventRow[]) => Promise<void>;

export class Quarantine {
  readonly countsByReason = new Map<Reason, number>();
  private counters = new Map<string, CounterIncrement>();
  private events: QuarantineEventRow[] = [];
  private timer: NodeJS.Timeout;
  private saving: Promise<void> | undefined;
  eventsDropped = 0;
  /** Events the database refused even alone (their rejects are still counted). */
  eventsRefused = 0;

  constructor(
    private readonly save: SaveQuarantine,
    private readonly storage: () => 'payload' | 'event-only' | 'none',
    private readonly log: Logger,
    flushMs = 1000,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  get total(): number {
    let sum = 0;
    for (const n of this.countsByReason.values()) sum += n;
    return sum;
  }

  record(reject: Reject, nowMs = Date.now()): void {
    this.countsByReason.set(reject.reason, (this.countsByReason.get(reject.reason) ?? 0) + 1);
    const bucketMinute = new Date(Math.floor(nowMs / 60_000) * 60_000);
    const tenantId = reject.tenantId ?? 'unknown';
    const key = `${bucketMinute.getTime()}\u0000${tenantId}\u0000${reject.reason}`;
    const counter = this.counters.get(key) ?? { bucketMinute, tenantId, reason: reject.reason, count: 0 };
    counter.count += 1;
    this.counters.set(key, counter);

    const storage = this.storage();
    if (storage === 'none') return;
    if (this.events.length >= MAX_BUFFERED_EVENTS) {
      this.eventsDropped += 1;
      return;
    }
    this.events.push({
      eventTs: reject.eventTs,
      // A topic refused for its control characters is kept legible, and storable (U+0000).
      topic: escapeControlCharacters(reject.topic),
      tenantId: reject.tenantId,
      siteId: reject.siteId,
      deviceId: reject.deviceId,
      msgType: reject.msgType,
      reason: reject.reason,
      payload: storage === 'payload' ? redactPayload(reject.payload, reject.rawText) : {},
    });
  }

  /** Saves what was recorded since the last flush; on failure keeps it for the next one. */
  async flush(): Promise<void> {
    if (this.saving) return this.saving;
    if (this.counters.size === 0 && this.events.length === 0) return;
    const counters = [...this.counters.values()];
    const events = this.events;
    this.counters = new Map();
    this.events = [];
    this.saving = this.save(counters, events)
      .catch(async (error: unknown) => {
        // One event PostgreSQL refuses must not hold back the others (nor the counters) forever.
        if (isRowError(error)) return this.saveIsolating(counters, events);
        throw error;
      })
      .catch((error: unknown) => {
        this.log.warn({ err: error }, 'could not save quarantine; keeping it for the next attempt');
        for (const counter of counters) {
          const key = `${counter.bucketMinute.getTime()}\u0000${counter.tenantId}\u0000${counter.reason}`;
          const current = this.counters.get(key);
          if (current) current.count += counter.count;
          else this.counters.set(key, counter);
        }
        this.events = [...events, ...this.events].slice(0, MAX_BUFFERED_EVENTS);
      })
      .finally(() => {
        this.saving = undefined;
      });
    return this.saving;
  }

  /** Counters on their own, then events in halves until each refused one is alone, and dropped. */
  private async saveIsolating(counters: CounterIncrement[], events: QuarantineEventRow[]): Promise<void> {
    await this.save(counters, []);
    if (events.length === 0) return;
    await saveIsolatingRowErrors(
      events,
      (part) => this.save([], part),
      (event, error) => {
        this.eventsRefused += 1;
        this.log.warn({ err: error, reason: event.reason }, 'the database refused a quarantine event; dropped it');
      },
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

/** The payload as stored: the token replaced, non-JSON input kept as (truncated) text. */
export function redactPayload(payload: unknown, rawText?: string): unknown {
  if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
    const copy: Record<string, unknown> = { ...(payload as Record<string, unknown>) };
    if ('provision_token' in copy) copy.provision_token = REDACTED;
    return JSON.parse(JSON.stringify(copy).replace(TOKEN_PATTERN, REDACTED)) as unknown;
  }
  const text = rawText ?? JSON.stringify(payload) ?? '';
  return {
    raw: text.slice(0, MAX_RAW_CHARS).replace(TOKEN_PATTERN, REDACTED),
    ...(text.length > MAX_RAW_CHARS && { truncated: true }),
  };
}
