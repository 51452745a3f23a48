// One WebSocket per tab to /api/v2/ws: authenticates with the current token (and sends a fresh one before
// it expires), reconnects with exponential backoff, and re-subscribes whatever is wanted. Components ask
// for channels with `subscribeDevice` / `subscribeAlerts` / `subscribeDashboard` and get events through
// callbacks. The messages
// both ways are the server's schemas (LiveFrame, LiveRequest in /api/docs/json).
import { create } from 'zustand';
import { accessToken, useAuth } from './auth';
import type { LiveFrame, LiveRequest } from './types';

export type LiveStatus = 'connecting' | 'live' | 'offline';
export const useLive = create<{ status: LiveStatus }>(() => ({ status: 'offline' }));

type TelemetryFrame = Extract<LiveFrame, { type: 'telemetry' }>;
export type AlertFrame = Extract<LiveFrame, { type: 'alert' }>;

const deviceListeners = new Map<string, Set<(frame: TelemetryFrame) => void>>();
const alertListeners = new Set<(frame: AlertFrame) => void>();
/** Dashboards in live mode: `${dashboard_id}\u0000${device}` → listeners of their `changed` frames. */
const dashboardListeners = new Map<string, Set<() => void>>();
const dashboardRequest = (key: string): Omit<Extract<LiveRequest, { type: 'dashboard' }>, 'action'> => {
  const [dashboard_id = '', device] = key.split('\u0000');
  return { type: 'dashboard', dashboard_id, ...(device && { device }) };
};
/** Told when a new connection is subscribed: events sent while there was none are lost, views resync. */
const resyncListeners = new Set<() => void>();
let everLive = false;
let socket: WebSocket | undefined;
let attempt = 0;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;

const send = (message: LiveRequest) => socket?.readyState === WebSocket.OPEN && socket.send(JSON.stringify(message));

function resubscribe() {
  for (const deviceId of deviceListeners.keys()) send({ action: 'subscribe', type: 'device', device_id: deviceId });
  if (alertListeners.size > 0) send({ action: 'subscribe', type: 'alerts' });
  for (const key of dashboardListeners.keys()) send({ action: 'subscribe', ...dashboardRequest(key) });
}

async function connect() {
  if (socket || !useAuth.getState().session) return;
  useLive.setState({ status: 'connecting' });
  const token = await accessToken();
  if (!token) return;
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v2/ws`);
  socket = ws;
  ws.onopen = () => ws.send(JSON.stringify({ action: 'auth', token } satisfies LiveRequest));
  ws.onmessage = (event) => {
    const frame = JSON.parse(event.data as string) as LiveFrame;
    if (frame.type === 'authenticated') {
      attempt = 0;
      // A fresh token on this socket authenticates again; only a new socket has missed events.
      const fresh = useLive.getState().status !== 'live';
      const reconnected = everLive && fresh;
      everLive = true;
      useLive.setState({ status: 'live' });
      // A new socket has no subscriptions; one that renewed its token keeps them (and their live follows).
      if (fresh) resubscribe();
      scheduleTokenRefresh();
      if (reconnected) for (const listener of resyncListeners) listener();
    } else if (frame.type === 'telemetry') {
      for (const listener of deviceListeners.get(frame.device_id) ?? []) listener(frame);
    } else if (frame.type === 'alert') {
      for (const listener of alertListeners) listener(frame);
    } else if (frame.type === 'changed') {
      for (const [key, listeners] of dashboardListeners)
        if (key.split('\u0000')[0] === frame.dashboard_id) for (const listener of listeners) listener();
    }
  };
  ws.onclose = () => {
    socket = undefined;
    clearTimeout(refreshTimer);
    useLive.setState({ status: 'offline' });
    if (!useAuth.getState().session) return;
    const delay = Math.min(30_000, 500 * 2 ** attempt) * (0.8 + Math.random() * 0.4);
    attempt += 1;
    setTimeout(() => void connect(), delay);
  };
}

/** A fresh token is sent before the current one expires, so the server keeps the socket open. */
function scheduleTokenRefresh() {
  clearTimeout(refreshTimer);
  const session = useAuth.getState().session;
  if (!session) return;
  refreshTimer = setTimeout(
    async () => {
      const token = await accessToken();
      if (token) send({ action: 'auth', token });
      scheduleTokenRefresh();
    },
    Math.max(5_000, session.expiresAt - Date.now() - 60_000),
  );
}

export function startLive() {
  void connect();
}

export function subscribeDevice(deviceId: string, listener: (frame: TelemetryFrame) => void): () => void {
  const set = deviceListeners.get(deviceId) ?? new Set();
  const first = set.size === 0;
  set.add(listener);
  deviceListeners.set(deviceId, set);
  if (first) send({ action: 'subscribe', type: 'device', device_id: deviceId });
  return () => {
    set.delete(listener);
    if (set.size === 0) {
      deviceListeners.delete(deviceId);
      send({ action: 'unsubscribe', type: 'device', device_id: deviceId });
    }
  };
}

/** `onResync` is called after a reconnect, when events may have been missed. */
export function subscribeAlerts(listener: (frame: AlertFrame) => void, onResync?: () => void): () => void {
  const first = alertListeners.size === 0;
  alertListeners.add(listener);
  if (onResync) resyncListeners.add(onResync);
  if (first) send({ action: 'subscribe', type: 'alerts' });
  return () => {
    alertListeners.delete(listener);
    if (onResync) resyncListeners.delete(onResync);
    if (alertListeners.size === 0) send({ action: 'unsubscribe', type: 'alerts' });
  };
}

/**
 * Live mode of a dashboard (with the device variable's value): `listener` is called when what it shows may
 * have changed (the server's `changed` frames, at most every 10 s), and after a reconnect.
 */
export function subscribeDashboard(dashboardId: string, device: string | undefined, listener: () => void): () => void {
  const key = `${dashboardId}\u0000${device ?? ''}`;
  const set = dashboardListeners.get(key) ?? new Set();
  const first = set.size === 0;
  set.add(listener);
  dashboardListeners.set(key, set);
  resyncListeners.add(listener);
  if (first) send({ action: 'subscribe', ...dashboardRequest(key) });
  return () => {
    set.delete(listener);
    resyncListeners.delete(listener);
    if (set.size === 0) {
      dashboardListeners.delete(key);
      send({ action: 'unsubscribe', ...dashboardRequest(key) });
    }
  };
}
