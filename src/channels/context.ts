// What every channel needs besides the target and the payload.
import type { Config } from '../config.js';
import { Allowlist, type Resolver } from '../lib/ssrf.js';

export interface SendContext {
  allowlist: Allowlist;
  resolver?: Resolver | undefined;
  /** PROD: webhooks must be https. */
  requireHttps: boolean;
  timeoutMs: number;
  /** The platform's own broker, for MQTT integrations that name none (not subject to SSRF checks). */
  platformBrokerUrl: string | undefined;
  /** The alert's page in the web app (PUBLIC_URL), which messages link to. */
  alertUrl: (alertId: number) => string;
  /** Where the incident services' APIs are: configurable for proxies and test receivers. */
  pagerDutyEventsUrl: string;
  opsgenieApiUrls: { us: string; eu: string };
}

export const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function sendContext(config: Config, platformBrokerUrl: string | undefined): SendContext {
  const publicUrl = config.PUBLIC_URL?.replace(/\/$/, '') ?? `http://localhost:${config.PORT}`;
  return {
    allowlist: new Allowlist(config.SSRF_ALLOWLIST),
    requireHttps: config.MODE === 'PROD',
    timeoutMs: config.WORKER_TIMEOUT_SECONDS * 1000,
    platformBrokerUrl,
    alertUrl: (alertId) => `${publicUrl}/app/alerts/${alertId}`,
    pagerDutyEventsUrl: config.PAGERDUTY_EVENTS_URL,
    opsgenieApiUrls: { us: config.OPSGENIE_API_URL, eu: config.OPSGENIE_EU_API_URL },
  };
}
