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
    const refused = tooManyRequests(response.headers.get('retry-after'));
    if (method !== 'GET') throw refused;
  }
  useApiHealth.setState({ pausedUntil: null, failing: response.status >= 500 });
  if (response.status === 204) return undefined as T;
  const body = (await response.json().catch(() => ({}))) as { detail?: unknown };
  if (!response.ok) throw refusal(response.status, body, response.statusText);
  return body as T;
}

/** A 429: every call of the tab waits until its Retry-After; the error says when to try again. */
function tooManyRequests(retryAfter: string | null): ApiError {
  const waitSeconds = Number(retryAfter) || 5;
  pauseUntil(Date.now() + waitSeconds * 1000);
  return new ApiError(429, `Too many requests for now: try again in ${waitSeconds} s`);
}

/** The error of a refused call, in the API's words. */
function refusal(status: number, body: { detail?: unknown }, statusText: string): ApiError {
  const message =
    status === 403
      ? `You do not have access to this: ${detailText(body.detail)}`
      : detailText(body.detail ?? statusText);
  return new ApiError(status, message);
}

/**
 * POSTs `file` as the raw request body (application/octet-stream, as firmware images go up), telling
 * `onProgress` the share sent so far (0 to 1). XMLHttpRequest, not fetch: only it reports upload progress.
 */
export async function upload<T>(path: string, file: Blob, onProgress: (sent: number) => void): Promise<T> {
  await pauseOver();
  const token = await accessToken();
  const request = new XMLHttpRequest();
  const answered = new Promise<T>((resolve, reject) => {
    request.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener('load', () => {
      if (request.status === 429) return reject(tooManyRequests(request.getResponseHeader('retry-after')));
      useApiHealth.setState({ pausedUntil: null, failing: request.status >= 500 });
      let body: { detail?: unknown } = {};
      try {
        body = JSON.parse(request.responseText) as typeof body;
      } catch {
        // Not JSON (a proxy's error page): the status text says what happened.
      }
      if (request.status >= 200 && request.status < 300) resolve(body as T);
      else reject(refusal(request.status, body, request.statusText));
    });
    request.addEventListener('error', () =>
      reject(new ApiError(0, 'The upload broke off: the connection closed before the server answered')),
    );
  });
  request.open('POST', path);
  if (token) request.setRequestHeader('authorization', `Bearer ${token}`);
  request.setRequestHeader('content-type', 'application/octet-stream');
  request.send(file);
  return answered;
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
