// Webhook: POST of the JSON payload to the checked, pinned address (http-post.ts), signed with the
// integration's secret (X-Pulse-Signature: sha256=<HMAC of the body>).
import { createHmac } from 'node:crypto';
import type { SendResult, WebhookTarget } from './target.js';
import type { AlertPayload } from './payload.js';
import type { SendContext } from './context.js';
import { postJson } from './http-post.js';

export const signBody = (secret: string, body: string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

export function sendWebhook(target: WebhookTarget, payload: AlertPayload, ctx: SendContext): Promise<SendResult> {
  const body = JSON.stringify(payload);
  return postJson(
    target.url,
    body,
    {
      ...target.headers,
      'user-agent': 'Pulse-Webhook/1',
      'x-pulse-event': payload.event,
      ...(payload.delivery_id && { 'x-pulse-delivery': payload.delivery_id }),
      ...(target.signing_secret && { 'x-pulse-signature': signBody(target.signing_secret, body) }),
    },
    ctx,
  );
}
