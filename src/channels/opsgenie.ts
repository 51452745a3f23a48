// Opsgenie Alert API: an OPEN creates an alert whose alias is the Pulse alert's id (Opsgenie de-duplicates
// repeats on it), ACKNOWLEDGED and CLOSED act on that alias. The API key (a GenieKey) is sealed; the US or
// EU API is chosen per integration. Lengths are cut to the documented limits (message 130, alias 512,
// description 15000, tags 20 × 50, entity 512).
import type { OpsgenieTarget, SendResult } from './target.js';
import type { AlertPayload } from './payload.js';
import type { SendContext } from './context.js';
import { postJson } from './http-post.js';
import { clip, facts, noticeSuffix } from './message-text.js';
import { incidentKey } from './pagerduty.js';

/** Pulse severity 5 → P1 … 1 → P5. */
const priority = (severity: number) => `P${6 - Math.min(5, Math.max(1, Math.round(severity)))}`;

/** The request for this event: where it goes under the API's base and what it sends. */
export function opsgenieRequest(payload: AlertPayload, alertUrl: string): { path: string; body: object } {
  const alias = incidentKey(payload);
  if (payload.event !== 'OPEN') {
    const action = payload.event === 'CLOSED' ? 'close' : 'acknowledge';
    return {
      path: `/v2/alerts/${encodeURIComponent(alias)}/${action}?identifierType=alias`,
      body: {
        source: 'Pulse',
        note: `${payload.event === 'CLOSED' ? 'Closed' : 'Acknowledged'} in Pulse: ${alertUrl}`,
      },
    };
  }
  const lines = facts(payload).map(([label, value]) => `${label}: ${value}`);
  return {
    path: '/v2/alerts',
    body: {
      message: clip(`[${payload.severity_label}] ${payload.title}${noticeSuffix(payload)}`, 130),
      alias: clip(alias, 512),
      description: clip([payload.summary, '', ...lines, '', `View in Pulse: ${alertUrl}`].join('\n'), 15000),
      tags: ['pulse', payload.alert_type, `site:${payload.site_id}`].map((tag) => clip(tag, 50)),
      details: Object.fromEntries(facts(payload).map(([label, value]) => [label.toLowerCase(), value])),
      entity: clip(payload.device_id, 512),
      source: 'Pulse',
      priority: priority(payload.severity),
    },
  };
}

export function sendOpsgenie(target: OpsgenieTarget, payload: AlertPayload, ctx: SendContext): Promise<SendResult> {
  const base = ctx.opsgenieApiUrls[target.region].replace(/\/$/, '');
  const { path, body } = opsgenieRequest(payload, ctx.alertUrl(payload.alert_id));
  return postJson(
    `${base}${path}`,
    JSON.stringify(body),
    { authorization: `GenieKey ${target.api_key}`, 'user-agent': 'Pulse-Opsgenie/1' },
    ctx,
    `${base}/v2/alerts`,
  );
}
