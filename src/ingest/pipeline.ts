// One message from either source to a stored row or a counted reject:
//   parse → registry (auth cache) → validate() → rate limit → writer (→ bus) | quarantine
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Bus } from '../bus/index.js';
import type { Database } from '../db/database.js';
import { retryWithBackoff } from '../lib/retry.js';
import { TokenBuckets } from '../lib/rate-limit.js';
import { DeviceAuthCache } from './auth-cache.js';
import { createIngestMetrics, type IngestMetrics } from './metrics.js';
import { Quarantine } from './quarantine.js';
import type { Reason } from './reasons.js';
import { memberText } from './json-member.js';
import { rejectStorage, type IngestSettings } from '../model/settings.js';
import { parseTopic } from './topic.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../lib/json-input.js';
import { authenticateReply, credentialsMatch, validate } from './validate.js';
import { isReplyType, parseReply, type Reply, type ReplyType } from '../model/command-protocol.js';
import { TelemetryWriter } from './writer.js';
import type { AcceptedMessage } from '../contracts/messages.js';
import { storeTelemetry, type TelemetryInsert } from '../model/telemetry.js';
import { registryEntries, type RegistryEntry } from '../model/device-registry.js';
import { saveQuarantine } from '../model/quarantine.js';
import { MAX_ID_LENGTH } from '../model/device-spec.js';
import { firstControlCharacter } from '../lib/control-characters.js';
import { isDataException } from '../lib/sqlstate.js';

export interface IngestOptions {
  batchSize: number;
  writerConcurrency: number;
  flushIntervalMs: number;
  maxBacklog: number;
  authCacheTtlMs: number;
  authCacheNegativeTtlMs: number;
  authCacheMaxSize: number;
  maxClockSkewSeconds: number;
  maxTextLength: number;
}

export interface IncomingMessage {
  source: 'mqtt' | 'http';
  topic: string;
  /** Raw bytes (MQTT) or the body text (HTTP); parsed here. */
  body: Buffer | string;
  /** The size as sent, when body holds only the first bytes of a message too large to keep. */
  sizeBytes?: number;
  headerToken?: string | undefined;
  /** The broker authenticated the sender as the topic's device: a payload without a token is its own. */
  topicAuthenticated?: boolean;
  allowedMsgTypes?: readonly string[] | undefined;
  /**
   * How the caller needs the outcome: 'stored' waits until the row is written (HTTP 202, MQTT QoS 1);
   * 'queued' returns once it is accepted into the writer (MQTT QoS 0).
   */
  wait: 'stored' | 'queued';
}

export type Outcome =
  | { accepted: true; message: AcceptedMessage }
  | { accepted: true; reply: ReplyType }
  | { accepted: false; reason: Reason };

/** Takes a device's reply to commands (ADR 027); resolves once it is recorded. */
export type ReplyHandler = (device: { tenant_id: string; device_id: string }, reply: Reply) => Promise<void>;

/** Replies that answer a command Pulse sent, rather than start something. */
const ANSWERS: ReadonlySet<ReplyType> = new Set(['command_ack', 'command_progress', 'command_result']);

/** How long a message somebody waits on may linger before its batch is flushed. */
const WAITED_LINGER_MS = 20;

export class IngestPipeline {
  readonly cache: DeviceAuthCache;
  readonly writer: TelemetryWriter<TelemetryInsert>;
  readonly quarantine: Quarantine;
  private readonly buckets: TokenBuckets;
  private settings: IngestSettings;
  readonly metrics: IngestMetrics;
  readonly counters = { received: 0, accepted: 0, written: 0, rejected: 0 };
  lastWriteAt: Date | null = null;
  private stopping = false;
  /** Messages waiting for their device's registry entry; they count against the backlog too. */
  private lookingUp = 0;
  private lookupWaiters: (() => void)[] = [];
  /** Accepted in this event-loop turn, announced together on the bus. */
  private acceptedThisTurn: AcceptedMessage[] = [];
  /** Where devices' replies to commands go; until set, they are stored as messages of their type. */
  onReply: ReplyHandler | undefined;
  readonly replyCounters = { received: 0, recorded: 0 };

  constructor(
    db: Database,
    private readonly bus: Bus,
    private readonly log: Logger,
    initialSettings: IngestSettings,
    private readonly options: IngestOptions,
    registry: Registry,
  ) {
    this.settings = initialSettings;
    this.metrics = createIngestMetrics(registry, () => this.writer.backlog);
    this.cache = new DeviceAuthCache((keys) => db.withService((tx) => registryEntries(tx, keys)), {
      ttlMs: options.authCacheTtlMs,
      negativeTtlMs: options.authCacheNegativeTtlMs,
      maxSize: options.authCacheMaxSize,
    });
    this.buckets = new TokenBuckets({
      ratePerSecond: initialSettings.rateLimitRps,
      burst: initialSettings.rateLimitBurst,
    });
    this.quarantine = new Quarantine(
      (counters, events) => db.withService((tx) => saveQuarantine(tx, counters, events)),
      () => rejectStorage(this.settings),
      log,
    );
    this.writer = new TelemetryWriter<TelemetryInsert>((rows) => storeTelemetry(db, rows), {
      batchSize: options.batchSize,
      concurrency: options.writerConcurrency,
      flushIntervalMs: options.flushIntervalMs,
      maxBacklog: options.maxBacklog,
      onBatch: (seconds) => this.metrics.batchSeconds.observe(seconds),
      onWritten: (rows) => {
        const messages = rows.map((row) => row.message);
        this.counters.written += messages.length;
        this.metrics.written.inc(messages.length);
        this.lastWriteAt = new Date();
        this.bus.publish('telemetry.stored', messages);
      },
      onRowFailed: ({ message }, error) => {
        this.log.error(
          { err: error, tenant_id: message.tenant_id, device_id: message.device_id },
          'row refused by the database',
        );
        this.reject({
          reason: 'WRITE_FAILED',
          topic: `tenant/${message.tenant_id}/device/${message.device_id}/${message.msg_type}`,
          tenantId: message.tenant_id,
          deviceId: message.device_id,
          siteId: message.site_id,
          msgType: message.msg_type,
          eventTs: message.time,
          payload: { site_id: message.site_id, seq: message.seq, metrics: message.metrics, error: error.message },
        });
      },
      onRetry: (error, delayMs) =>
        this.log.warn(
          { err: error, retry_in_ms: delayMs, backlog: this.writer.backlog },
          'database unavailable; holding telemetry',
        ),
    });
  }

  applySettings(settings: IngestSettings): void {
    this.settings = settings;
    this.buckets.setLimits({ ratePerSecond: settings.rateLimitRps, burst: settings.rateLimitBurst });
  }

  /**
   * Whether sources should stop reading: accepted messages not yet written plus messages still waiting
   * for a registry lookup (a cold cache or an unreachable database must not buffer without bound).
   */
  get isFull(): boolean {
    return this.writer.backlog + this.lookingUp >= this.options.maxBacklog;
  }

  async waitForRoom(): Promise<void> {
    while (this.isFull) {
      if (this.writer.isFull) await this.writer.waitForRoom();
      else await new Promise<void>((wake) => this.lookupWaiters.push(wake)); // lookups are pending
    }
  }

  /** Whether a broker login as this device with this token is valid (the same cache as messages use). */
  async credentialsValid(tenantId: string, deviceId: string, token: string): Promise<boolean> {
    if (tenantId.length > MAX_ID_LENGTH || deviceId.length > MAX_ID_LENGTH) return false;
    // No device's id has a control character: refused before the registry is asked (a topic's are too).
    if (firstControlCharacter(tenantId) ?? firstControlCharacter(deviceId)) return false;
    return credentialsMatch(await this.registryEntry(tenantId, deviceId), token);
  }

  /** The device's entry; an id the database refuses as data (SQLSTATE class 22) is no device's, not an outage. */
  private async registryEntry(tenantId: string, deviceId: string): Promise<RegistryEntry | null> {
    try {
      return await this.cache.get(tenantId, deviceId);
    } catch (error) {
      if (isDataException(error)) return null;
      throw error;
    }
  }

  /** A device's registration changed in this process: forget what the cache knows. */
  forgetDevice(tenantId: string, deviceId: string): void {
    this.cache.invalidate(tenantId, deviceId);
  }

  async handle(incoming: IncomingMessage): Promise<Outcome> {
    this.counters.received += 1;
    this.metrics.received.inc({ source: incoming.source });
    const received = typeof incoming.body === 'string' ? Buffer.byteLength(incoming.body) : incoming.body.length;
    const sizeBytes = incoming.sizeBytes ?? received;
    // Cut short by the MQTT reader (MQTT_MAX_PACKET_BYTES) even when MAX_PAYLOAD_BYTES is larger.
    const tooLarge = sizeBytes > this.settings.maxPayloadBytes || sizeBytes > received;
    // An oversized payload is never decoded whole; its first bytes are enough for the quarantine.
    const body = tooLarge ? incoming.body.slice(0, 4096) : incoming.body;
    const text = typeof body === 'string' ? body : body.toString('utf8');
    let payload: unknown;
    try {
      payload = tooLarge ? undefined : JSON.parse(text);
    } catch {
      payload = undefined;
    }
    // Absurd nesting is not a message (and would overflow the stack of whatever walks it next).
    if (nestsDeeperThan(payload, MAX_JSON_DEPTH)) payload = undefined;

    const topic = parseTopic(incoming.topic);
    let device: RegistryEntry | null = null;
    // Ids longer than any registered one are unregistered without asking (nor caching the answer: a
    // sender of ever-new long ids must not fill the cache).
    if (topic && !tooLarge && topic.tenantId.length <= MAX_ID_LENGTH && topic.deviceId.length <= MAX_ID_LENGTH) {
      // Most messages come from a device the cache knows: no promise, no wait.
      const cached = this.cache.peek(topic.tenantId, topic.deviceId);
      device = cached !== undefined ? cached : await this.lookup(topic.tenantId, topic.deviceId, incoming.source);
    }
    const now = Date.now();
    if (topic && this.onReply && !incoming.allowedMsgTypes && isReplyType(topic.msgType)) {
      return this.handleReply(incoming, {
        topic,
        msgType: topic.msgType,
        payload,
        sizeBytes,
        received,
        text,
        device,
        now,
      });
    }
    const result = validate({
      topic,
      payload,
      sizeBytes,
      headerToken: incoming.headerToken,
      topicAuthenticated: incoming.topicAuthenticated ?? false,
      allowedMsgTypes: incoming.allowedMsgTypes,
      device,
      takeRateToken: () => this.buckets.tryTake(`${topic?.tenantId}\u0000${topic?.deviceId}`, now),
      // A message cut short is too large whatever MAX_PAYLOAD_BYTES says.
      maxPayloadBytes: Math.min(this.settings.maxPayloadBytes, received),
      maxClockSkewSeconds: this.options.maxClockSkewSeconds,
      maxTextLength: this.options.maxTextLength,
      nowMs: now,
    });

    if (!result.ok)
      return this.reject({
        ...result,
        topic: incoming.topic,
        payload,
        rawText: payload === undefined ? text : undefined,
      });

    if (this.writer.isFull) {
      if (incoming.wait === 'queued') {
        return this.reject({ ...rejectFields(result.message), reason: 'OVERLOADED', topic: incoming.topic, payload });
      }
      await this.writer.waitForRoom();
    }
    this.counters.accepted += 1;
    this.metrics.accepted.inc({ source: incoming.source });
    this.announce(result.message);
    const row = { message: result.message, metricsJson: metricsText(text, result.message.metrics) };
    const written = this.writer.add(row, incoming.wait === 'stored' ? WAITED_LINGER_MS : undefined);
    if (incoming.wait === 'stored' && (await written) === 'failed') return { accepted: false, reason: 'WRITE_FAILED' };
    return { accepted: true, message: result.message };
  }

  /** A reply to commands: authenticated as a message is, parsed, and recorded before it is acknowledged. */
  private async handleReply(
    incoming: IncomingMessage,
    read: {
      topic: NonNullable<ReturnType<typeof parseTopic>>;
      msgType: ReplyType;
      payload: unknown;
      sizeBytes: number;
      received: number;
      text: string;
      device: RegistryEntry | null;
      now: number;
    },
  ): Promise<Outcome> {
    const { topic, payload } = read;
    const checked = authenticateReply({
      topic,
      payload,
      sizeBytes: read.sizeBytes,
      headerToken: incoming.headerToken,
      topicAuthenticated: incoming.topicAuthenticated ?? false,
      device: read.device,
      // Answers to commands are bounded by the commands sent; the device's rate budget is for what it starts.
      takeRateToken: () =>
        ANSWERS.has(read.msgType) || this.buckets.tryTake(`${topic.tenantId}\u0000${topic.deviceId}`, read.now),
      maxPayloadBytes: Math.min(this.settings.maxPayloadBytes, read.received),
      nowMs: read.now,
    });
    if (!checked.ok)
      return this.reject({
        ...checked,
        topic: incoming.topic,
        payload,
        rawText: payload === undefined ? read.text : undefined,
      });
    const parsed = parseReply(read.msgType, checked.payload);
    if (!parsed.ok) {
      return this.reject({
        reason: 'INVALID_REPLY',
        topic: incoming.topic,
        payload: { ...checked.payload, problem: parsed.problem },
        tenantId: topic.tenantId,
        deviceId: topic.deviceId,
        siteId: null,
        msgType: topic.msgType,
        eventTs: null,
      });
    }
    this.replyCounters.received += 1;
    await this.onReply!({ tenant_id: topic.tenantId, device_id: topic.deviceId }, parsed.reply);
    this.replyCounters.recorded += 1;
    return { accepted: true, reply: read.msgType };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.writer.stop();
    await this.quarantine.stop();
  }

  private announce(message: AcceptedMessage): void {
    if (this.acceptedThisTurn.push(message) > 1) return;
    setImmediate(() => {
      const batch = this.acceptedThisTurn;
      this.acceptedThisTurn = [];
      this.bus.publish('telemetry.accepted', batch);
    });
  }

  /**
   * A message refused before it could be read (HTTP: too large, wrong media type, no token header…):
   * counted and quarantined like any reject, with no payload.
   */
  rejectUnread(source: IncomingMessage['source'], reason: Reason, topic: string): void {
    this.counters.received += 1;
    this.metrics.received.inc({ source });
    const parsed = parseTopic(topic);
    this.reject({
      reason,
      topic,
      payload: undefined,
      tenantId: parsed?.tenantId ?? null,
      deviceId: parsed?.deviceId ?? null,
      siteId: null,
      msgType: parsed?.msgType ?? null,
      eventTs: null,
    });
  }

  private reject(reject: Parameters<Quarantine['record']>[0]): Outcome {
    this.counters.rejected += 1;
    this.metrics.rejected.inc({ reason: reject.reason });
    this.quarantine.record(reject);
    return { accepted: false, reason: reject.reason };
  }

  /** MQTT waits out a database outage (the broker holds what it has not been acked); HTTP fails fast. */
  private async lookup(tenantId: string, deviceId: string, source: IncomingMessage['source']) {
    this.lookingUp += 1;
    try {
      return await retryWithBackoff(() => this.registryEntry(tenantId, deviceId), {
        initial: 100,
        max: 5000,
        beforeRetry: (error, delayMs) => {
          // Stopping: leave the message unacknowledged; the broker delivers it again later.
          if (source !== 'mqtt' || this.stopping) throw error;
          this.log.warn({ err: error, retry_in_ms: delayMs }, 'registry lookup failed; retrying');
        },
      });
    } finally {
      this.lookingUp -= 1;
      for (const wake of this.lookupWaiters.splice(0)) wake();
    }
  }
}

/** The metrics as the device wrote them, or serialised when they cannot be cut out of the payload. */
function metricsText(payloadText: string, metrics: AcceptedMessage['metrics']): string {
  for (const _ in metrics) return memberText(payloadText, 'metrics') ?? JSON.stringify(metrics);
  return '{}'; // absent, null or empty
}

function rejectFields(message: AcceptedMessage) {
  return {
    tenantId: message.tenant_id,
    deviceId: message.device_id,
    siteId: message.site_id,
    msgType: message.msg_type,
    eventTs: message.time,
  };
}
