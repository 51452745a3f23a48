// The API client: bearer token on every call, FastAPI-style errors turned into messages a person can act on.
// A 429 pauses every call of the tab (and of the user's other tabs, which share the budget) until its
// Retry-After; reads then go again by themselves, writes fail with when to try again.
import { create } from 'zustand';
import { accessToken } from './auth';

interface ApiHealth {
  /** When the rate limit lets this user call again (ms since the epoch); null when not paused. */
  pausedUntil: number | null;
  /** The last answer was a failure (not a refusal of the request itself): what is shown may be stale. */
  failing: boolean;
}
export const useApiHealth = create<ApiHealth>(() => ({ pausedUntil: null, failing: false }));

const tabs = typeof BroadcastChannel === 'undefined' ? undefined : new BroadcastChannel('pulse-api-pause');
tabs?.addEventListener('message', (event: MessageEvent<number>) => pauseUntil(event.data, false));

/** A pause outlives its end by this much at most: a tab that had nothing waiting says so no longer. */
const PAUSE_GRACE_MS = 5000;

function pauseUntil(until: number, tell = true) {
  if (until <= (useApiHealth.getState().pausedUntil ?? 0)) return;
  useApiHealth.setState({ pausedUntil: until });
  if (tell) tabs?.postMessage(until);
  setTimeout(
    () => useApiHealth.getState().pausedUntil === until && useApiHealth.setState({ pausedUntil: null }),
    until - Date.now() + PAUSE_GRACE_MS,
  );
}

async function pauseOver(): Promise<void> {
  const until = useApiHealth.getState().pausedUntil;
  if (until !== null && until > Date.now()) await new Promise((resolve) => setTimeout(resolve, until - Date.now()));
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function detailText(detail: unknown): string {
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item: { loc?: unknown[]; msg?: string }) => `${(item.loc ?? []).slice(1).join('.')}: ${item.msg}`)
      .join('; ');
  }
  return 'Request failed';
}

/** `body` is sent as JSON, `csv` as text/csv. */
export async function api<T>(path: string, init: { method?: string; body?: unknown; csv?: string } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const [contentType, payload] =
    init.csv !== undefined
      ? ['text/csv', init.csv]
      : init.body !== undefined
        ? ['application/json', JSON.stringify(init.body)]
        : [undefined, undefined];
  let response: Response;
  for (;;) {
    await pauseOver();
    const token = await accessToken();
    try {
      response = await fetch(path, {
        method,
        headers: {
          ...(token && { authorization: `Bearer ${token}` }),
          ...(contentType && { 'content-type': contentType }),
        },
        ...(payload !== undefined && { body: payload }),
      });
    } catch (error) {
      useApiHealth.setState({ failing: true });
      throw error;
    }
    if (response.status !== 429) break;
    const waitSeconds = Number(response.headers.get('retry-after')) || 5;
    pauseUntil(Date.now() + waitSeconds * 1000);
    if (method !== 'GET') {
      throw new ApiError(429, `Too many requests for now: try again in ${waitSeconds} s`);
    }
  }
  useApiHealth.setState({ pausedUntil: null, failing: response.status >= 500 });
  if (response.status === 204) return undefined as T;
  const body = (await response.json().catch(() => ({}))) as { detail?: unknown };
  if (!response.ok) {
    const message =
      response.status === 403
        ? `You do not have access to this: ${detailText(body.detail)}`
        : detailText(body.detail ?? response.statusText);
    throw new ApiError(response.status, message);
  }
  return body as T;
}

/**
 * Downloads a file the API answers (an export) under the name its Content-Disposition gives. Tokens live
 * in memory only, so a plain link cannot carry one: the file is fetched and handed to the browser.
 */
export async function download(path: string): Promise<void> {
  const token = await accessToken();
  const response = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { detail?: unknown };
    throw new ApiError(response.status, detailText(body.detail ?? response.statusText));
  }
  const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? 'export.csv';
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(url);
}
