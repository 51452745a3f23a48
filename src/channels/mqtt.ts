// MQTT publish of the JSON payload to the integration's topic template (under alerts/<tenant>/), on the
// platform's broker or the integration's own (checked and pinned); at QoS ≥ 1 the broker's PUBACK is
// awaited before the delivery counts as done.
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import mqtt from 'mqtt';
import type { MqttTarget, SendResult } from './target.js';
import type { AlertPayload } from './payload.js';
import { resolveDestination, SsrfError } from '../lib/ssrf.js';
import { render, templateValues } from './template.js';
import { errorText, type SendContext } from './context.js';

export function alertTopic(target: MqttTarget, payload: AlertPayload): string {
  return render(target.topic, templateValues(payload));
}

export async function publishMqtt(target: MqttTarget, payload: AlertPayload, ctx: SendContext): Promise<SendResult> {
  const topic = alertTopic(target, payload);
  const destination = topic;
  // A topic built from alert values must stay in the tenant's own namespace.
  if (!topic.startsWith(`alerts/${payload.tenant_id}/`) || /[+#]/.test(topic) || topic.includes('\u0000')) {
    return { ok: false, error: 'topic_outside_tenant', destination };
  }
  let url: URL;
  const servername: { servername?: string } = {};
  if (target.broker_url) {
    url = new URL(target.broker_url);
    try {
      const pinned = await resolveDestination(url.hostname, ctx.allowlist, ctx.resolver);
      if (isIP(url.hostname) === 0) servername.servername = url.hostname;
      url.hostname = pinned.family === 6 ? `[${pinned.address}]` : pinned.address;
    } catch (error) {
      return {
        ok: false,
        error: error instanceof SsrfError ? `broker_blocked:${error.reason}` : errorText(error),
        destination,
      };
    }
  } else if (ctx.platformBrokerUrl) {
    url = new URL(ctx.platformBrokerUrl);
  } else {
    return { ok: false, error: 'no_broker', destination };
  }
  let client: mqtt.MqttClient | undefined;
  try {
    client = await mqtt.connectAsync(url.toString(), {
      clientId: `pulse-delivery-${randomBytes(6).toString('hex')}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: ctx.timeoutMs,
      ...(target.username && { username: target.username, password: target.password ?? '' }),
      ...servername,
    });
    await client.publishAsync(topic, JSON.stringify(payload), { qos: target.qos, retain: target.retain });
    return { ok: true, destination };
  } catch (error) {
    return { ok: false, error: errorText(error), destination };
  } finally {
    await client?.endAsync().catch(() => undefined);
  }
}
