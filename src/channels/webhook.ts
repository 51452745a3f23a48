// Webhook: POST of the JSON payload to the checked, pinned address, signed with the integration's
// secret (X-Pulse-Signature: sha256=<HMAC of the body>). 2xx is success; redirects are not followed.
import { createHmac } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import type { SendResult, WebhookTarget } from './target.js';
import type { AlertPayload } from './payload.js';
import { resolveDestination, SsrfError, type PinnedAddress } from '../lib/ssrf.js';
import { errorText, type SendContext } from './context.js';

export const signBody = (secret: string, body: string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** A lookup that always answers the address already checked. */
export function pinnedLookup(pinned: PinnedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
    } else {
      callback(null, pinned.address, pinned.family);
    }
  };
}

export async function sendWebhook(target: WebhookTarget, payload: AlertPayload, ctx: SendContext): Promise<SendResult> {
  const destination = target.url;
  let url: URL;
  try {
    url = new URL(target.url);
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
  const body = JSON.stringify(payload);
  const agent = new Agent({ connect: { lookup: pinnedLookup(pinned), timeout: ctx.timeoutMs } });
  try {
    const response = await request(url, {
      method: 'POST',
      body,
      dispatcher: agent,
      headersTimeout: ctx.timeoutMs,
      bodyTimeout: ctx.timeoutMs,
      headers: {
        ...target.headers,
        'content-type': 'application/json',
        'user-agent': 'Pulse-Webhook/1',
        'x-pulse-event': payload.event,
        ...(payload.delivery_id && { 'x-pulse-delivery': payload.delivery_id }),
        ...(target.signing_secret && { 'x-pulse-signature': signBody(target.signing_secret, body) }),
      },
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
