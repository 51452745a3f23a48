// What a simulated device does with what Pulse sends on its commands subtree (docs/commands.md): a pure
// function from the device's state and one message to its next state and the actions to take. The edge
// (index.ts) publishes, disconnects and downloads. Any payload is taken without throwing: a message that is
// not a command is dropped, a command it cannot run is answered FAILED with the reason.
import { createHash } from 'node:crypto';
import { COMMAND_NAME, CONFIG_LEAF, FIRMWARE_COMMAND, type ReplyType } from '../model/command-protocol.js';
import { isUuid } from '../lib/uuid.js';

const MIN_INTERVAL_SECONDS = 1;
const MAX_INTERVAL_SECONDS = 3600;
const MAX_FIRMWARE_BYTES = 64 * 1024 * 1024;
/** Answers remembered for commands sent again with the same id (after a reconnection). */
const REMEMBERED_ANSWERS = 64;

export interface DeviceControl {
  /** Seconds between telemetry messages: set_interval and the configuration's interval_seconds. */
  telemetrySeconds: number;
  fwVersion: string;
  /** When it (last) booted, in ms: ping's uptime. */
  bootedAt: number;
  /** The version of the desired configuration it applied last; -1 before any. */
  configVersion: number;
  /** Its answers to its latest commands, by id: a command sent again is answered again, not run again. */
  answered: readonly { id: string; replies: readonly Reply[] }[];
}

/** A message the device publishes on `tenant/{t}/device/{d}/{type}`. */
export interface Reply {
  type: Exclude<ReplyType, 'commands_ready' | 'commands_offline'>;
  payload: Record<string, unknown>;
}

export interface FirmwareUpdate {
  url: string;
  size: number;
  sha256: string;
  version: string;
}

export type Action =
  | { kind: 'publish'; reply: Reply }
  /** Disconnect cleanly and come back a little later, booted anew. */
  | { kind: 'reboot' }
  /** Download the image, then answer with afterDownload. */
  | { kind: 'download'; id: string; update: FirmwareUpdate };

interface Handled {
  control: DeviceControl;
  actions: Action[];
}

export const initialControl = (telemetrySeconds: number, fwVersion: string, now: number): DeviceControl => ({
  telemetrySeconds,
  fwVersion,
  bootedAt: now,
  configVersion: -1,
  answered: [],
});

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isInterval = (value: unknown): value is number =>
  Number.isInteger(value) && (value as number) >= MIN_INTERVAL_SECONDS && (value as number) <= MAX_INTERVAL_SECONDS;

const publish = (type: Reply['type'], payload: Record<string, unknown>): Action => ({
  kind: 'publish',
  reply: { type, payload },
});
const result = (id: string, status: 'SUCCEEDED' | 'FAILED', body: { result?: unknown; error?: string }) =>
  publish('command_result', { id, status, ...body });
const progress = (id: string, state: string, detail: Record<string, unknown>) =>
  publish('command_progress', { id, state, detail });

/** `control` with the answers to command `id` remembered (the latest of them replace earlier ones). */
function remember(control: DeviceControl, id: string, actions: Action[]): DeviceControl {
  const replies = actions.flatMap((action) => (action.kind === 'publish' ? [action.reply] : []));
  const others = control.answered.filter((entry) => entry.id !== id);
  return { ...control, answered: [...others, { id, replies }].slice(-REMEMBERED_ANSWERS) };
}

/** What the device does with `payload` arriving on `…/commands/{leaf}` at `now` (ms). */
export function handleMessage(control: DeviceControl, leaf: string, payload: Buffer | string, now: number): Handled {
  let message: unknown;
  try {
    message = JSON.parse(payload.toString());
  } catch {
    return { control, actions: [] };
  }
  if (!isObject(message)) return { control, actions: [] };
  return leaf === CONFIG_LEAF ? applyConfig(control, message) : runCommand(control, leaf, message, now);
}

/** Applies the keys it knows (interval_seconds) and reports, for each it was given, what it now has. */
function applyConfig(control: DeviceControl, message: Record<string, unknown>): Handled {
  const { version, desired } = message;
  if (!Number.isSafeInteger(version) || (version as number) < 0 || !isObject(desired)) return { control, actions: [] };
  // An older version arriving late is not applied over a newer one.
  if ((version as number) < control.configVersion) return { control, actions: [] };
  const telemetrySeconds = isInterval(desired.interval_seconds) ? desired.interval_seconds : control.telemetrySeconds;
  // Keys it does not know stay unreported, so the delta shows them to whoever set them.
  const reported = 'interval_seconds' in desired ? { interval_seconds: telemetrySeconds } : {};
  return {
    control: { ...control, telemetrySeconds, configVersion: version as number },
    actions: [publish('config_reported', { version, reported })],
  };
}

function runCommand(control: DeviceControl, leaf: string, message: Record<string, unknown>, now: number): Handled {
  const given = typeof message.id === 'string' && isUuid(message.id) ? message.id : undefined;
  const id = given ?? (isUuid(leaf) ? leaf : undefined);
  // Without its id a command cannot be answered.
  if (!id) return { control, actions: [] };
  const repeated = control.answered.find((entry) => entry.id === id);
  if (repeated) return { control, actions: repeated.replies.map((reply) => ({ kind: 'publish', reply })) };

  const handled = execute(control, id, message, now);
  const actions = [publish('command_ack', { id }), ...handled.actions];
  return { control: remember(handled.control, id, actions), actions };
}

/** Runs command `id`: its answer, and what else follows. */
function execute(control: DeviceControl, id: string, message: Record<string, unknown>, now: number): Handled {
  const { name, params } = message;
  if (typeof name !== 'string' || !COMMAND_NAME.test(name))
    return {
      control,
      actions: [result(id, 'FAILED', { error: `malformed command: name must match ${COMMAND_NAME}` })],
    };
  switch (name) {
    case 'ping':
      return {
        control,
        actions: [
          result(id, 'SUCCEEDED', {
            result: {
              pong: true,
              uptime_s: Math.max(0, Math.floor((now - control.bootedAt) / 1000)),
              fw_version: control.fwVersion,
            },
          }),
        ],
      };
    case 'reboot':
      return { control, actions: [result(id, 'SUCCEEDED', { result: { rebooting: true } }), { kind: 'reboot' }] };
    case 'set_interval': {
      const seconds = isObject(params) ? params.seconds : undefined;
      if (!isInterval(seconds))
        return {
          control,
          actions: [
            result(id, 'FAILED', {
              error: `set_interval needs params {"seconds": n}, n a whole number from ${MIN_INTERVAL_SECONDS} to ${MAX_INTERVAL_SECONDS}`,
            }),
          ],
        };
      return {
        control: { ...control, telemetrySeconds: seconds },
        actions: [result(id, 'SUCCEEDED', { result: { interval_seconds: seconds } })],
      };
    }
    case FIRMWARE_COMMAND: {
      const checked = firmwareUpdate(params);
      if (typeof checked === 'string') return { control, actions: [progress(id, 'FAILED', { error: checked })] };
      return {
        control,
        actions: [progress(id, 'DOWNLOADING', { url: checked.url }), { kind: 'download', id, update: checked }],
      };
    }
    default:
      return { control, actions: [result(id, 'FAILED', { error: `unknown command ${name}` })] };
  }
}

/** firmware_update's params, or what is wrong with them. */
export function firmwareUpdate(params: unknown): FirmwareUpdate | string {
  const needs = 'firmware_update needs params {url, size, sha256, version}:';
  if (!isObject(params)) return `${needs} got no object`;
  const { url, size, sha256, version } = params;
  if (typeof url !== 'string' || !/^[\x21-\x7e]{1,2048}$/.test(url))
    return `${needs} url must be an http(s) URL, absolute or relative to Pulse`;
  if (!Number.isSafeInteger(size) || (size as number) < 1 || (size as number) > MAX_FIRMWARE_BYTES)
    return `${needs} size must be the image's length in bytes, 1 to ${MAX_FIRMWARE_BYTES}`;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(sha256))
    return `${needs} sha256 must be the image's SHA-256 in 64 hex digits`;
  if (typeof version !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(version))
    return `${needs} version must be 1 to 64 printable ASCII characters, such as 2.1.0`;
  return { url, size: size as number, sha256: sha256.toLowerCase(), version };
}

/** Where to download an image: its URL as given, or relative to Pulse's HTTP base URL. */
export function firmwareUrl(url: string, apiUrl: string): URL | string {
  let resolved: URL;
  try {
    resolved = new URL(url, `${apiUrl.replace(/\/$/, '')}/`);
  } catch {
    return `the firmware URL ${JSON.stringify(url.slice(0, 200))} is not a URL`;
  }
  if (resolved.protocol !== 'http:' && resolved.protocol !== 'https:')
    return `the firmware URL must be http or https, not ${resolved.protocol.slice(0, 20)}`;
  return resolved;
}

/**
 * What follows a firmware download: the image's size and SHA-256 checked against what the command
 * announced, then installed (the device reports the new version from then on) — or FAILED with the reason.
 */
export function afterDownload(
  control: DeviceControl,
  id: string,
  update: FirmwareUpdate,
  download: { image: Buffer } | { error: string },
): Handled {
  const failed = (error: string): Handled => {
    const actions = [progress(id, 'FAILED', { error: error.slice(0, 1000) })];
    return { control: remember(control, id, actions), actions };
  };
  if ('error' in download) return failed(download.error);
  const { image } = download;
  if (image.length !== update.size)
    return failed(
      image.length > update.size
        ? `the image is longer than the ${update.size} bytes announced`
        : `the image is ${image.length} bytes, not the ${update.size} announced`,
    );
  const digest = createHash('sha256').update(image).digest('hex');
  if (digest !== update.sha256) return failed(`the image's SHA-256 is ${digest}, not the ${update.sha256} announced`);
  const actions = [
    progress(id, 'DOWNLOADED', { bytes: image.length }),
    progress(id, 'VERIFIED', { sha256: digest }),
    progress(id, 'UPDATING', { from: control.fwVersion, to: update.version }),
    progress(id, 'UPDATED', { fw_version: update.version }),
  ];
  return { control: remember({ ...control, fwVersion: update.version }, id, actions.slice(-1)), actions };
}
