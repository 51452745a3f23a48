// Slack: an incoming webhook's URL (the URL is the credential, sealed) receives a Block Kit message — a
// header, the summary with the alert's facts, and a button to its page in Pulse — and `text`, the
// fallback Slack shows in notifications. Lengths are cut to Block Kit's limits (header 150, section text
// 3000, field 2000, button label 75, URL 3000), which Slack refuses a message for exceeding.
import type { SendResult, SlackTarget } from './target.js';
import type { AlertPayload } from './payload.js';
import type { SendContext } from './context.js';
import { postJson } from './http-post.js';
import { clip, facts, headline } from './message-text.js';
import { maskedUrl } from '../lib/masked-url.js';

/** Slack's mrkdwn treats these three as control characters. */
const escapeMrkdwn = (text: string) => text.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);

export function slackMessage(payload: AlertPayload, alertUrl: string) {
  const title = headline(payload);
  return {
    text: clip(title, 3000),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(title, 150), emoji: false } },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: clip(escapeMrkdwn(payload.summary || payload.title), 3000) },
        fields: facts(payload).map(([label, value]) => ({
          type: 'mrkdwn',
          text: clip(`*${label}*\n${escapeMrkdwn(value)}`, 2000),
        })),
      },
      {
        type: 'actions',
        elements: [{ type: 'button', text: { type: 'plain_text', text: 'View in Pulse' }, url: clip(alertUrl, 3000) }],
      },
    ],
  };
}

export function sendSlack(target: SlackTarget, payload: AlertPayload, ctx: SendContext): Promise<SendResult> {
  const body = JSON.stringify(slackMessage(payload, ctx.alertUrl(payload.alert_id)));
  return postJson(target.url, body, { 'user-agent': 'Pulse-Slack/1' }, ctx, maskedUrl(target.url));
}
