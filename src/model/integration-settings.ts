// Integration settings as clients send them, turned into stored columns (secrets sealed) after every
// check, and stored rows turned back into what clients may see — never a secret. Create and update use
// the same path: an update is the stored settings with the changes applied, checked again in full.
import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import type { EmailTarget, OpsgenieRegion } from '../channels/target.js';
import {
  checkBrokerUrl,
  checkEmailAddresses,
  checkEmailTemplates,
  checkMqttTopic,
  checkSmtpHost,
  checkSnmpConfig,
  checkSnmpHost,
  checkWebhookUrl,
  type DestinationRules,
  type SnmpConfigInput,
} from './integration-input.js';
import { DEFAULT_SUBJECT } from '../channels/email.js';
import { toTarget, type IntegrationColumns, type IntegrationRow, type IntegrationType } from './integrations.js';
import type { SecretBox } from '../lib/secrets.js';
import { maskedUrl } from '../lib/masked-url.js';

const REDACTED = '[redacted]';

export interface WebhookSettings {
  name: string;
  webhook_url: string;
  enabled: boolean;
  headers: Record<string, string>;
  /**
   * Headers whose values may be shown and stored in clear. Every other header value is a secret until
   * said otherwise: no name pattern can know that X-Auth or Api-Pass carry credentials.
   */
  public_headers?: string[] | undefined;
}

export interface SnmpSettings {
  name: string;
  snmp_host: string;
  snmp_port: number;
  snmp_config: SnmpConfigInput;
  snmp_oid_prefix: string;
  enabled: boolean;
}

export interface EmailSettings {
  name: string;
  smtp_config: {
    smtp_host: string;
    smtp_port: number;
    smtp_user?: string | null | undefined;
    smtp_password?: string | null | undefined;
    smtp_tls: boolean;
    smtp_tls_mode?: EmailTarget['smtp_tls'] | undefined;
    tls_verify?: boolean | undefined;
    from_address: string;
    from_name: string;
  };
  recipients: { to: string[]; cc: string[]; bcc: string[] };
  template: { subject_template: string; body_template?: string | null | undefined; format: 'html' | 'text' };
  enabled: boolean;
}

export interface MqttSettings {
  name: string;
  mqtt_topic: string;
  mqtt_qos: number;
  mqtt_retain: boolean;
  enabled: boolean;
  mqtt_config?:
    | {
        broker_url?: string | null | undefined;
        username?: string | null | undefined;
        password?: string | null | undefined;
      }
    | undefined;
}

/** Slack or Teams: a webhook whose URL is the credential (stored sealed, shown masked). */
export interface ChatSettings {
  name: string;
  webhook_url: string;
  enabled: boolean;
}

export interface PagerDutySettings {
  name: string;
  routing_key: string;
  enabled: boolean;
}

export interface OpsgenieSettings {
  name: string;
  api_key: string;
  region: OpsgenieRegion;
  enabled: boolean;
}

export interface Built {
  columns: IntegrationColumns;
  /** A new webhook's signing secret, shown once. */
  signingSecret?: string;
}

/** `signingSecret`: the one an existing webhook keeps; a new webhook gets a new one, returned once. */
export async function buildWebhook(
  settings: WebhookSettings,
  rules: DestinationRules,
  box: SecretBox,
  signingSecret?: string,
): Promise<Built> {
  const url = await checkWebhookUrl(settings.webhook_url, rules);
  const publicHeaders: Record<string, string> = {};
  const secretHeaders: Record<string, string> = {};
  const shown = new Set((settings.public_headers ?? []).map((name) => name.toLowerCase()));
  for (const [name, value] of Object.entries(settings.headers)) {
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name) || /[\r\n]/.test(value)) {
      throw new AppError('INVALID_REQUEST', `Invalid header: ${name}`);
    }
    (shown.has(name.toLowerCase()) ? publicHeaders : secretHeaders)[name] = value;
  }
  const secret = signingSecret ?? randomBytes(24).toString('base64url');
  return {
    columns: {
      name: settings.name.trim(),
      type: 'webhook',
      enabled: settings.enabled,
      config_json: { url, headers: publicHeaders, secret_headers: Object.keys(secretHeaders) },
      secrets: box.seal({ headers: secretHeaders, signing_secret: secret }),
    },
    ...(signingSecret === undefined && { signingSecret: secret }),
  };
}

export async function buildSnmp(settings: SnmpSettings, rules: DestinationRules, box: SecretBox): Promise<Built> {
  await checkSnmpHost(settings.snmp_host, settings.snmp_port, rules);
  const config = checkSnmpConfig(settings.snmp_config);
  return {
    columns: {
      name: settings.name.trim(),
      type: 'snmp',
      enabled: settings.enabled,
      snmp_host: settings.snmp_host,
      snmp_port: settings.snmp_port,
      snmp_oid_prefix: settings.snmp_oid_prefix,
      snmp_config: {
        version: config.version,
        ...(config.version === '3' && {
          username: config.username!,
          auth_protocol: config.auth_protocol!,
          priv_protocol: config.priv_protocol ?? null,
        }),
      },
      secrets: box.seal({
        community: config.community,
        auth_password: config.auth_password,
        priv_password: config.priv_password,
      }),
    },
  };
}

export async function buildEmail(settings: EmailSettings, rules: DestinationRules, box: SecretBox): Promise<Built> {
  const smtp = settings.smtp_config;
  await checkSmtpHost(smtp.smtp_host, rules);
  checkEmailAddresses(smtp.from_address, settings.recipients);
  checkEmailTemplates(settings.template.subject_template, settings.template.body_template ?? undefined);
  const mode = smtp.smtp_tls_mode ?? (!smtp.smtp_tls ? 'none' : smtp.smtp_port === 465 ? 'implicit' : 'starttls');
  if (rules.requireHttps && mode === 'none') {
    throw new AppError('INVALID_REQUEST', 'Invalid email configuration: TLS is required in PROD');
  }
  return {
    columns: {
      name: settings.name.trim(),
      type: 'email',
      enabled: settings.enabled,
      email_config: {
        smtp_host: smtp.smtp_host,
        smtp_port: smtp.smtp_port,
        smtp_user: smtp.smtp_user ?? null,
        smtp_tls: mode,
        tls_verify: smtp.tls_verify ?? true,
        from_address: smtp.from_address,
        from_name: smtp.from_name,
      },
      email_recipients: settings.recipients,
      email_template: {
        subject_template: settings.template.subject_template,
        body_template: settings.template.body_template ?? null,
        format: settings.template.format,
      },
      secrets: box.seal({ smtp_password: smtp.smtp_password ?? undefined }),
    },
  };
}

export async function buildMqtt(
  settings: MqttSettings,
  tenantId: string,
  rules: DestinationRules,
  box: SecretBox,
): Promise<Built> {
  checkMqttTopic(settings.mqtt_topic, tenantId);
  const brokerUrl = settings.mqtt_config?.broker_url
    ? await checkBrokerUrl(settings.mqtt_config.broker_url, rules)
    : null;
  return {
    columns: {
      name: settings.name.trim(),
      type: 'mqtt',
      enabled: settings.enabled,
      mqtt_topic: settings.mqtt_topic,
      mqtt_qos: settings.mqtt_qos,
      mqtt_retain: settings.mqtt_retain,
      mqtt_config: { broker_url: brokerUrl, username: settings.mqtt_config?.username ?? null },
      secrets: box.seal({ password: settings.mqtt_config?.password ?? undefined }),
    },
  };
}

export async function buildChat(
  type: 'slack' | 'teams',
  settings: ChatSettings,
  rules: DestinationRules,
  box: SecretBox,
): Promise<Built> {
  const url = await checkWebhookUrl(settings.webhook_url, rules);
  return {
    columns: {
      name: settings.name.trim(),
      type,
      enabled: settings.enabled,
      config_json: { url: maskedUrl(url) },
      secrets: box.seal({ url }),
    },
  };
}

export function buildPagerDuty(settings: PagerDutySettings, box: SecretBox): Built {
  const key = settings.routing_key.trim();
  if (!/^[A-Za-z0-9]{32}$/.test(key)) {
    throw new AppError(
      'INVALID_REQUEST',
      'Invalid PagerDuty routing key: use the Integration Key of an Events API v2 integration (32 letters and digits)',
    );
  }
  return {
    columns: {
      name: settings.name.trim(),
      type: 'pagerduty',
      enabled: settings.enabled,
      config_json: {},
      secrets: box.seal({ routing_key: key }),
    },
  };
}

export function buildOpsgenie(settings: OpsgenieSettings, box: SecretBox): Built {
  const key = settings.api_key.trim();
  if (!/^[A-Za-z0-9-]{8,128}$/.test(key)) {
    throw new AppError(
      'INVALID_REQUEST',
      'Invalid Opsgenie API key: use the API key of an Opsgenie API integration (letters, digits and dashes)',
    );
  }
  return {
    columns: {
      name: settings.name.trim(),
      type: 'opsgenie',
      enabled: settings.enabled,
      config_json: { region: settings.region },
      secrets: box.seal({ api_key: key }),
    },
  };
}

/** The stored settings in the shape clients send, secrets included: the base an update applies to. */
export function currentSettings(row: IntegrationRow, box: SecretBox): Settings {
  const target = toTarget(row, box);
  switch (target.type) {
    case 'webhook':
      return {
        name: row.name,
        webhook_url: target.url,
        enabled: row.enabled,
        headers: target.headers,
        public_headers: Object.keys(row.config_json.headers ?? {}),
      };
    case 'snmp':
      return {
        name: row.name,
        snmp_host: target.host,
        snmp_port: target.port,
        snmp_oid_prefix: target.oid_prefix,
        enabled: row.enabled,
        snmp_config: {
          version: target.version,
          community: target.community,
          username: target.username,
          auth_protocol: target.auth_protocol,
          auth_password: target.auth_password,
          priv_protocol: target.priv_protocol ?? null,
          priv_password: target.priv_password,
        },
      };
    case 'email':
      return {
        name: row.name,
        enabled: row.enabled,
        smtp_config: {
          smtp_host: target.smtp_host,
          smtp_port: target.smtp_port,
          smtp_user: target.smtp_user,
          smtp_password: target.smtp_password,
          smtp_tls: target.smtp_tls !== 'none',
          smtp_tls_mode: target.smtp_tls,
          tls_verify: target.tls_verify,
          from_address: target.from_address,
          from_name: target.from_name,
        },
        recipients: { to: target.to, cc: target.cc, bcc: target.bcc },
        template: {
          subject_template: target.subject_template,
          body_template: target.body_template,
          format: target.format,
        },
      };
    case 'mqtt':
      return {
        name: row.name,
        enabled: row.enabled,
        mqtt_topic: target.topic,
        mqtt_qos: target.qos,
        mqtt_retain: target.retain,
        mqtt_config: { broker_url: target.broker_url, username: target.username, password: target.password },
      };
    case 'slack':
    case 'teams':
      return { name: row.name, enabled: row.enabled, webhook_url: target.url };
    case 'pagerduty':
      return { name: row.name, enabled: row.enabled, routing_key: target.routing_key };
    case 'opsgenie':
      return { name: row.name, enabled: row.enabled, api_key: target.api_key, region: target.region };
  }
}

const changed = (next: unknown, before: unknown) => next !== undefined && next !== before;

type Settings =
  WebhookSettings | SnmpSettings | EmailSettings | MqttSettings | ChatSettings | PagerDutySettings | OpsgenieSettings;

/**
 * The stored settings an update starts from. An update that moves the integration to another
 * destination (URL, host, port, broker, Opsgenie region) leaves the old destination's secrets behind unless
 * it gives them again: they were meant for that server, not for whichever one the update names. `dropped`
 * names what was left behind, for the message when the update then lacks it. Slack's and Teams' URL is
 * the secret itself, and PagerDuty has one destination: nothing to leave behind.
 */
export function updateBase(
  type: IntegrationType,
  current: Settings,
  changes: Record<string, unknown>,
): { base: Settings; dropped: string[] } {
  const same = { base: current, dropped: [] };
  switch (type) {
    case 'webhook': {
      const webhook = current as WebhookSettings;
      if (!changed(changes.webhook_url, webhook.webhook_url) || changes.headers !== undefined) return same;
      const kept = new Set((webhook.public_headers ?? []).map((name) => name.toLowerCase()));
      const secret = Object.keys(webhook.headers).filter((name) => !kept.has(name.toLowerCase()));
      const headers = Object.fromEntries(Object.entries(webhook.headers).filter(([name]) => !secret.includes(name)));
      return { base: { ...webhook, headers }, dropped: secret.map((name) => `header ${name}`) };
    }
    case 'snmp': {
      const snmp = current as SnmpSettings;
      if (!changed(changes.snmp_host, snmp.snmp_host) && !changed(changes.snmp_port, snmp.snmp_port)) return same;
      const { community, auth_password, priv_password, ...rest } = snmp.snmp_config;
      const dropped = Object.entries({ community, auth_password, priv_password }).filter(([, value]) => value);
      return { base: { ...snmp, snmp_config: rest }, dropped: dropped.map(([name]) => `snmp_config.${name}`) };
    }
    case 'email': {
      const email = current as EmailSettings;
      const next = (changes.smtp_config ?? {}) as Partial<EmailSettings['smtp_config']>;
      const smtp = email.smtp_config;
      if (!changed(next.smtp_host, smtp.smtp_host) && !changed(next.smtp_port, smtp.smtp_port)) return same;
      return {
        base: { ...email, smtp_config: { ...smtp, smtp_password: undefined } },
        dropped: smtp.smtp_password ? ['smtp_config.smtp_password'] : [],
      };
    }
    case 'mqtt': {
      const mqtt = current as MqttSettings;
      const next = (changes.mqtt_config ?? {}) as NonNullable<MqttSettings['mqtt_config']>;
      if (!changed(next.broker_url, mqtt.mqtt_config?.broker_url)) return same;
      return {
        base: { ...mqtt, mqtt_config: { ...mqtt.mqtt_config, password: undefined } },
        dropped: mqtt.mqtt_config?.password ? ['mqtt_config.password'] : [],
      };
    }
    case 'opsgenie': {
      const opsgenie = current as OpsgenieSettings;
      if (!changed(changes.region, opsgenie.region)) return same;
      return { base: { ...opsgenie, api_key: '' }, dropped: ['api_key'] };
    }
    default:
      return same;
  }
}

/** An update's check failed after updateBase left secrets behind: say so, and which. */
export function explainDropped(error: unknown, dropped: string[]): unknown {
  if (!(error instanceof AppError) || dropped.length === 0) return error;
  return new AppError(
    error.code,
    `${error.message} (the destination changed, so give its secrets again: ${dropped.join(', ')})`,
    error.extra,
  );
}

/** What an API client sees of an integration: every setting but its secrets. */
export function publicView(row: IntegrationRow) {
  const base = {
    tenant_id: row.tenant_id,
    integration_id: row.integration_id,
    id: row.integration_id,
    name: row.name,
    enabled: row.enabled,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
  switch (row.type) {
    case 'webhook':
      return {
        ...base,
        type: 'webhook' as const,
        url: row.config_json.url ?? null,
        headers: {
          ...row.config_json.headers,
          ...Object.fromEntries((row.config_json.secret_headers ?? []).map((name) => [name, REDACTED])),
        },
        signed: true,
      };
    case 'snmp':
      return {
        ...base,
        type: 'snmp' as const,
        snmp_host: row.snmp_host,
        snmp_port: row.snmp_port,
        snmp_version: row.snmp_config?.version ?? null,
        snmp_oid_prefix: row.snmp_oid_prefix,
        snmp_username: row.snmp_config?.username ?? null,
        snmp_auth_protocol: row.snmp_config?.auth_protocol ?? null,
        snmp_priv_protocol: row.snmp_config?.priv_protocol ?? null,
      };
    case 'email': {
      const config = row.email_config!;
      return {
        ...base,
        type: 'email' as const,
        smtp_host: config.smtp_host,
        smtp_port: config.smtp_port,
        smtp_user: config.smtp_user ?? null,
        smtp_tls: config.smtp_tls !== 'none',
        smtp_tls_mode: config.smtp_tls,
        tls_verify: config.tls_verify,
        from_address: config.from_address,
        from_name: config.from_name,
        recipients: row.email_recipients,
        recipient_count: row.email_recipients?.to.length ?? 0,
        template_format: row.email_template?.format ?? 'html',
        subject_template: row.email_template?.subject_template ?? DEFAULT_SUBJECT,
        body_template: row.email_template?.body_template ?? null,
      };
    }
    case 'mqtt':
      return {
        ...base,
        type: 'mqtt' as const,
        mqtt_topic: row.mqtt_topic,
        mqtt_qos: row.mqtt_qos,
        mqtt_retain: row.mqtt_retain,
        broker_url: row.mqtt_config?.broker_url ?? null,
        mqtt_username: row.mqtt_config?.username ?? null,
      };
    case 'slack':
    case 'teams':
      return { ...base, type: row.type, url: row.config_json.url ?? null };
    case 'pagerduty':
      return { ...base, type: 'pagerduty' as const };
    case 'opsgenie':
      return { ...base, type: 'opsgenie' as const, region: row.config_json.region ?? 'us' };
  }
}

/** A view of an integration for a caller who may not see its secrets: the webhook URL masked. */
export function viewerView<V extends object>(view: V): V {
  return 'url' in view && typeof view.url === 'string' ? { ...view, url: maskedUrl(view.url) } : view;
}

/** One line per integration in the generic list (its real type; `url` for webhooks, masked for Slack and Teams). */
export const listItem = (row: IntegrationRow) => ({
  tenant_id: row.tenant_id,
  integration_id: row.integration_id,
  name: row.name,
  type: row.type,
  enabled: row.enabled,
  url: row.config_json.url ?? null,
  created_at: row.created_at,
});
