// The embedded MQTT broker (aedes, MQTT 3.1.1) used when MQTT_URL is unset. If the wanted port is taken —
// say by a Mosquitto already running — it says so once and listens on a free port instead.
//
// A client's PUBLISH on a gated topic filter goes through the gate before aedes answers it: aedes 1.x
// writes a QoS 1 PUBACK first and delivers to subscribers after (lib/handlers/publish.js), but runs
// `authorizePublish` before either, so a gate that calls back once the message is stored makes the PUBACK
// mean "stored" (ADR 008). aedes reads no more of that client's socket until every PUBLISH of the chunk
// it read has called back, so a slow gate is backpressure on the publisher, not a growing queue.
//
// Who may do what (ADR 019): a device logs in with user name `<tenant_id>/<device_id>` and its provision
// token as password, and may publish to its own topics only and subscribe to its own commands subtree.
// Pulse's own clients log in as `pulse` with a password made at each start. Anonymous clients are refused
// when `requireAuth` (PROD); in DEV they may publish with the token in the payload, as the original's
// devices do. Nobody may subscribe to other devices' topics: their payloads hold tokens.
//
// Until `open()` (once every role of the process has started) only Pulse's own clients get in; devices and
// readers are told "server unavailable", which clients retry. A device topic no gate takes is refused, so
// no PUBACK ever goes out for a message nobody stores — before ingest starts, or after it stopped. A client
// id belongs to the login that first used it, for as long as that client or its stored session lives; every
// message forwarded — queued ones included — is checked against what the receiving login may read.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { createWebSocketStream, type WebSocket } from 'ws';
import { Aedes, type AedesOptions, type Client, type PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { matchesDeviceFilter } from '../lib/device-topics.js';
import { listenWithFallback } from '../lib/listen.js';

/**
 * Calls back once the message is handled; an error closes the client's connection unanswered. `token`
 * is the provision token the connection logged in with, when a device did.
 */
export type PublishGate = (packet: PublishPacket, callback: (error?: Error) => void, token?: string) => void;

/** Whether `token` is the provision token of an active device. */
export type DeviceCheck = (tenantId: string, deviceId: string, token: string) => Promise<boolean>;

/** The user name Pulse's own clients (the MQTT integration) log in with. */
export const SERVICE_USER = 'pulse';

/** Whether `password` is the password of the tenant's alert reader `name`. */
export type ReaderCheck = (tenantId: string, name: string, password: string) => Promise<boolean>;

type Identity =
  | { kind: 'service' }
  | { kind: 'device'; tenantId: string; deviceId: string; token: string }
  | { kind: 'reader'; tenantId: string; name: string };

/** CONNACK return codes of MQTT 3.1.1 that aedes sends for a refused login. */
type RefusalCode = 2 | 3 | 4 | 5;

export interface EmbeddedBroker {
  readonly port: number;
  /** What devices connect to. */
  readonly url: string;
  /** The same with Pulse's own credentials, for its clients (never printed). */
  readonly serviceUrl: string;
  readonly broker: Aedes;
  clientCount(): number;
  /** Routes client PUBLISHes whose topic `matches` through `gate`; returns the function that removes it. */
  gatePublishes(matches: (topic: string) => boolean, gate: PublishGate): () => void;
  /** How device logins are checked (ingest's registry cache); until set, device logins are refused. */
  checkDevicesWith(check: DeviceCheck): void;
  /** Closes the connections logged in as this device (its token was rotated, or it was revoked). */
  disconnectDevice(tenantId: string, deviceId: string): number;
  /** Calls `handler` when a device's last connection closes (it is gone for commands); returns the remover. */
  onDeviceGone(handler: (tenantId: string, deviceId: string) => void): () => void;
  /** How alert readers' logins are checked; until set, reader logins are refused. */
  checkReadersWith(check: ReaderCheck): void;
  /** Lets devices, readers and anonymous clients in: every gate of this process is installed. */
  open(): void;
  /** Closes the connections logged in as this alert reader (it was removed). */
  disconnectReader(tenantId: string, name: string): number;
  /** The mqtts:// URL devices connect to, when MQTT over TLS is on. */
  readonly tlsUrl: string | undefined;
  /** Serves MQTT over a WebSocket the HTTP server accepted (at /mqtt). */
  handleWebSocket(socket: WebSocket, remote: string): void;
  /** A renewed certificate for new TLS connections (SIGHUP). */
  setSecureContext(tls: { cert: Buffer; key: Buffer }): void;
  stop(): Promise<void>;
}

/**
 * Whether a subscription filter could match a device topic, `tenant/<tenant>/device/<device>/<type>`
 * (`#`, `+/+/+/+/+`, `tenant/#` and the like all could).
 */
export function mayMatchDeviceTopic(filter: string): boolean {
  const pattern = ['tenant', undefined, 'device', undefined, undefined];
  const levels = filter.split('/');
  for (const [index, level] of levels.entries()) {
    if (level === '#') return true;
    if (index >= pattern.length) return false;
    if (level !== '+' && pattern[index] !== undefined && level !== pattern[index]) return false;
  }
  return levels.length === pattern.length;
}

export async function startEmbeddedBroker(options: {
  host: string;
  port: number;
  log: Logger;
  /** The port it fell back to last time, and where to keep a new one (PULSE_DATA_DIR). */
  fallbackPort?: { remembered: number | undefined; remember(port: number): void } | undefined;
  /** Refuse clients that do not log in (PROD). */
  requireAuth: boolean;
  /** Connections sending a larger packet are closed before it is read (MQTT_MAX_PACKET_BYTES). */
  maxPacketBytes: number;
  /** MQTT over TLS on this port too (MQTT_TLS_PORT), with this certificate and key. */
  tls?: { cert: Buffer; key: Buffer; port: number } | undefined;
}): Promise<EmbeddedBroker> {
  const gates = new Set<{ matches: (topic: string) => boolean; gate: PublishGate }>();
  const identities = new WeakMap<Client, Identity>();
  const deviceClients = new Set<Client>();
  const servicePassword = randomBytes(24).toString('base64url');
  let checkDevice: DeviceCheck | undefined;
  let checkReader: ReaderCheck | undefined;
  let accepting = false;
  const connected = new Map<string, Client>();
  const storedSessions = createStoredSessionOwners();
  /** Who holds `clientId` now: the login of the client connected with it, or of its stored session. */
  const holderOf = (clientId: string): string | undefined => {
    const client = connected.get(clientId);
    return client ? ownerKey(identities.get(client)) : storedSessions.ownerOf(clientId);
  };

  const authenticate: NonNullable<AedesOptions['authenticate']> = (client, username, password, done) => {
    const refuse = (returnCode: RefusalCode, message: string) =>
      done(Object.assign(new Error(message), { returnCode }), false);
    /** Lets the client in as `identity` (undefined: anonymous), unless its client id is another login's. */
    const admit = (identity: Identity | undefined) => {
      if (!mayUseClientId(client.id, ownerKey(identity), holderOf(client.id))) {
        return refuse(2, 'this client id belongs to another login; connect with your own');
      }
      if (identity) identities.set(client, identity);
      if (identity && identity.kind !== 'service') deviceClients.add(client);
      done(null, true);
    };
    const secret = password?.toString('utf8') ?? '';
    if (username === SERVICE_USER) {
      return keysEqual(secret, servicePassword) ? admit({ kind: 'service' }) : refuse(4, 'wrong password');
    }
    // Retryable: mqtt.js and the documented examples reconnect after it (unlike after 4 or 5).
    if (!accepting) return refuse(3, 'Pulse is starting or stopping; retry');
    if (username === undefined || username === '') {
      return options.requireAuth ? refuse(5, 'log in as <tenant_id>/<device_id>') : admit(undefined);
    }
    const reader = readerLogin(username);
    if (reader) {
      if (!secret || !checkReader) return refuse(4, 'unknown user');
      return void checkReader(reader.tenantId, reader.name, secret).then(
        (valid) =>
          valid ? admit({ kind: 'reader', ...reader }) : refuse(4, 'wrong password, or no such alert reader'),
        (error: unknown) => {
          options.log.warn({ err: error }, 'alert reader login could not be checked');
          refuse(3, 'login could not be checked; retry');
        },
      );
    }
    const login = deviceLogin(username);
    if (!login || !secret || !checkDevice) return refuse(4, 'unknown user');
    checkDevice(login.tenantId, login.deviceId, secret).then(
      (valid) =>
        valid
          ? admit({ kind: 'device', ...login, token: secret })
          : refuse(4, 'wrong token, or a revoked or unknown device'),
      (error: unknown) => {
        options.log.warn({ err: error }, 'device login could not be checked');
        refuse(3, 'login could not be checked; retry');
      },
    );
  };

  const authorizePublish: NonNullable<AedesOptions['authorizePublish']> = (client, packet, callback) => {
    // aedes' own default: $SYS topics are the broker's.
    if (packet.topic.startsWith('$SYS/')) return callback(new Error('$SYS/ topic is reserved'));
    const identity = client ? identities.get(client) : undefined;
    if (identity?.kind === 'device' && !isOwnTopic(packet.topic, identity)) {
      return callback(new Error('a device publishes to its own topics only'));
    }
    if (identity?.kind === 'reader') return callback(new Error('an alert reader only reads'));
    // Alert topics are Pulse's to publish (its MQTT integrations, logged in as the service).
    if (identity?.kind !== 'service' && packet.topic.split('/')[0] === 'alerts') {
      return callback(new Error('alerts/ topics are published by Pulse only'));
    }
    const token = identity?.kind === 'device' ? identity.token : undefined;
    for (const { matches, gate } of gates) {
      if (matches(packet.topic)) return gate(packet, (error) => callback(error ?? null), token);
    }
    // Denied by default: no PUBACK for a device message while nothing here would store it.
    if (matchesDeviceFilter(packet.topic)) return callback(new Error('device messages are not taken here now'));
    callback(null);
  };
  const authorizeSubscribe: NonNullable<AedesOptions['authorizeSubscribe']> = (client, subscription, callback) => {
    const identity = client ? identities.get(client) : undefined;
    const filter = subscription.topic;
    const own =
      (identity?.kind === 'device' && isOwnCommandFilter(filter, identity)) ||
      (identity?.kind === 'reader' && isOwnAlertFilter(filter, identity.tenantId));
    const allowed =
      own ||
      (identity?.kind !== 'reader' &&
        !mayMatchDeviceTopic(filter) &&
        (identity?.kind === 'service' || (!mayMatchAlertTopic(filter) && !filter.startsWith('$'))));
    callback(null, allowed ? subscription : null);
  };
  // The last word on every message a client receives, however its subscription or session came to be.
  const authorizeForward: NonNullable<AedesOptions['authorizeForward']> = (client, packet) =>
    mayReceive(identities.get(client), packet.topic) ? packet : null;
  const broker = await Aedes.createBroker({
    concurrency: 1000,
    authenticate,
    authorizePublish,
    authorizeSubscribe,
    authorizeForward,
  });
  broker.on('client', (client) => {
    connected.set(client.id, client);
    // A clean session replaced whatever session the id had: it is gone from the broker, and so is its owner.
    if (client.clean) storedSessions.forget(client.id);
  });
  const goneHandlers = new Set<(tenantId: string, deviceId: string) => void>();
  broker.on('clientDisconnect', (client) => {
    deviceClients.delete(client);
    const identity = identities.get(client);
    if (identity?.kind === 'device' && ![...deviceClients].some((other) => sameDevice(identities.get(other), identity)))
      for (const handler of goneHandlers) handler(identity.tenantId, identity.deviceId);
    if (connected.get(client.id) === client) connected.delete(client.id);
    // A stored session outlives its connection: its id stays its login's until a clean session ends it.
    if (!client.clean) storedSessions.keep(client.id, ownerKey(identities.get(client)));
  });
  /** Closes the logged-in connections whose identity matches; returns how many. */
  const closeWhere = (matches: (identity: Identity) => boolean) => {
    let closed = 0;
    for (const client of deviceClients) {
      const identity = identities.get(client);
      if (identity && matches(identity)) {
        client.close();
        closed += 1;
      }
    }
    return closed;
  };
  /** Every connection, whatever carries it: oversized packets refused before aedes reads them. */
  const serve = (stream: Duplex, remote: string | undefined) => {
    guardPacketSize(stream, options.maxPacketBytes, () =>
      options.log.warn(
        { remote, max_bytes: options.maxPacketBytes },
        'MQTT client sent a packet over MQTT_MAX_PACKET_BYTES; connection closed',
      ),
    );
    broker.handle(stream);
  };
  const server: Server = createServer((socket) => serve(socket, socket.remoteAddress));
  let tlsServer: TlsServer | undefined;
  let tlsPort: number | undefined;
  if (options.tls) {
    const { cert, key } = options.tls;
    tlsServer = createTlsServer({ cert, key }, (socket) => serve(socket, socket.remoteAddress));
    // A TLS handshake that fails (a client not trusting the certificate) is the client's problem.
    tlsServer.on('tlsClientError', (error) => options.log.debug({ err: error }, 'MQTT TLS handshake failed'));
    tlsPort = await listenWithFallback(tlsServer, options.host, options.tls.port, (taken) =>
      options.log.warn(`MQTT TLS port ${taken} is in use; the embedded broker listens for mqtts:// on another port`),
    );
  }
  // A fallback port is remembered (in the data dir): device scripts written against it keep working after a restart.
  const port = await listenWithFallback(
    server,
    options.host,
    options.port,
    (taken) =>
      options.log.warn(
        `MQTT port ${taken} is in use; the embedded broker listens on another port instead (set MQTT_PORT, or MQTT_URL to use the broker that is there)`,
      ),
    options.fallbackPort?.remembered,
  );
  if (port !== options.port && options.port !== 0) options.fallbackPort?.remember(port);
  const host = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  return {
    port,
    url: `mqtt://${host}:${port}`,
    serviceUrl: `mqtt://${SERVICE_USER}:${servicePassword}@${host}:${port}`,
    tlsUrl: tlsPort === undefined ? undefined : `mqtts://${host}:${tlsPort}`,
    handleWebSocket: (socket, remote) => serve(createWebSocketStream(socket), remote),
    setSecureContext: (tls) => tlsServer?.setSecureContext(tls),
    broker,
    clientCount: () => broker.connectedClients,
    gatePublishes(matches, gate) {
      const entry = { matches, gate };
      gates.add(entry);
      return () => gates.delete(entry);
    },
    checkDevicesWith(check) {
      checkDevice = check;
    },
    checkReadersWith(check) {
      checkReader = check;
    },
    open() {
      accepting = true;
    },
    disconnectReader(tenantId, name) {
      return closeWhere((i) => i.kind === 'reader' && i.tenantId === tenantId && i.name === name);
    },
    onDeviceGone(handler) {
      goneHandlers.add(handler);
      return () => goneHandlers.delete(handler);
    },
    disconnectDevice(tenantId, deviceId) {
      return closeWhere((i) => i.kind === 'device' && i.tenantId === tenantId && i.deviceId === deviceId);
    },
    stop: async () => {
      accepting = false;
      // No new connections first; closing the broker then ends the open ones, which lets the servers close.
      const closed = [server, ...(tlsServer ? [tlsServer] : [])].map(
        (listener) => new Promise<void>((resolve) => listener.close(() => resolve())),
      );
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await Promise.all(closed);
    },
  };
}

const sameDevice = (a: Identity | undefined, b: Identity & { kind: 'device' }) =>
  a?.kind === 'device' && a.tenantId === b.tenantId && a.deviceId === b.deviceId;

/** Who a client id belongs to: one key per login (every anonymous client shares one). */
function ownerKey(identity: Identity | undefined): string {
  if (!identity) return 'anonymous';
  if (identity.kind === 'service') return 'service';
  if (identity.kind === 'device') return deviceOwner(identity.tenantId, identity.deviceId);
  return readerOwner(identity.tenantId, identity.name);
}
const deviceOwner = (tenantId: string, deviceId: string) => `device ${tenantId}/${deviceId}`;
const readerOwner = (tenantId: string, name: string) => `reader ${tenantId}/${name}`;

/**
 * Whether a login (`owner`) may connect with `clientId`, which `holder` holds now (connected or with a
 * stored session), if anyone. A client id spelled as a login's name (`<tenant>/<device>`, the id devices
 * are told to use, or `<tenant>/alerts/<name>`) is that login's alone: nobody can take it first and lock
 * the device out. Any other id is its holder's; a login may take over its own (a device reconnecting
 * before the broker noticed it left). Otherwise another login would put the holder off and receive what
 * its session holds.
 */
export function mayUseClientId(clientId: string, owner: string, holder: string | undefined): boolean {
  const reader = readerLogin(clientId);
  const device = deviceLogin(clientId);
  if (reader) return owner === readerOwner(reader.tenantId, reader.name);
  if (device) return owner === deviceOwner(device.tenantId, device.deviceId);
  return holder === undefined || holder === owner;
}

/** The logins of stored sessions, by client id: strings only, one per session aedes keeps. */
function createStoredSessionOwners() {
  const owners = new Map<string, string>();
  return {
    ownerOf: (clientId: string) => owners.get(clientId),
    keep: (clientId: string, owner: string) => void owners.set(clientId, owner),
    forget: (clientId: string) => void owners.delete(clientId),
  };
}

/** Whether a client logged in as `identity` (undefined: anonymous) may receive a message on `topic`. */
export function mayReceive(identity: Identity | undefined, topic: string): boolean {
  if (identity?.kind === 'service') return true;
  if (identity?.kind === 'device') return isOwnCommandFilter(topic, identity);
  if (identity?.kind === 'reader') return isOwnAlertFilter(topic, identity.tenantId);
  // `$SYS/…` lists every tenant's client ids; `tenant/…` carries tokens and commands; `alerts/…` is the readers'.
  return !topic.startsWith('$') && topic.split('/')[0] !== 'tenant' && !mayMatchAlertTopic(topic);
}

/** `<tenant_id>/alerts/<name>`: an alert reader's login (three levels, so never a device's), or undefined. */
export function readerLogin(username: string): { tenantId: string; name: string } | undefined {
  const parts = username.split('/');
  if (parts.length !== 3 || parts[1] !== 'alerts' || !parts[0] || !parts[2]) return undefined;
  return { tenantId: parts[0], name: parts[2] };
}

/** Whether a filter could match an alert topic (`alerts/…`): `#`, `+/…` and `alerts/…` all could. */
export function mayMatchAlertTopic(filter: string): boolean {
  const first = filter.split('/')[0];
  return first === '#' || first === '+' || first === 'alerts';
}

/** A filter within `alerts/<tenant>/`: what the tenant's alert readers may subscribe to. */
export function isOwnAlertFilter(filter: string, tenantId: string): boolean {
  const levels = filter.split('/');
  if (levels[0] !== 'alerts' || levels[1] !== tenantId || levels.length < 3) return false;
  // `#` only as the last level, as MQTT requires (aedes checks it too).
  return levels.slice(2).every((level, i, rest) => level !== '#' || i === rest.length - 1);
}

/** `<tenant_id>/<device_id>` (neither empty, no further slash), or undefined. */
export function deviceLogin(username: string): { tenantId: string; deviceId: string } | undefined {
  const parts = username.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { tenantId: parts[0], deviceId: parts[1] };
}

/** `tenant/<its tenant>/device/<its id>/<msg_type>`: the only topics a device may publish to. */
export function isOwnTopic(topic: string, device: { tenantId: string; deviceId: string }): boolean {
  const levels = topic.split('/');
  return (
    levels.length === 5 &&
    levels[0] === 'tenant' &&
    levels[1] === device.tenantId &&
    levels[2] === 'device' &&
    levels[3] === device.deviceId &&
    levels[4] !== ''
  );
}

/** A filter inside the device's own `…/commands/` subtree (kept for commands to devices later). */
export function isOwnCommandFilter(filter: string, device: { tenantId: string; deviceId: string }): boolean {
  const prefix = `tenant/${device.tenantId}/device/${device.deviceId}/commands`;
  return filter === prefix || filter === `${prefix}/#` || (filter.startsWith(`${prefix}/`) && !filter.includes('#/'));
}

function keysEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Closes a connection whose next MQTT packet declares more than `maxBytes`, before aedes buffers it: the
 * fixed header's remaining length is read as the bytes arrive (aedes reads with `read()`, so this
 * 'data' listener sees each chunk as aedes takes it, and never more than one chunk is held).
 */
export function guardPacketSize(socket: Duplex, maxBytes: number, onOversize: () => void): void {
  const scanner = packetSizeScanner(maxBytes);
  socket.on('data', (chunk: Buffer) => {
    if (scanner(chunk)) return;
    onOversize();
    socket.destroy();
  });
}

/**
 * An incremental reader of MQTT packet boundaries: fed the bytes of a connection in any chunks, it answers
 * false once a packet declares a size over `maxBytes` or a malformed length, true while all is well.
 * It never throws and holds four numbers, whatever it is fed.
 */
export function packetSizeScanner(maxBytes: number): (chunk: Uint8Array) => boolean {
  let state: 'type' | 'length' | 'body' | 'failed' = 'type';
  let length = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  let bodyLeft = 0;
  return (chunk) => {
    let offset = 0;
    while (offset < chunk.length && state !== 'failed') {
      if (state === 'type') {
        offset += 1;
        state = 'length';
        length = 0;
        multiplier = 1;
        lengthBytes = 0;
      } else if (state === 'length') {
        const byte = chunk[offset]!;
        offset += 1;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        lengthBytes += 1;
        if (byte & 0x80) {
          if (lengthBytes === 4) state = 'failed'; // a fifth length byte: not MQTT
          continue;
        }
        if (1 + lengthBytes + length > maxBytes) state = 'failed';
        else if (length === 0) state = 'type';
        else {
          bodyLeft = length;
          state = 'body';
        }
      } else {
        const take = Math.min(bodyLeft, chunk.length - offset);
        offset += take;
        bodyLeft -= take;
        if (bodyLeft === 0) state = 'type';
      }
    }
    return state !== 'failed';
  };
}
