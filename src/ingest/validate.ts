// The one validation both sources use (MQTT and HTTP), in the order of docs/wire-contract.md#validation with this
// project's fixes: authentication before rate limiting, INVALID_JSON for what is not a JSON object,
// typed metrics and seq, and a bound on timestamps from the future. Pure: the registry entry is looked up
// by the caller and the rate limiter is passed in as a function.
import { sha256Hex } from '../lib/credentials.js';
import { MAX_METRIC_KEY_LENGTH, METRIC_KEY } from '../lib/metric-key.js';
import type { Reason } from './reasons.js';
import type { DeviceTopic } from './topic.js';
import type { RegistryEntry } from '../model/device-registry.js';
import type { AcceptedMessage, Metrics } from '../contracts/messages.js';
import { jsonProblem } from '../lib/json-input.js';
import { isPosition } from '../model/geofence.js';

export interface ValidationInput {
  /** The message's topic parsed by the caller (parseTopic); null when it is not a device topic. */
  topic: DeviceTopic | null;
  /** The payload parsed as JSON; `undefined` when the bytes were not JSON. */
  payload: unknown;
  sizeBytes: number;
  /** HTTP sends the token in X-Provision-Token; MQTT devices put it in the payload. */
  headerToken?: string | undefined;
  /** The broker authenticated the sender as the topic's device (dynsec): a missing token is no reject. */
  topicAuthenticated?: boolean;
  /** HTTP only takes telemetry and heartbeat; MQTT, as the original, stores any message type. */
  allowedMsgTypes?: readonly string[] | undefined;
  /** The registry entry of the topic's device; null when it is not registered. */
  device: RegistryEntry | null;
  /** Takes one token from the device's bucket; called only for authenticated messages. */
  takeRateToken: () => boolean;
  maxPayloadBytes: number;
  maxClockSkewSeconds: number;
  /** How long a text metric may be (TEXT_METRIC_MAX_LENGTH). */
  maxTextLength?: number;
  nowMs: number;
}

export interface RejectDetails {
  reason: Reason;
  tenantId: string | null;
  deviceId: string | null;
  siteId: string | null;
  msgType: string | null;
  eventTs: Date | null;
}

export type Validation = { ok: true; message: AcceptedMessage } | ({ ok: false } & RejectDetails);

export const MAX_METRICS = 50;

export function validate(input: ValidationInput): Validation {
  const topic = input.topic;
  const payload = isPlainObject(input.payload) ? input.payload : null;
  const siteId = payload && typeof payload.site_id === 'string' ? payload.site_id : null;
  const eventTs = payload ? parseTimestamp(payload.ts) : null;
  const reject = (reason: Reason): Validation => ({
    ok: false,
    reason,
    tenantId: topic?.tenantId ?? null,
    deviceId: topic?.deviceId ?? null,
    siteId,
    msgType: topic?.msgType ?? null,
    eventTs,
  });

  if (input.sizeBytes > input.maxPayloadBytes) return reject('PAYLOAD_TOO_LARGE');
  if (!topic) return reject('BAD_TOPIC_FORMAT');
  if (input.allowedMsgTypes && !input.allowedMsgTypes.includes(topic.msgType)) return reject('INVALID_MSG_TYPE');
  if (!payload) return reject('INVALID_JSON');
  const payloadTenant = payload.tenant_id;
  if (
    payloadTenant !== undefined &&
    payloadTenant !== null &&
    payloadTenant !== '' &&
    payloadTenant !== topic.tenantId
  ) {
    return reject('TENANT_MISMATCH_TOPIC_VS_PAYLOAD');
  }
  if (!siteId) return reject('MISSING_SITE_ID');

  const device = input.device;
  if (!device) return reject('UNREGISTERED_DEVICE');
  if (device.status !== 'ACTIVE') return reject('DEVICE_REVOKED');
  if (device.site_id !== siteId) return reject('SITE_MISMATCH_REGISTRY_VS_PAYLOAD');
  const refused = tokenRefusal(device, input.headerToken ?? payload.provision_token, input.topicAuthenticated);
  if (refused) return reject(refused);

  // Only an authenticated message may spend the device's rate budget.
  if (!input.takeRateToken()) return reject('RATE_LIMITED');

  const checked = checkMetrics(payload.metrics, input.maxTextLength);
  if (!checked.ok) return reject(checked.reason);
  const metrics = checked.metrics;
  const seq = payload.seq ?? 0;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) return reject('INVALID_SEQ');
  if (eventTs && eventTs.getTime() > input.nowMs + input.maxClockSkewSeconds * 1000) return reject('TS_IN_FUTURE');

  return {
    ok: true,
    message: {
      time: eventTs ?? new Date(input.nowMs),
      tenant_id: topic.tenantId,
      device_id: topic.deviceId,
      site_id: siteId,
      msg_type: topic.msgType,
      seq,
      metrics,
    },
  };
}

export type ReplyCheck = { ok: true; payload: Record<string, unknown> } | ({ ok: false } & RejectDetails);

/**
 * A device's reply to commands (commands_ready, command_ack…, ADR 027): the same checks as a message up to
 * the rate limit — size, JSON object, tenant, registered and active device, token — but no site: a reply
 * is about the device, not a reading of one of its sites.
 */
export function authenticateReply(
  input: Omit<ValidationInput, 'allowedMsgTypes' | 'maxClockSkewSeconds' | 'maxTextLength'>,
): ReplyCheck {
  const topic = input.topic;
  const payload = isPlainObject(input.payload) ? input.payload : null;
  const reject = (reason: Reason): ReplyCheck => ({
    ok: false,
    reason,
    tenantId: topic?.tenantId ?? null,
    deviceId: topic?.deviceId ?? null,
    siteId: payload && typeof payload.site_id === 'string' ? payload.site_id : null,
    msgType: topic?.msgType ?? null,
    eventTs: null,
  });
  if (input.sizeBytes > input.maxPayloadBytes) return reject('PAYLOAD_TOO_LARGE');
  if (!topic) return reject('BAD_TOPIC_FORMAT');
  if (!payload) return reject('INVALID_JSON');
  const payloadTenant = payload.tenant_id;
  if (payloadTenant !== undefined && payloadTenant !== null && payloadTenant !== '' && payloadTenant !== topic.tenantId)
    return reject('TENANT_MISMATCH_TOPIC_VS_PAYLOAD');
  const device = input.device;
  if (!device) return reject('UNREGISTERED_DEVICE');
  if (device.status !== 'ACTIVE') return reject('DEVICE_REVOKED');
  const refused = tokenRefusal(device, input.headerToken ?? payload.provision_token, input.topicAuthenticated);
  if (refused) return reject(refused);
  if (!input.takeRateToken()) return reject('RATE_LIMITED');
  return { ok: true, payload };
}

/**
 * Why the token a message carries does not authenticate it as this active device, if it does not. A
 * token that is there is checked even when the broker vouched for the sender: a device sending a stale
 * one should hear of it.
 */
function tokenRefusal(
  device: RegistryEntry,
  token: unknown,
  topicAuthenticated: boolean | undefined,
): 'TOKEN_NOT_SET_IN_REGISTRY' | 'TOKEN_MISSING' | 'TOKEN_INVALID' | undefined {
  if (!device.provision_token_hash) return 'TOKEN_NOT_SET_IN_REGISTRY';
  const absent = token === undefined || token === null || token === '';
  if (absent) return topicAuthenticated ? undefined : 'TOKEN_MISSING';
  return typeof token === 'string' && tokenMatches(token, device.provision_token_hash) ? undefined : 'TOKEN_INVALID';
}

export const DEFAULT_MAX_TEXT_LENGTH = 256;

/**
 * At most 50 metrics under well-formed keys, each a finite number, a boolean, a text of at most
 * `maxTextLength` characters, or a position `{lat, lon, alt?, acc?}` in range; absent or null is {}.
 * A position out of range is INVALID_POSITION; anything else wrong (other objects, arrays, null values,
 * long texts) stays INVALID_METRICS (docs/wire-contract.md#quarantine-reasons).
 */
export function checkMetrics(
  value: unknown,
  maxTextLength = DEFAULT_MAX_TEXT_LENGTH,
): { ok: true; metrics: Metrics } | { ok: false; reason: 'INVALID_METRICS' | 'INVALID_POSITION' } {
  if (value === undefined || value === null) return { ok: true, metrics: {} };
  const invalid = { ok: false, reason: 'INVALID_METRICS' } as const;
  if (!isPlainObject(value)) return invalid;
  let count = 0;
  for (const key in value) {
    if (++count > MAX_METRICS) return invalid;
    if (key.length > MAX_METRIC_KEY_LENGTH || !METRIC_KEY.test(key)) return invalid;
    const metric = value[key];
    if (typeof metric === 'boolean') continue;
    if (typeof metric === 'number') {
      if (!Number.isFinite(metric)) return invalid;
      continue;
    }
    if (typeof metric === 'string') {
      // NUL cannot be stored in JSONB; an unpaired surrogate cannot either.
      if (metric.length > maxTextLength || jsonProblem(metric)) return invalid;
      continue;
    }
    if (!isPlainObject(metric) || !('lat' in metric || 'lon' in metric)) return invalid;
    if (!isPosition(metric)) return { ok: false, reason: 'INVALID_POSITION' };
  }
  return { ok: true, metrics: value as Metrics };
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const HAS_OFFSET = /(Z|[+-]\d{2}:?\d{2})$/i;

/** An ISO-8601 string as a Date (no offset means UTC); anything else is null and the server time is used. */
export function parseTimestamp(value: unknown): Date | null {
  if (typeof value !== 'string' || !ISO_8601.test(value.trim())) return null;
  const text = value.trim();
  const date = new Date(HAS_OFFSET.test(text) ? text : `${text}Z`);
  return Number.isNaN(date.getTime()) ? null : date;
}

// Devices send the same token with every message: remembering the hash of a token that matched saves a
// SHA-256 per message. Only matching tokens are remembered (a sender of made-up tokens adds nothing),
// tokens far longer than ours are refused unhashed, and the memo is bounded in bytes.
export const MAX_TOKEN_LENGTH = 256;
const MAX_REMEMBERED_BYTES = 16 * 1024 * 1024;
const ENTRY_OVERHEAD_BYTES = 200; // a Map entry, the 64-character hash
const matchedTokens = new Map<string, string>();
let rememberedBytes = 0;

/** Whether `token` logs in as this registered device: it is active and the token is its current one. */
export function credentialsMatch(device: RegistryEntry | null, token: string): boolean {
  return (
    device?.status === 'ACTIVE' && !!device.provision_token_hash && tokenMatches(token, device.provision_token_hash)
  );
}

function tokenMatches(token: string, expectedHash: string): boolean {
  if (token.length > MAX_TOKEN_LENGTH) return false;
  if (matchedTokens.get(token) === expectedHash) return true;
  const hash = sha256Hex(token);
  if (hash !== expectedHash) return false;
  const bytes = token.length * 2 + ENTRY_OVERHEAD_BYTES;
  if (rememberedBytes + bytes > MAX_REMEMBERED_BYTES) {
    matchedTokens.clear();
    rememberedBytes = 0;
  }
  matchedTokens.set(token, hash);
  rememberedBytes += bytes;
  return true;
}

/** Bytes the token memo holds (for tests). */
export const rememberedTokenBytes = () => rememberedBytes;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
