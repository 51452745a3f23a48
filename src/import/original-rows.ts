// An OpsConductor-Pulse row (read as JSON, whatever its migration level) turned into what Pulse stores, or
// the reason it cannot be. Pure functions: the importer reads, these decide, the importer writes.
import { checkDeviceSpec, ID_PATTERN, ID_RULE } from '../model/device-spec.js';
import { ALERT_TYPES, SEVERITY_NAMES } from '../model/routes.js';
import type { EmailSettings, MqttSettings, SnmpSettings, WebhookSettings } from '../model/integration-settings.js';
import type { Operator } from '../model/rules.js';
import { DEFAULT_SUBJECT } from '../channels/email.js';
import { isUuid } from '../lib/uuid.js';

export type SourceRow = Record<string, unknown>;

/** What the importer brings over, in the order it writes them. */
export const KINDS = ['tenant', 'device', 'device state', 'rule', 'integration', 'route', 'alert'] as const;
export type Kind = (typeof KINDS)[number];

export type Mapped<T> = { row: T; note?: string } | { refused: string };

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const texts = (value: unknown): string[] | null =>
  Array.isArray(value) && value.length > 0 ? value.filter((item): item is string => typeof item === 'string') : null;
const object = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
/** jsonb read through to_jsonb of a text column holding JSON (a few deployments stored it as text). */
const json = (value: unknown): Record<string, unknown> => {
  if (typeof value !== 'string') return object(value);
  try {
    return object(JSON.parse(value));
  } catch {
    return {};
  }
};

export interface TenantRow {
  tenant_id: string;
  name: string;
  status: string;
  contact_email: string | null;
  contact_name: string | null;
  metadata: Record<string, unknown>;
  created_at: string | null;
}

export function mapTenant(source: SourceRow): Mapped<TenantRow> {
  const status = text(source.status) ?? 'ACTIVE';
  if (status === 'DELETED') return { refused: 'deleted in the original' };
  if (!['ACTIVE', 'SUSPENDED'].includes(status)) return { refused: `status ${status} is not ACTIVE or SUSPENDED` };
  const tenantId = text(source.tenant_id) ?? '';
  if (!new RegExp(ID_PATTERN, 'u').test(tenantId)) return { refused: `tenant_id must be ${ID_RULE}` };
  return {
    row: {
      tenant_id: tenantId,
      name: text(source.name)?.trim() || tenantId,
      status,
      contact_email: text(source.contact_email),
      contact_name: text(source.contact_name),
      metadata: json(source.metadata),
      created_at: text(source.created_at),
    },
  };
}

export interface DeviceRow {
  tenant_id: string;
  device_id: string;
  site_id: string;
  status: 'ACTIVE' | 'REVOKED' | 'PENDING';
  provision_token_hash: string | null;
  fw_version: string | null;
  metadata: Record<string, unknown>;
  provisioned_at: string | null;
  created_at: string | null;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Devices keep their token hash as it is: the original stores SHA-256 hex of the token, as Pulse does, so
 * the token the device holds keeps working. Later levels of the original have statuses Pulse does not
 * (INACTIVE, SUSPENDED, decommissioned): such a device may not publish there, so it comes over REVOKED.
 */
export function mapDevice(source: SourceRow): Mapped<DeviceRow> {
  const checked = checkDeviceSpec({
    tenant_id: source.tenant_id,
    device_id: source.device_id,
    site_id: source.site_id,
    fw_version: text(source.fw_version),
    metadata: json(source.metadata),
  });
  if ('error' in checked) return { refused: checked.error };
  const hash = text(source.provision_token_hash)?.toLowerCase() ?? null;
  if (hash !== null && !SHA256_HEX.test(hash)) return { refused: 'provision_token_hash is not SHA-256 hex' };
  const original = text(source.status) ?? 'ACTIVE';
  const decommissioned = text(source.decommissioned_at) !== null;
  let status: DeviceRow['status'];
  let note: string | undefined;
  if (decommissioned || ['INACTIVE', 'SUSPENDED'].includes(original)) {
    status = 'REVOKED';
    note = `${decommissioned ? 'decommissioned' : original} in the original: imported REVOKED`;
  } else if (original === 'ACTIVE' || original === 'REVOKED' || original === 'PENDING') {
    status = original;
  } else {
    return { refused: `status ${original} is not one Pulse knows (ACTIVE, REVOKED, PENDING)` };
  }
  if (status === 'ACTIVE' && hash === null) note = 'has no provision token: rotate one before it can publish';
  const spec = checked.spec;
  return {
    row: {
      tenant_id: spec.tenant_id,
      device_id: spec.device_id,
      site_id: spec.site_id,
      status,
      provision_token_hash: hash,
      fw_version: spec.fw_version ?? null,
      metadata: spec.metadata ?? {},
      provisioned_at: text(source.provisioned_at) ?? text(source.created_at),
      created_at: text(source.created_at) ?? text(source.provisioned_at),
    },
    ...(note && { note }),
  };
}

export interface DeviceStateRow {
  tenant_id: string;
  device_id: string;
  site_id: string;
  status: string;
  last_heartbeat_at: string | null;
  last_telemetry_at: string | null;
  last_seen_at: string | null;
  last_state_change_at: string | null;
  state: Record<string, unknown>;
}

export function mapDeviceState(source: SourceRow, devices: ReadonlySet<string>): Mapped<DeviceStateRow> {
  const deviceId = String(source.device_id);
  if (!devices.has(deviceId)) return { refused: 'its device is not in Pulse' };
  const status = text(source.status) ?? 'OFFLINE';
  if (!['ONLINE', 'STALE', 'OFFLINE'].includes(status)) return { refused: `status ${status} is not ONLINE or STALE` };
  return {
    row: {
      tenant_id: String(source.tenant_id),
      device_id: deviceId,
      site_id: text(source.site_id) ?? '',
      status,
      last_heartbeat_at: text(source.last_heartbeat_at),
      last_telemetry_at: text(source.last_telemetry_at),
      last_seen_at: text(source.last_seen_at),
      last_state_change_at: text(source.last_state_change_at),
      state: json(source.state),
    },
  };
}

export interface RuleRow {
  tenant_id: string;
  rule_id: string;
  name: string;
  description: string | null;
  enabled: boolean;
  metric_name: string;
  operator: Operator;
  threshold: number;
  severity: number;
  site_ids: string[] | null;
  duration_seconds: number;
  created_at: string | null;
}

/** The original's operators: GT… at 305eab4, symbols after its migration 040. */
const OPERATORS: Record<string, Operator> = {
  GT: 'GT',
  LT: 'LT',
  GTE: 'GTE',
  LTE: 'LTE',
  '>': 'GT',
  '<': 'LT',
  '>=': 'GTE',
  '<=': 'LTE',
  '==': 'EQ',
  '!=': 'NE',
};
/** Severity words of later levels, as Pulse's 1 (info) … 5 (critical). */
const SEVERITY_WORDS: Record<string, number> = { critical: 5, high: 4, medium: 3, warning: 3, low: 2, info: 1 };

export function mapRule(source: SourceRow): Mapped<RuleRow> {
  const metric = text(source.metric_name)?.trim();
  if (!metric)
    return {
      refused: `no metric_name: a rule of type ${text(source.rule_type) ?? 'threshold'} without one is not a threshold rule`,
    };
  const operator = OPERATORS[text(source.operator) ?? ''];
  if (!operator) return { refused: `operator ${String(source.operator)} is not one of GT, LT, GTE, LTE` };
  if (operator === 'EQ' || operator === 'NE') return { refused: `operator ${String(source.operator)} on a number` };
  const threshold = Number(source.threshold);
  if (source.threshold === null || !Number.isFinite(threshold)) return { refused: 'no numeric threshold' };
  const severity =
    typeof source.severity === 'string' ? SEVERITY_WORDS[source.severity.toLowerCase()] : Number(source.severity);
  if (!Number.isInteger(severity) || severity! < 1 || severity! > 5) {
    return { refused: `severity ${String(source.severity)} is not 1-5` };
  }
  const duration = Number(source.duration_seconds ?? 0);
  return {
    row: {
      tenant_id: String(source.tenant_id),
      rule_id: text(source.rule_id) ?? String(source.id),
      name: text(source.name)?.trim() || metric,
      description: text(source.description),
      enabled: source.enabled !== false,
      metric_name: metric,
      operator,
      threshold,
      severity: severity!,
      site_ids: texts(source.site_ids),
      duration_seconds: Number.isInteger(duration) && duration > 0 ? duration : 0,
      created_at: text(source.created_at),
    },
  };
}

export type IntegrationSettings =
  | { type: 'webhook'; settings: WebhookSettings; signingSecret?: string }
  | { type: 'snmp'; settings: SnmpSettings }
  | { type: 'email'; settings: EmailSettings }
  | { type: 'mqtt'; settings: MqttSettings };

export interface IntegrationSource {
  tenant_id: string;
  integration_id: string;
  created_at: string | null;
  integration: IntegrationSettings;
}

/**
 * The integration in the shape Pulse's own forms send, secrets included: Pulse then checks it as a new
 * integration (destination rules, credentials, topics) and seals the secrets. Every webhook header is kept
 * secret, as Pulse does for headers nobody declared public.
 */
export function mapIntegration(source: SourceRow): Mapped<IntegrationSource> {
  const id = text(source.integration_id);
  if (!id || !isUuid(id)) return { refused: 'integration_id is not a UUID' };
  const name = text(source.name)?.trim();
  if (!name) return { refused: 'no name' };
  const enabled = source.enabled !== false;
  const found = (integration: IntegrationSettings): Mapped<IntegrationSource> => ({
    row: { tenant_id: String(source.tenant_id), integration_id: id, created_at: text(source.created_at), integration },
  });
  const type = text(source.type);
  switch (type) {
    case 'webhook': {
      const config = json(source.config_json);
      const url = text(config.url);
      if (!url) return { refused: 'a webhook without a URL' };
      const headers = Object.fromEntries(
        Object.entries(object(config.headers)).filter(
          (entry): entry is [string, string] => typeof entry[1] === 'string',
        ),
      );
      const secret = text(config.secret);
      return found({
        type,
        settings: { name, webhook_url: url, enabled, headers, public_headers: [] },
        ...(secret && { signingSecret: secret }),
      });
    }
    case 'snmp': {
      const config = json(source.snmp_config);
      const host = text(source.snmp_host);
      if (!host) return { refused: 'an SNMP integration without a host' };
      const version = text(config.version) === '3' ? '3' : '2c';
      return found({
        type,
        settings: {
          name,
          enabled,
          snmp_host: host,
          snmp_port: Number(source.snmp_port ?? 162),
          snmp_oid_prefix: text(source.snmp_oid_prefix) ?? '1.3.6.1.4.1.99999',
          snmp_config: {
            version,
            community: text(config.community) ?? undefined,
            username: text(config.username) ?? undefined,
            auth_protocol: text(config.auth_protocol) ?? undefined,
            auth_password: text(config.auth_password) ?? undefined,
            priv_protocol: text(config.priv_protocol),
            priv_password: text(config.priv_password),
          },
        },
      });
    }
    case 'email': {
      const smtp = json(source.email_config);
      const recipients = json(source.email_recipients);
      const template = json(source.email_template);
      const host = text(smtp.smtp_host);
      if (!host) return { refused: 'an email integration without an SMTP host' };
      const list = (value: unknown) => texts(value) ?? [];
      return found({
        type,
        settings: {
          name,
          enabled,
          smtp_config: {
            smtp_host: host,
            smtp_port: Number(smtp.smtp_port ?? 587),
            smtp_user: text(smtp.smtp_user),
            smtp_password: text(smtp.smtp_password),
            smtp_tls: smtp.smtp_tls !== false,
            from_address: text(smtp.from_address) ?? '',
            from_name: text(smtp.from_name) ?? 'OpsConductor Pulse',
          },
          recipients: { to: list(recipients.to), cc: list(recipients.cc), bcc: list(recipients.bcc) },
          template: {
            subject_template: text(template.subject_template) ?? DEFAULT_SUBJECT,
            body_template: text(template.body_template),
            format: text(template.format) === 'text' ? 'text' : 'html',
          },
        },
      });
    }
    case 'mqtt': {
      const topic = text(source.mqtt_topic);
      if (!topic) return { refused: 'an MQTT integration without a topic' };
      const config = json(source.mqtt_config);
      return found({
        type,
        settings: {
          name,
          enabled,
          mqtt_topic: topic,
          mqtt_qos: Number(source.mqtt_qos ?? 1),
          mqtt_retain: source.mqtt_retain === true,
          // The original's default broker was its own; in Pulse no broker means Pulse's.
          mqtt_config: { broker_url: text(config.broker_url) },
        },
      });
    }
    default:
      return { refused: `type ${String(type)} is not webhook, snmp, email or mqtt` };
  }
}

export interface RouteRow {
  tenant_id: string;
  route_id: string;
  integration_id: string;
  name: string;
  enabled: boolean;
  min_severity: number | null;
  alert_types: string[] | null;
  severities: string[] | null;
  site_ids: string[] | null;
  device_prefixes: string[] | null;
  deliver_on: string[];
  priority: number;
}

export function mapRoute(source: SourceRow, integrations: ReadonlySet<string>): Mapped<RouteRow> {
  const routeId = text(source.route_id);
  if (!routeId || !isUuid(routeId)) return { refused: 'route_id is not a UUID' };
  const integrationId = String(source.integration_id);
  if (!integrations.has(integrationId)) return { refused: `its integration ${integrationId} is not in Pulse` };
  const alertTypes = texts(source.alert_types)?.map((type) => type.toUpperCase()) ?? null;
  const unknownType = alertTypes?.find((type) => !(ALERT_TYPES as readonly string[]).includes(type));
  if (unknownType) return { refused: `alert type ${unknownType} does not exist in Pulse` };
  // Added by the original's migration 033, lower-case.
  const severities = texts(source.severities)?.map((name) => name.toUpperCase()) ?? null;
  const unknownSeverity = severities?.find((name) => !(name in SEVERITY_NAMES));
  if (unknownSeverity)
    return { refused: `severity ${unknownSeverity} is not one of ${Object.keys(SEVERITY_NAMES).join(', ')}` };
  const deliverOn = texts(source.deliver_on) ?? ['OPEN'];
  const unknownEvent = deliverOn.find((event) => !['OPEN', 'CLOSED'].includes(event));
  if (unknownEvent) return { refused: `deliver_on ${unknownEvent} is not OPEN or CLOSED` };
  const minSeverity =
    source.min_severity === null || source.min_severity === undefined ? null : Number(source.min_severity);
  return {
    row: {
      tenant_id: String(source.tenant_id),
      route_id: routeId,
      integration_id: integrationId,
      name: text(source.name)?.trim() || 'route',
      enabled: source.enabled !== false,
      min_severity: minSeverity,
      alert_types: alertTypes,
      severities,
      site_ids: texts(source.site_ids),
      device_prefixes: texts(source.device_prefixes),
      deliver_on: deliverOn,
      priority: Number(source.priority ?? 100),
    },
  };
}

export interface AlertRow {
  tenant_id: string;
  source_alert_id: number;
  site_id: string;
  device_id: string;
  alert_type: string;
  fingerprint: string;
  status: 'OPEN' | 'ACKNOWLEDGED';
  severity: number;
  confidence: number;
  summary: string;
  details: Record<string, unknown>;
  created_at: string;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
}

/** Device alerts Pulse raises and closes itself; any other type would stay open forever. */
const DEVICE_ALERT_TYPES = ['NO_HEARTBEAT', 'THRESHOLD'];

export function mapAlert(source: SourceRow, devices: ReadonlySet<string>): Mapped<AlertRow> {
  const status = text(source.status);
  if (status !== 'OPEN' && status !== 'ACKNOWLEDGED') return { refused: `status ${String(status)}` };
  const type = text(source.alert_type) ?? '';
  if (!DEVICE_ALERT_TYPES.includes(type)) return { refused: `alert type ${type} does not exist in Pulse` };
  const deviceId = String(source.device_id);
  if (!devices.has(deviceId)) return { refused: 'its device is not in Pulse' };
  const fingerprint = text(source.fingerprint);
  if (!fingerprint) return { refused: 'no fingerprint' };
  const severity = Number(source.severity);
  return {
    row: {
      tenant_id: String(source.tenant_id),
      source_alert_id: Number(source.id),
      site_id: text(source.site_id) ?? '',
      device_id: deviceId,
      alert_type: type,
      fingerprint,
      status,
      severity: Number.isInteger(severity) ? severity : 0,
      confidence: Number(source.confidence ?? 0) || 0,
      summary: text(source.summary) ?? type,
      details: json(source.details),
      created_at: text(source.created_at) ?? new Date().toISOString(),
      acknowledged_at: text(source.acknowledged_at),
      acknowledged_by: text(source.acknowledged_by),
    },
  };
}
