// WebSocket /api/v2/ws (docs/wire-contract.md#live-socket), event-driven: telemetry is pushed as ingest accepts it
// and alerts as the evaluator changes them, only to clients subscribed to them and allowed to see them.
// The token comes as ?token= or in a first {"action":"auth","token"} message; a bad one closes the socket
// with 4001 (4003 for a role without access) after the handshake, so clients can read the code, and the
// socket closes when the token expires unless the client sends a fresh one, or with 4001 and the reason
// when its user is deleted, disabled or changed (the REST routes' recheck, run every second). The messages
// both ways are the schemas of ./live-frames.ts.
import type { FastifyRequest } from 'fastify';
import type { App } from '../http/server.js';
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Bus } from '../bus/index.js';
import type { Database } from '../db/database.js';
import { AppError } from '../errors.js';
import { isOperator, type CheckPrincipal, type Principal, type VerifyToken } from './auth.js';
import * as deviceModel from '../model/devices.js';
import * as alertModel from '../model/alerts.js';
import type { AcceptedMessage, AlertEvent } from '../contracts/messages.js';
import { CUSTOMER_ROLES, OPERATOR_ROLES } from '../model/users.js';
import { compileResponseCheck } from '../http/response-check.js';
import { DOCUMENTED_SCHEMAS, LiveFrame, type LiveRequest } from './live-frames.js';
import { dashboardOr404 } from './customer/dashboards.js';
import { followDashboard } from './dashboard-live.js';
import { liveFollows } from '../model/dashboard-schema.js';

const AUTH_TIMEOUT_MS = 10_000;
/** Connections one address may hold open before authenticating (each waits up to AUTH_TIMEOUT_MS). */
export const MAX_UNAUTHENTICATED_PER_ADDRESS = 10;
export const CLOSE_POLICY = 1008;
const PING_INTERVAL_MS = 30_000;
/** How often open sockets' users are rechecked; the recheck itself reads a user at most every 5 s. */
const USER_RECHECK_INTERVAL_MS = 1000;
/** A client this far behind loses telemetry frames rather than growing the server's memory. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const SNAPSHOT_ALERTS = 100;
/** Dashboards one connection may follow at once: each is a bus subscription of the api instance's. */
const MAX_DASHBOARD_FOLLOWS = 10;

export const CLOSE_UNAUTHENTICATED = 4001;
export const CLOSE_FORBIDDEN = 4003;

interface Client {
  socket: WebSocket;
  principal: Principal | undefined;
  expiry: NodeJS.Timeout | undefined;
  devices: Set<string>;
  /** Tenants whose alerts this client receives; '*' is every tenant (operators only). */
  alertTenants: Set<string>;
  /** Dashboards in live mode (tenant, dashboard, device variable) → how to stop following each. */
  dashboards: Map<string, () => void>;
  alive: boolean;
  /** Ends this connection's count among its address's unauthenticated ones (once). */
  authenticated?: () => void;
}

type FieldOf<Union> = Union extends unknown ? keyof Union : never;
/** A message as it arrives: the fields of a LiveRequest, each of them still to be checked. */
type ClientMessage = { [Field in FieldOf<LiveRequest>]?: unknown };

/** Closes a socket whose frame broke LiveFrame (with API_CHECK_RESPONSES=on): a bug in the hub or the schema. */
const CLOSE_INTERNAL_ERROR = 1011;
/** The longest close reason a WebSocket carries, in bytes. */
const MAX_CLOSE_REASON = 123;

const deviceKey = (tenantId: string, deviceId: string) => `${tenantId}\u0000${deviceId}`;

export interface LiveHub {
  connections(): number;
  stop(): void;
}

export function registerLiveRoutes(
  app: App,
  deps: {
    verify: VerifyToken;
    recheck: CheckPrincipal;
    db: Database;
    bus: Bus;
    log: Logger;
    /** Check every frame against LiveFrame before it leaves (API_CHECK_RESPONSES). */
    checkFrames: boolean;
  },
): LiveHub {
  const { verify, db, log } = deps;
  const clients = new Set<Client>();
  const byDevice = new Map<string, Set<Client>>();
  let framesDropped = 0;
  for (const schema of DOCUMENTED_SCHEMAS) app.addSchema(schema);
  // Compiled without its $id, which the checker may hold once per process while hubs come and go.
  const { $id: _, ...frameSchema } = LiveFrame;
  const frameProblem = deps.checkFrames ? compileResponseCheck(frameSchema) : undefined;

  const send = (client: Client, frame: LiveFrame, droppable = false) => {
    if (client.socket.readyState !== client.socket.OPEN) return;
    if (droppable && client.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      framesDropped += 1;
      return;
    }
    const json = JSON.stringify(frame);
    const problem = frameProblem?.(JSON.parse(json));
    if (problem) {
      log.error({ frame_type: frame.type, problem }, 'live frame off its schema');
      let reason = `${frame.type} frame off its schema: ${problem}`;
      while (Buffer.byteLength(reason) > MAX_CLOSE_REASON) reason = reason.slice(0, -1);
      client.socket.close(CLOSE_INTERNAL_ERROR, reason);
      return;
    }
    client.socket.send(json);
  };

  // Live telemetry is heard only while some client watches a device: over NATS, ingest publishes it only
  // while some api instance listens (ADR 015), so a fleet nobody watches costs no live traffic.
  let stopTelemetry: (() => void) | undefined;
  const watchDevice = (client: Client, key: string) => {
    client.devices.add(key);
    const set = byDevice.get(key) ?? new Set();
    set.add(client);
    byDevice.set(key, set);
    stopTelemetry ??= deps.bus.subscribe('telemetry.accepted', onTelemetry);
  };

  const unsubscribeDevice = (client: Client, key: string) => {
    client.devices.delete(key);
    const set = byDevice.get(key);
    set?.delete(client);
    if (set?.size === 0) byDevice.delete(key);
    if (byDevice.size === 0) {
      stopTelemetry?.();
      stopTelemetry = undefined;
    }
  };

  const forget = (client: Client) => {
    clearTimeout(client.expiry);
    for (const key of client.devices) unsubscribeDevice(client, key);
    for (const stop of client.dashboards.values()) stop();
    client.dashboards.clear();
    clients.delete(client);
  };

  async function authenticate(client: Client, token: unknown): Promise<boolean> {
    if (typeof token !== 'string' || token === '') {
      client.socket.close(CLOSE_UNAUTHENTICATED, 'Missing token parameter');
      return false;
    }
    let principal: Principal;
    try {
      principal = await verify(token);
    } catch (error) {
      const forbidden = error instanceof AppError && error.code === 'FORBIDDEN';
      client.socket.close(
        forbidden ? CLOSE_FORBIDDEN : CLOSE_UNAUTHENTICATED,
        forbidden ? 'Unauthorized' : 'Invalid or expired token',
      );
      return false;
    }
    if (![...CUSTOMER_ROLES, ...OPERATOR_ROLES].includes(principal.role)) {
      client.socket.close(CLOSE_FORBIDDEN, 'Unauthorized');
      return false;
    }
    // A refreshed token must be the same user's; anything else starts a new connection.
    if (
      client.principal &&
      (client.principal.sub !== principal.sub || client.principal.tenantId !== principal.tenantId)
    ) {
      client.socket.close(CLOSE_FORBIDDEN, 'Token belongs to another user');
      return false;
    }
    client.principal = principal;
    client.authenticated?.();
    clearTimeout(client.expiry);
    client.expiry = setTimeout(
      () => client.socket.close(CLOSE_UNAUTHENTICATED, 'Token expired'),
      Math.max(0, principal.exp * 1000 - Date.now()),
    );
    send(client, {
      type: 'authenticated',
      role: principal.role,
      tenant_id: principal.tenantId ?? null,
      expires_at: new Date(principal.exp * 1000).toISOString(),
    });
    return true;
  }

  /** The tenant a subscription is for: the customer's own, or the one an operator names. */
  function subscriptionTenant(client: Client, message: ClientMessage): string | undefined {
    const principal = client.principal!;
    const named = typeof message.tenant_id === 'string' && message.tenant_id ? message.tenant_id : undefined;
    if (!isOperator(principal)) {
      if (named && named !== principal.tenantId) {
        send(client, { type: 'error', message: 'You can only subscribe to your own tenant' });
        return undefined;
      }
      return principal.tenantId;
    }
    return named;
  }

  async function handle(client: Client, message: ClientMessage): Promise<void> {
    if (message.action === 'auth') {
      await authenticate(client, message.token);
      return;
    }
    if (!client.principal) return;
    const subscribe = message.action === 'subscribe';
    if (!subscribe && message.action !== 'unsubscribe') return;

    if (message.type === 'device') {
      const deviceId = typeof message.device_id === 'string' && message.device_id ? message.device_id : undefined;
      if (!deviceId) {
        send(client, { type: 'error', message: 'device_id required for device subscription' });
        return;
      }
      const tenantId = subscriptionTenant(client, message);
      if (!tenantId) {
        if (isOperator(client.principal)) {
          send(client, { type: 'error', message: 'tenant_id required for an operator device subscription' });
        }
        return;
      }
      const key = deviceKey(tenantId, deviceId);
      if (subscribe) {
        const exists = await db.withTenant(tenantId, (tx) => deviceModel.deviceExists(tx, deviceId));
        if (!exists) {
          send(client, { type: 'error', message: 'Device not found', device_id: deviceId });
          return;
        }
        watchDevice(client, key);
        send(client, { type: 'subscribed', channel: 'device', device_id: deviceId });
      } else {
        unsubscribeDevice(client, key);
        send(client, { type: 'unsubscribed', channel: 'device', device_id: deviceId });
      }
      return;
    }

    if (message.type === 'dashboard') {
      await followDashboardOf(client, message, subscribe);
      return;
    }

    if (message.type === 'alerts') {
      const tenantId = subscriptionTenant(client, message);
      const operatorAll = isOperator(client.principal) && tenantId === undefined;
      if (!tenantId && !operatorAll) return;
      const scope = tenantId ?? '*';
      if (!subscribe) {
        client.alertTenants.delete(scope);
        send(client, { type: 'unsubscribed', channel: 'alerts' });
        return;
      }
      client.alertTenants.add(scope);
      send(client, {
        type: 'subscribed',
        channel: 'alerts',
        ...(tenantId && isOperator(client.principal) && { tenant_id: tenantId }),
      });
      const alerts = tenantId
        ? await db.withTenant(tenantId, (tx) =>
            alertModel.listAlerts(tx, { status: undefined, activeOnly: true, limit: SNAPSHOT_ALERTS, offset: 0 }),
          )
        : [];
      send(client, { type: 'alerts', alerts });
    }
  }

  /** Live mode of a dashboard: `changed` frames as a share link's stream sends its events (dashboard-live.ts). */
  async function followDashboardOf(client: Client, message: ClientMessage, subscribe: boolean): Promise<void> {
    const dashboardId = typeof message.dashboard_id === 'string' ? message.dashboard_id : '';
    const device = typeof message.device === 'string' && message.device ? message.device : undefined;
    const tenantId = subscriptionTenant(client, message);
    if (!dashboardId || !tenantId) {
      send(client, { type: 'error', message: 'dashboard_id (and tenant_id, for operators) required' });
      return;
    }
    const key = `${tenantId}\u0000${dashboardId}\u0000${device ?? ''}`;
    client.dashboards.get(key)?.();
    client.dashboards.delete(key);
    if (!subscribe) {
      send(client, { type: 'unsubscribed', channel: 'dashboard', dashboard_id: dashboardId });
      return;
    }
    if (client.dashboards.size >= MAX_DASHBOARD_FOLLOWS) {
      send(client, {
        type: 'error',
        message: `A connection follows at most ${MAX_DASHBOARD_FOLLOWS} dashboards: unsubscribe one first`,
      });
      return;
    }
    const found = await db
      .withTenant(tenantId, (tx) => dashboardOr404(tx, dashboardId))
      .catch((error: unknown) => {
        if (error instanceof AppError && error.code === 'NOT_FOUND') return undefined;
        throw error;
      });
    if (!found || client.socket.readyState !== client.socket.OPEN) {
      if (!found) send(client, { type: 'error', message: 'Dashboard not found' });
      return;
    }
    const follows = liveFollows(found.definition, device);
    client.dashboards.set(
      key,
      followDashboard(deps.bus, tenantId, follows, () =>
        send(client, { type: 'changed', channel: 'dashboard', dashboard_id: dashboardId }),
      ),
    );
    send(client, { type: 'subscribed', channel: 'dashboard', dashboard_id: dashboardId });
  }

  function onTelemetry(messages: AcceptedMessage[]) {
    for (const message of messages) {
      if (message.msg_type !== 'telemetry') continue;
      const subscribers = byDevice.get(deviceKey(message.tenant_id, message.device_id));
      if (!subscribers) continue;
      const frame: LiveFrame = {
        type: 'telemetry',
        device_id: message.device_id,
        data: { timestamp: message.time.toISOString(), metrics: message.metrics, seq: message.seq },
      };
      for (const client of subscribers) send(client, frame, true);
    }
  }

  const onAlert = async (event: AlertEvent) => {
    const subscribers = [...clients].filter((c) => c.alertTenants.has(event.tenant_id) || c.alertTenants.has('*'));
    if (subscribers.length === 0) return;
    const alert = await db.withTenant(event.tenant_id, (tx) => alertModel.findAlert(tx, event.alert_id));
    if (!alert) return;
    for (const client of subscribers) send(client, { type: 'alert', event: event.event, alert });
  };

  const unsubscribers = [deps.bus.subscribe('alert.changed', onAlert), () => stopTelemetry?.()];

  const ping = setInterval(() => {
    for (const client of clients) {
      if (!client.alive) {
        client.socket.terminate();
        continue;
      }
      client.alive = false;
      client.socket.ping();
    }
  }, PING_INTERVAL_MS);
  ping.unref();

  // A socket outlives the request that opened it: its user is checked as the REST routes check theirs.
  let rechecking = false;
  const recheckUsers = async () => {
    if (rechecking) return; // a slow database: the next tick checks again
    rechecking = true;
    try {
      await Promise.all(
        [...clients].map(async (client) => {
          const { principal } = client;
          if (!principal) return;
          try {
            await deps.recheck(principal);
          } catch (error) {
            if (!(error instanceof AppError) || error.code !== 'UNAUTHORIZED') {
              log.warn({ err: error }, 'websocket user recheck failed');
            } else if (client.principal === principal) client.socket.close(CLOSE_UNAUTHENTICATED, error.message);
          }
        }),
      );
    } finally {
      rechecking = false;
    }
  };
  const userRecheck = setInterval(() => void recheckUsers(), USER_RECHECK_INTERVAL_MS);
  userRecheck.unref();

  const unauthenticated = new Map<string, number>();
  app.get(
    '/api/v2/ws',
    {
      websocket: true,
      schema: {
        tags: ['api/v2'],
        summary: 'Live telemetry and alert changes (WebSocket)',
        description:
          'Authenticate with ?token=<JWT> or a first message {"action":"auth","token":"<JWT>"}; then send ' +
          '{"action":"subscribe","type":"device","device_id":"…"}, {"action":"subscribe","type":"alerts"} or ' +
          '{"action":"subscribe","type":"dashboard","dashboard_id":"…"} (data-less `changed` frames).',
      },
    },
    (socket: WebSocket, request: FastifyRequest) => {
      const client: Client = {
        socket,
        principal: undefined,
        expiry: undefined,
        devices: new Set(),
        alertTenants: new Set(),
        dashboards: new Map(),
        alive: true,
      };
      // Unauthenticated connections cost a socket and a timer each: an address may hold only a few.
      const address = request.ip;
      const waiting = unauthenticated.get(address) ?? 0;
      if (waiting >= MAX_UNAUTHENTICATED_PER_ADDRESS) {
        socket.close(CLOSE_POLICY, 'Too many connections waiting to authenticate from this address');
        return;
      }
      unauthenticated.set(address, waiting + 1);
      client.authenticated = () => {
        client.authenticated = undefined;
        const left = (unauthenticated.get(address) ?? 1) - 1;
        if (left > 0) unauthenticated.set(address, left);
        else unauthenticated.delete(address);
      };
      socket.once('close', () => client.authenticated?.());
      clients.add(client);
      // Messages wait for authentication to finish so a subscribe right after the token is not lost.
      let queue = Promise.resolve();
      socket.on('pong', () => (client.alive = true));
      socket.on('close', () => forget(client));
      socket.on('error', (error) => log.debug({ err: error }, 'websocket error'));
      socket.on('message', (data, isBinary) => {
        let message: ClientMessage;
        try {
          message = JSON.parse(isBinary ? '' : data.toString()) as ClientMessage;
        } catch {
          socket.close(1003, 'Messages must be JSON');
          return;
        }
        if (typeof message !== 'object' || message === null) return;
        queue = queue
          .then(() => handle(client, message))
          .catch((error: unknown) => {
            log.warn({ err: error }, 'websocket message failed');
            send(client, { type: 'error', message: 'Request failed; try again' });
          });
      });

      const token = (request.query as { token?: string }).token;
      if (token !== undefined) {
        queue = authenticate(client, token).then(() => undefined);
      } else {
        const timer = setTimeout(() => {
          if (!client.principal) socket.close(CLOSE_UNAUTHENTICATED, 'Missing token parameter');
        }, AUTH_TIMEOUT_MS);
        socket.once('close', () => clearTimeout(timer));
      }
    },
  );

  return {
    connections: () => clients.size,
    stop() {
      clearInterval(ping);
      clearInterval(userRecheck);
      for (const unsubscribe of unsubscribers) unsubscribe();
      for (const client of clients) client.socket.close(1001, 'Server stopping');
      log.debug({ frames_dropped: framesDropped }, 'live hub stopped');
    },
  };
}
