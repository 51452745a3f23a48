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
}

export const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function sendContext(config: Config, platformBrokerUrl: string | undefined): SendContext {
  return {
    allowlist: new Allowlist(config.SSRF_ALLOWLIST),
    requireHttps: config.MODE === 'PROD',
    timeoutMs: config.WORKER_TIMEOUT_SECONDS * 1000,
    platformBrokerUrl,
  };
}
