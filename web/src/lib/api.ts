// The API client: bearer token on every call, FastAPI-style errors turned into messages a person can act on.
import { accessToken } from './auth';

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
  const token = await accessToken();
  const [contentType, payload] =
    init.csv !== undefined
      ? ['text/csv', init.csv]
      : init.body !== undefined
        ? ['application/json', JSON.stringify(init.body)]
        : [undefined, undefined];
  const response = await fetch(path, {
    method: init.method ?? 'GET',
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      ...(contentType && { 'content-type': contentType }),
    },
    ...(payload !== undefined && { body: payload }),
  });
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
