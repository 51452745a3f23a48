// PagerDuty Events API v2: an alert's OPEN triggers, its ACKNOWLEDGED acknowledges and its CLOSED resolves
// the PagerDuty alert whose dedup_key is the alert's id, so one Pulse alert is one PagerDuty incident
// however often it repeats. The routing key (the integration key of a PagerDuty service) is sealed.
import type { PagerDutyTarget, SendResult } from './target.js';
import type { AlertPayload, DeliveryEvent } from './payload.js';
import type { SendContext } from './context.js';
import { postJson } from './http-post.js';
import { clip, headline } from './message-text.js';

const ACTIONS: Record<DeliveryEvent, 'trigger' | 'acknowledge' | 'resolve'> = {
  OPEN: 'trigger',
  ACKNOWLEDGED: 'acknowledge',
  CLOSED: 'resolve',
};

/** Pulse severity 5 critical, 4 error, 3 warning, 1–2 info. */
const pagerDutySeverity = (severity: number) =>
  severity >= 5 ? 'critical' : severity === 4 ? 'error' : severity === 3 ? 'warning' : 'info';

/** The key an alert is known by in the incident services: its id. */
export const incidentKey = (payload: AlertPayload) => String(payload.alert_id);

export function pagerDutyEvent(payload: AlertPayload, routingKey: string, alertUrl: string) {
  const common = { routing_key: routingKey, event_action: ACTIONS[payload.event], dedup_key: incidentKey(payload) };
  if (payload.event !== 'OPEN') return common;
  return {
    ...common,
    payload: {
      summary: clip(headline(payload), 1024),
      source: clip(payload.device_id, 255),
      severity: pagerDutySeverity(payload.severity),
      timestamp: payload.created_at,
      component: payload.device_id,
      group: payload.site_id,
      class: payload.alert_type,
      custom_details: {
        summary: payload.summary,
        tenant_id: payload.tenant_id,
        fingerprint: payload.fingerprint,
        severity: payload.severity,
        details: payload.details,
      },
    },
    client: 'Pulse',
    client_url: alertUrl,
    links: [{ href: alertUrl, text: 'View in Pulse' }],
  };
}

export function sendPagerDuty(target: PagerDutyTarget, payload: AlertPayload, ctx: SendContext): Promise<SendResult> {
  const body = JSON.stringify(pagerDutyEvent(payload, target.routing_key, ctx.alertUrl(payload.alert_id)));
  return postJson(ctx.pagerDutyEventsUrl, body, { 'user-agent': 'Pulse-PagerDuty/1' }, ctx);
}
