// The API client: typed from the server's OpenAPI document (./api.gen.ts), so a path names its parameters,
// request body and answer and a call that does not fit them fails the type check (ADR 018). A bearer token
// goes on every call, and FastAPI-style errors become messages a person can act on.
// A 429 pauses every call of the tab (and of the user's other tabs, which share the budget) until its
// Retry-After; reads then go again by themselves, writes fail with when to try again.
import createClient, { createQuerySerializer } from 'openapi-fetch';
import { create } from 'zustand';
import type { paths } from './api.gen';
import { accessToken } from './auth';
import type { Answer } from './types';

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

/**
 * Sends one request of the client: after any pause, with the current token. A GET refused with 429 waits
 * for its Retry-After and goes again; any other request refused so throws.
 */
async function send(request: Request): Promise<Response> {
  for (;;) {
    await pauseOver();
    const token = await accessToken();
    if (token) request.headers.set('authorization', `Bearer ${token}`);
    let response: Response;
    try {
      response = await fetch(request);
    } catch (error) {
      useApiHealth.setState({ failing: true });
      throw error;
    }
    if (response.status !== 429) {
      useApiHealth.setState({ pausedUntil: null, failing: response.status >= 500 });
      return response;
    }
    const refused = tooManyRequests(response.headers.get('retry-after'));
    if (request.method !== 'GET') throw refused;
  }
}

/** What a call of the client resolves to. */
type Called<Data> = { data?: Data; error?: unknown; response: Response };

/**
 * The API. Each call answers `{ data, error, response }`; `unwrap` turns that into the answer or an
 * ApiError. A body is sent as JSON unless the call says otherwise (a CSV: `bodySerializer` and its type).
 */
export const api = createClient<paths>({ fetch: send });

/** What a call answered, or its refusal thrown as an ApiError in the API's words. */
export async function unwrap<Data>(call: Promise<Called<Data>>): Promise<Data> {
  return answerOf(await call);
}

function answerOf<Data>({ data, error, response }: Called<Data>): Data {
  if (!response.ok) throw refusal(response.status, error, response.statusText);
  return data as Data;
}

/** A 429: every call of the tab waits until its Retry-After; the error says when to try again. */
function tooManyRequests(retryAfter: string | null): ApiError {
  const waitSeconds = Number(retryAfter) || 5;
  pauseUntil(Date.now() + waitSeconds * 1000);
  return new ApiError(429, `Too many requests for now: try again in ${waitSeconds} s`);
}

/** The error of a refused call, in the API's words (`body` is what it answered, JSON or not). */
function refusal(status: number, body: unknown, statusText: string): ApiError {
  const detail = typeof body === 'object' && body !== null && 'detail' in body ? body.detail : statusText;
  const message = status === 403 ? `You do not have access to this: ${detailText(detail)}` : detailText(detail);
  return new ApiError(status, message);
}

/** The paths that take a POST. */
type PostPath = { [P in keyof paths]: paths[P] extends { post: object } ? P : never }[keyof paths];
type PostQuery<P extends PostPath> = paths[P]['post'] extends { parameters: { query?: infer Query } } ? Query : never;
const queryString = createQuerySerializer();

/**
 * POSTs `file` as the raw request body (application/octet-stream, as firmware images go up), telling
 * `onProgress` the share sent so far (0 to 1). XMLHttpRequest, not fetch: only it reports upload progress.
 */
export async function upload<P extends PostPath>(
  path: P,
  query: PostQuery<P>,
  file: Blob,
  onProgress: (sent: number) => void,
): Promise<Answer<P, 'post'>> {
  await pauseOver();
  const token = await accessToken();
  const request = new XMLHttpRequest();
  const answered = new Promise<Answer<P, 'post'>>((resolve, reject) => {
    request.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener('load', () => {
      if (request.status === 429) return reject(tooManyRequests(request.getResponseHeader('retry-after')));
      useApiHealth.setState({ pausedUntil: null, failing: request.status >= 500 });
      let body: unknown;
      try {
        body = JSON.parse(request.responseText);
      } catch {
        // Not JSON (a proxy's error page): the status text says what happened.
      }
      if (request.status >= 200 && request.status < 300) resolve(body as Answer<P, 'post'>);
      else reject(refusal(request.status, body, request.statusText));
    });
    request.addEventListener('error', () =>
      reject(new ApiError(0, 'The upload broke off: the connection closed before the server answered')),
    );
  });
  const search = queryString(query as Record<string, unknown>);
  request.open('POST', search ? `${path}?${search}` : path);
  if (token) request.setRequestHeader('authorization', `Bearer ${token}`);
  request.setRequestHeader('content-type', 'application/octet-stream');
  request.send(file);
  return answered;
}

/**
 * Downloads a file the API answers (an export) under the name its Content-Disposition gives. Tokens live
 * in memory only, so a plain link cannot carry one: the file is fetched and handed to the browser.
 */
export async function download(call: Promise<Called<Blob>>): Promise<void> {
  const called = await call;
  const file = answerOf(called);
  const disposition = called.response.headers.get('content-disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'export.csv';
  const url = URL.createObjectURL(file);
  const link = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(url);
}
