// One JSON POST over HTTP(S) to a destination checked against the SSRF rules at send time and pinned to the
// address checked (no second DNS answer can redirect it). 2xx is success; redirects are not followed. The
// webhook channel and the incident services (Slack, Teams, PagerDuty, Opsgenie) all send through it.
import type { LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import type { SendResult } from './target.js';
import { resolveDestination, SsrfError, type PinnedAddress } from '../lib/ssrf.js';
import { errorText, type SendContext } from './context.js';

/** A lookup that always answers the address already checked. */
function pinnedLookup(pinned: PinnedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
    } else {
      callback(null, pinned.address, pinned.family);
    }
  };
}

/**
 * POSTs `body` (JSON text) to `target`. `destination` is what the result names as where it went: the
 * URL for a webhook, less for a service whose URL is a credential.
 */
export async function postJson(
  target: string,
  body: string,
  headers: Record<string, string>,
  ctx: SendContext,
  destination = target,
): Promise<SendResult> {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { ok: false, error: 'invalid_url', destination };
  }
  if (ctx.requireHttps && url.protocol !== 'https:') return { ok: false, error: 'https_required', destination };
  let pinned: PinnedAddress;
  try {
    pinned = await resolveDestination(url.hostname, ctx.allowlist, ctx.resolver);
  } catch (error) {
    return {
      ok: false,
      error: error instanceof SsrfError ? `url_blocked:${error.reason}` : errorText(error),
      destination,
    };
  }
  const agent = new Agent({ connect: { lookup: pinnedLookup(pinned), timeout: ctx.timeoutMs } });
  try {
    const response = await request(url, {
      method: 'POST',
      body,
      dispatcher: agent,
      headersTimeout: ctx.timeoutMs,
      bodyTimeout: ctx.timeoutMs,
      headers: { ...headers, 'content-type': 'application/json' },
    });
    await response.body.dump();
    const ok = response.statusCode >= 200 && response.statusCode < 300;
    return { ok, http_status: response.statusCode, ...(!ok && { error: `http_${response.statusCode}` }), destination };
  } catch (error) {
    return { ok: false, error: `request_error:${errorText(error)}`, destination };
  } finally {
    await agent.close();
  }
}
