// What a person reads of an alert event in a chat or incident tool: one headline and a few labelled facts.
// The Slack, Teams and Opsgenie messages are built from these, so they say the same thing.
import { noticeLabel, type AlertPayload, type DeliveryEvent } from './payload.js';

const EVENT_WORDS: Record<DeliveryEvent, string> = { OPEN: 'Open', ACKNOWLEDGED: 'Acknowledged', CLOSED: 'Resolved' };

/** " (Repeat 2)" on a follow-up; nothing on the event's own notification. */
export function noticeSuffix(payload: AlertPayload): string {
  const notice = noticeLabel(payload.notice);
  return notice ? ` (${notice})` : '';
}

/** "[CRITICAL] Open: Pump pressure high (Repeat 2)". */
export const headline = (payload: AlertPayload) =>
  `[${payload.severity_label}] ${EVENT_WORDS[payload.event]}: ${payload.title}${noticeSuffix(payload)}`;

/** The alert's facts as label and value, in the order shown. */
export function facts(payload: AlertPayload): [label: string, value: string][] {
  const when =
    payload.event === 'CLOSED'
      ? payload.closed_at
      : payload.event === 'ACKNOWLEDGED'
        ? payload.acknowledged_at
        : payload.created_at;
  return [
    ['Device', payload.device_id],
    ['Site', payload.site_id],
    ['Tenant', payload.tenant_id],
    ['Type', payload.alert_type],
    ['Severity', `${payload.severity_label} (${payload.severity})`],
    ['Status', payload.event],
    ['When', when ?? payload.created_at],
    ['Alert', String(payload.alert_id)],
  ];
}

/** `text` cut to `max` characters, an ellipsis marking the cut: every service refuses what is too long. */
export const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
