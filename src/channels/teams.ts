// Microsoft Teams: a Workflows webhook (the "Post to a channel when a webhook request is received"
// template; its URL carries a signature, so it is sealed) receives a message whose one attachment is an
// Adaptive Card 1.4 — the headline in the severity's colour, the summary, the facts as a FactSet and an
// Action.OpenUrl to the alert in Pulse. Workflows answer 202.
import type { SendResult, TeamsTarget } from './target.js';
import type { AlertPayload } from './payload.js';
import type { SendContext } from './context.js';
import { postJson } from './http-post.js';
import { clip, facts, headline } from './message-text.js';
import { maskedUrl } from '../lib/masked-url.js';

/** Adaptive Card text colours by severity, and green once resolved. */
const colour = (payload: AlertPayload) =>
  payload.event === 'CLOSED'
    ? 'Good'
    : payload.severity >= 4
      ? 'Attention'
      : payload.severity === 3
        ? 'Warning'
        : 'Default';

export function teamsMessage(payload: AlertPayload, alertUrl: string) {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            {
              type: 'TextBlock',
              text: clip(headline(payload), 500),
              weight: 'Bolder',
              size: 'Medium',
              color: colour(payload),
              wrap: true,
            },
            { type: 'TextBlock', text: clip(payload.summary || payload.title, 4000), wrap: true },
            { type: 'FactSet', facts: facts(payload).map(([title, value]) => ({ title, value: clip(value, 500) })) },
          ],
          actions: [{ type: 'Action.OpenUrl', title: 'View in Pulse', url: alertUrl }],
        },
      },
    ],
  };
}

export function sendTeams(target: TeamsTarget, payload: AlertPayload, ctx: SendContext): Promise<SendResult> {
  const body = JSON.stringify(teamsMessage(payload, ctx.alertUrl(payload.alert_id)));
  return postJson(target.url, body, { 'user-agent': 'Pulse-Teams/1' }, ctx, maskedUrl(target.url));
}
