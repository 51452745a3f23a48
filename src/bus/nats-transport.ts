// The connection to NATS and what travels on plain subjects: connecting (credentials from the URLs, a private
// CA, a .creds file), following the connection as it is lost and back, and live events, which are only for
// whoever listens now.
import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';

export interface ConnectOptions {
  servers: string[];
  /** PEM of a private CA for tls:// servers. */
  caFile?: string | undefined;
  /** A NATS .creds file (JWT + nkey seed). User and password may also sit in the URL. */
  credsFile?: string | undefined;
  /** Names this process's connection (shown by the server's monitoring). */
  name: string;
}

export async function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  try {
    return await connect({
      ...serversAndCredentials(options.servers),
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      pingInterval: 5000,
      ...(options.caFile ? { tls: { ca: await readFile(options.caFile, 'utf8') } } : {}),
      ...(options.credsFile ? { authenticator: credsAuthenticator(await readFile(options.credsFile)) } : {}),
    });
  } catch (error) {
    throw new Error(`cannot connect to NATS at ${shown(options.servers)}: ${(error as Error).message}`);
  }
}

/** Whether the connection is up now; `onBack` runs each time it is back after being lost. */
export function followConnection(nc: NatsConnection, log: Logger, onBack: () => void): { connected(): boolean } {
  let connected = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        connected = false;
        log.warn({ server: 'server' in status ? status.server : undefined }, 'NATS connection lost; reconnecting');
      } else if (status.type === 'reconnect') {
        connected = true;
        log.info({ server: 'server' in status ? status.server : undefined }, 'NATS connection back');
        onBack();
      }
    }
  })();
  return { connected: () => connected };
}

/**
 * Live telemetry is every message again, for WebSocket viewers that are mostly absent: a process that
 * listens to it says so on this subject every DEMAND_INTERVAL_MS ('listening'), a process that starts
 * asks who listens ('ask'), and publishers send it only while they heard a listener lately.
 */
const DEMAND_SUBJECT = 'pulse.live.demand';
const DEMAND_INTERVAL_MS = 2000;

/** Publishing on plain subjects, and live telemetry's demand: heard from any process (this one too), said while this one listens. */
export function liveSubjects(nc: NatsConnection, onDropped: () => void) {
  let listenerHeardAt = Number.NEGATIVE_INFINITY;
  let liveListeners = 0;
  let demandTimer: NodeJS.Timeout | undefined;

  function publish(subject: string, data: string): void {
    try {
      nc.publish(subject, data);
    } catch {
      onDropped(); // closed or its reconnect buffer is full: live events are not kept
    }
  }
  const sayListening = () => publish(DEMAND_SUBJECT, 'listening');
  const askForListeners = () => publish(DEMAND_SUBJECT, 'ask');
  nc.subscribe(DEMAND_SUBJECT, {
    callback: (error, msg) => {
      if (error) return;
      if (msg.string() !== 'ask') listenerHeardAt = Date.now();
      else if (liveListeners > 0) sayListening();
    },
  });
  askForListeners();

  return {
    publish,
    askForListeners,
    /** Whether any process listened to live telemetry lately. */
    wanted: () => Date.now() - listenerHeardAt < 3 * DEMAND_INTERVAL_MS,
    listening: () => liveListeners > 0,
    /** This process listens to live telemetry until the returned function is called. */
    listen(): () => void {
      if (++liveListeners === 1) {
        sayListening();
        demandTimer = setInterval(sayListening, DEMAND_INTERVAL_MS);
        demandTimer.unref();
      }
      let listening = true;
      return () => {
        if (!listening) return;
        listening = false;
        if (--liveListeners === 0) clearInterval(demandTimer);
      };
    },
    stop: () => clearInterval(demandTimer),
  };
}

/**
 * The client takes credentials as options, not from URLs: `nats://user:password@host` gives user and
 * password, `nats://token@host` a token (as the NATS CLI reads them).
 */
function serversAndCredentials(servers: string[]): { servers: string[]; user?: string; pass?: string; token?: string } {
  let credentials: { user?: string; pass?: string; token?: string } = {};
  const bare = servers.map((server) => {
    const url = new URL(server);
    if (url.username && url.password) {
      credentials = { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
    } else if (url.username) {
      credentials = { token: decodeURIComponent(url.username) };
    }
    return `${url.protocol}//${url.host}`;
  });
  return { servers: bare, ...credentials };
}

/** The servers for messages and logs, without passwords. */
export function shown(servers: string[]): string {
  return servers
    .map((server) => {
      try {
        const url = new URL(server);
        if (url.password) url.password = '***';
        else if (url.username) url.username = '***'; // a token
        return url.href.replace(/\/$/, '');
      } catch {
        return server;
      }
    })
    .join(', ');
}
