import type { SendResult, Target } from './target.js';
import type { AlertPayload } from './payload.js';
import type { SendContext } from './context.js';
import { sendEmail } from './email.js';
import { publishMqtt } from './mqtt.js';
import { sendSnmpTrap } from './snmp.js';
import { sendWebhook } from './webhook.js';
import { sendSlack } from './slack.js';
import { sendTeams } from './teams.js';
import { sendPagerDuty } from './pagerduty.js';
import { sendOpsgenie } from './opsgenie.js';

export { sendContext, type SendContext } from './context.js';

/** Sends one payload through the integration's channel. Never throws: failures are results. */
export function send(target: Target, payload: AlertPayload, ctx: SendContext): Promise<SendResult> {
  switch (target.type) {
    case 'webhook':
      return sendWebhook(target, payload, ctx);
    case 'snmp':
      return sendSnmpTrap(target, payload, ctx);
    case 'email':
      return sendEmail(target, payload, ctx);
    case 'mqtt':
      return publishMqtt(target, payload, ctx);
    case 'slack':
      return sendSlack(target, payload, ctx);
    case 'teams':
      return sendTeams(target, payload, ctx);
    case 'pagerduty':
      return sendPagerDuty(target, payload, ctx);
    case 'opsgenie':
      return sendOpsgenie(target, payload, ctx);
  }
}
