// Re-notify and escalation (ADR 022): the follow-up notifications an OPEN, unacknowledged alert is due on
// a route at a moment. Only the latest repeat is due — a dispatcher that was away sends one repeat, not
// every one it missed — and each escalation step once. Acknowledging (or closing) stops both, because
// only OPEN alerts are asked about.
import type { Notice } from '../channels/payload.js';
import type { FollowUpPolicy } from '../model/routes.js';

export interface FollowUp {
  /** The job's notice key: one job per alert × route × key, however often this is asked. */
  key: string;
  integration_id: string;
  notice: Notice;
}

export function dueFollowUps(
  route: FollowUpPolicy & { integration_id: string },
  openedAt: Date,
  now: Date,
): FollowUp[] {
  const minutesOpen = (now.getTime() - openedAt.getTime()) / 60_000;
  const due: FollowUp[] = [];
  if (route.renotify_minutes) {
    const number = Math.floor(minutesOpen / route.renotify_minutes);
    if (number >= 1) {
      due.push({ key: `repeat:${number}`, integration_id: route.integration_id, notice: { kind: 'repeat', number } });
    }
  }
  for (const step of route.escalations) {
    if (minutesOpen < step.after_minutes) continue;
    due.push({
      key: `escalation:${step.integration_id}:${step.after_minutes}`,
      integration_id: step.integration_id,
      notice: { kind: 'escalation', after_minutes: step.after_minutes },
    });
  }
  return due;
}
