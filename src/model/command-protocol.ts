// The device side of commands and configuration (issue 30, ADR 027; docs/commands.md for device makers).
// Pure: topics, the payloads Pulse sends, and the replies devices send, parsed without ever throwing.
//
// Pulse → device, QoS 1, on the device's own subtree (its login may subscribe there and nowhere else):
//   tenant/{t}/device/{d}/commands/{command_id}   {"id","name","params","created_at","expires_at"}
//   tenant/{t}/device/{d}/commands/config         {"version","desired"}
// Device → Pulse, on its own topics (five levels, as telemetry: the same logins and ACLs already allow them):
//   commands_ready     {}                                   subscribed: send what is waiting
//   commands_offline   {}                                   going away (also its last will)
//   command_ack        {"id"}                               has it: DELIVERED
//   command_progress   {"id","state","detail"?}             under way (firmware: DOWNLOADING…)
//   command_result     {"id","status","result"?,"error"?}   SUCCEEDED or FAILED
//   config_reported    {"version","reported"}               what it applied
//   attributes_reported {"attributes"}                      what it knows of itself (model, build…): all of it
// Each may carry `provision_token` where the broker does not authenticate devices (as telemetry does).
import { isUuid } from '../lib/uuid.js';
import { jsonProblem } from '../lib/json-input.js';
import { checkAttributes, type Attributes } from './device-tags.js';

export const REPLY_TYPES = [
  'commands_ready',
  'commands_offline',
  'command_ack',
  'command_progress',
  'command_result',
  'config_reported',
  'attributes_reported',
] as const;
export type ReplyType = (typeof REPLY_TYPES)[number];

export const isReplyType = (msgType: string): msgType is ReplyType =>
  (REPLY_TYPES as readonly string[]).includes(msgType);

/** What results, progress details, parameters and reported configurations may hold, in bytes of JSON. */
export const MAX_DOCUMENT_BYTES = 16 * 1024;
export const MAX_ERROR_LENGTH = 1000;
export const MAX_COMMAND_NESTING = 16;
/** A command's name: what the device switches on. */
export const COMMAND_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
/** The command Pulse sends for a firmware update (fleet jobs of kind firmware). */
export const FIRMWARE_COMMAND = 'firmware_update';
const PROGRESS_STATE = /^[A-Z][A-Z0-9_]{0,31}$/;

export const commandsTopic = (tenantId: string, deviceId: string, leaf: string) =>
  `tenant/${tenantId}/device/${deviceId}/commands/${leaf}`;
export const CONFIG_LEAF = 'config';

export interface CommandMessage {
  id: string;
  name: string;
  params: unknown;
  created_at: string;
  expires_at: string;
}

export type Reply =
  | { type: 'commands_ready' | 'commands_offline' }
  | { type: 'command_ack'; id: string }
  | { type: 'command_progress'; id: string; state: string; detail: unknown }
  | { type: 'command_result'; id: string; status: 'SUCCEEDED' | 'FAILED'; result: unknown; error: string | null }
  | { type: 'config_reported'; version: number; reported: Record<string, unknown> }
  | { type: 'attributes_reported'; attributes: Attributes };

export type ParsedReply = { ok: true; reply: Reply } | { ok: false; problem: string };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A JSON document a device may send (result, detail, reported): bounded in size and depth, storable. */
export function documentProblem(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const problem = jsonProblem(value, MAX_COMMAND_NESTING);
  if (problem) return `${what} ${problem}`;
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > MAX_DOCUMENT_BYTES) return `${what} is ${bytes} bytes of JSON, at most ${MAX_DOCUMENT_BYTES}`;
  return undefined;
}

function commandId(payload: Record<string, unknown>): string | undefined {
  return typeof payload.id === 'string' && isUuid(payload.id) ? payload.id.toLowerCase() : undefined;
}

/** A device's reply of type `type` from its parsed JSON payload; never throws, whatever it is given. */
export function parseReply(type: ReplyType, payload: unknown): ParsedReply {
  const fail = (problem: string): ParsedReply => ({ ok: false, problem });
  if (!isObject(payload)) return fail('the payload must be a JSON object');
  if (type === 'commands_ready' || type === 'commands_offline') return { ok: true, reply: { type } };
  if (type === 'attributes_reported') {
    const checked = checkAttributes(payload.attributes);
    return 'error' in checked ? fail(checked.error) : { ok: true, reply: { type, attributes: checked.attributes } };
  }
  if (type === 'config_reported') {
    const { version, reported } = payload;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0)
      return fail('version must be the non-negative integer of the desired configuration applied');
    if (!isObject(reported)) return fail('reported must be a JSON object');
    const problem = documentProblem(reported, 'reported');
    return problem ? fail(problem) : { ok: true, reply: { type, version, reported } };
  }
  const id = commandId(payload);
  if (!id) return fail('id must be the command id (a UUID) the command came with');
  if (type === 'command_ack') return { ok: true, reply: { type, id } };
  if (type === 'command_progress') {
    if (typeof payload.state !== 'string' || !PROGRESS_STATE.test(payload.state))
      return fail('state must be an upper-case word of at most 32 characters, such as DOWNLOADING');
    const problem = documentProblem(payload.detail, 'detail');
    return problem
      ? fail(problem)
      : { ok: true, reply: { type, id, state: payload.state, detail: payload.detail ?? null } };
  }
  const status = payload.status;
  if (status !== 'SUCCEEDED' && status !== 'FAILED') return fail('status must be SUCCEEDED or FAILED');
  const error = payload.error ?? null;
  if (error !== null && (typeof error !== 'string' || error.length > MAX_ERROR_LENGTH))
    return fail(`error must be a string of at most ${MAX_ERROR_LENGTH} characters`);
  const problem = documentProblem(payload.result, 'result');
  if (problem) return fail(problem);
  if (error !== null && jsonProblem(error)) return fail('error holds a NUL character or an unpaired surrogate');
  return { ok: true, reply: { type, id, status, result: payload.result ?? null, error } };
}

/** Where a firmware progress report leaves the command: UPDATED succeeds it, FAILED fails it. */
export function firmwareOutcome(state: string): 'SUCCEEDED' | 'FAILED' | undefined {
  if (state === 'UPDATED') return 'SUCCEEDED';
  if (state === 'FAILED') return 'FAILED';
  return undefined;
}

/**
 * The top-level keys whose values differ between the desired and the reported configuration (missing on
 * one side counts), sorted: what the device page calls the delta.
 */
export function configDelta(desired: Record<string, unknown>, reported: Record<string, unknown> | null): string[] {
  const keys = new Set([...Object.keys(desired), ...Object.keys(reported ?? {})]);
  return [...keys].filter((key) => !sameJson(desired[key], reported?.[key])).sort();
}

/** Deep equality of two JSON values; object keys in any order. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => sameJson(item, other[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length && keys.every((key) => key in right && sameJson(left[key], right[key]))
  );
}

/**
 * A desired configuration patched (RFC 7386 merge patch, top level and nested): a null value removes its
 * key, an object merges into an object, anything else replaces.
 */
export function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else if (isObject(value)) merged[key] = mergePatch(isObject(merged[key]) ? merged[key] : {}, value);
    else merged[key] = value;
  }
  return merged;
}
