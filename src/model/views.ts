// What the APIs show of each entity, as TypeBox schemas (see lib/schema.ts for why schemas): devices,
// readings, alerts, rules, deliveries, integrations and their routes, tenants.
import { Type, type TProperties } from '@sinclair/typebox';
import { JsonObject, Nullable, Obj, OneOf, Timestamp } from '../lib/schema.js';
import { AttributesView } from './device-tags.js';
import { DeviceSelectorSchema } from './device-selection.js';
import { HEALTH_STATES } from './integration-health.js';
import { RULE_OPERATORS } from './rule-input.js';
import { ROLES } from './users.js';

/** A position a device reports as a metric (issue 31). */
export const Position = Type.Object(
  {
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    alt: Type.Optional(Type.Number({ description: 'metres above sea level' })),
    acc: Type.Optional(Type.Number({ minimum: 0, description: 'metres' })),
  },
  { additionalProperties: false },
);

export const Metrics = Type.Record(
  Type.String(),
  Type.Union([Type.Number(), Type.Boolean(), Type.String(), Position]),
  {
    description: 'metric name → number, boolean, text state or position {lat, lon, alt?, acc?}',
  },
);

const DeviceStatus = OneOf(['ONLINE', 'STALE', 'OFFLINE', 'REVOKED']);
const headline = {
  battery_pct: Nullable(Type.Number()),
  temp_c: Nullable(Type.Number()),
  rssi_dbm: Nullable(Type.Number()),
  snr_db: Nullable(Type.Number()),
};

const deviceFields = {
  tenant_id: Type.String(),
  device_id: Type.String(),
  site_id: Type.String(),
  status: DeviceStatus,
  last_seen_at: Nullable(Timestamp),
  last_heartbeat_at: Nullable(Timestamp),
  last_telemetry_at: Nullable(Timestamp),
  state: JsonObject,
  tags: Type.Array(Type.String()),
  attributes: AttributesView,
  reported_attributes: { ...AttributesView, description: 'what the device reported of itself; attributes win' },
};

/** A device with its health and latest values. */
export const Device = Obj(deviceFields);

/** A device of the fleet list, with the four headline metrics as numbers (docs/wire-contract.md#data-api). */
export const FleetDevice = Obj({ ...deviceFields, ...headline });

/** One device as the registry and the evaluator know it. */
export const DeviceDetail = Obj({
  ...deviceFields,
  ...Type.Partial(Type.Object(headline)).properties,
  last_state_change_at: Nullable(Timestamp),
  fw_version: Nullable(Type.String()),
  metadata: JsonObject,
  registry_status: Type.Optional(Type.String()),
  provisioned_at: Type.Optional(Timestamp),
});

export const DevicePage = Obj({
  tenant_id: Type.String(),
  devices: Type.Array(Device),
  count: Type.Integer(),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
});

/** A stored message: telemetry, or a heartbeat / status event. */
export const Reading = Obj({
  timestamp: Timestamp,
  metrics: Metrics,
  seq: Type.Integer(),
  msg_type: Type.String(),
});

/** A device's newest telemetry. */
export const LatestReading = Type.Omit(Reading, ['msg_type']);

/** A stored row as the device page lists it. */
const StoredRow = Obj({ time: Timestamp, msg_type: Type.String(), metrics: Metrics, seq: Type.Integer() });

/** A device with its latest values, recent events (24 h) and telemetry (6 h), as its tenant sees it. */
export const DeviceWithHistory = Obj({
  tenant_id: Type.String(),
  device: DeviceDetail,
  events: Type.Array(StoredRow),
  telemetry: Type.Array(StoredRow),
});

const AlertStatus = OneOf(['OPEN', 'ACKNOWLEDGED', 'CLOSED']);

export const Alert = Obj({
  alert_id: Type.Integer(),
  tenant_id: Type.String(),
  device_id: Type.String(),
  site_id: Type.String(),
  alert_type: Type.String({ description: 'NO_HEARTBEAT, THRESHOLD or INTEGRATION_FAILING' }),
  title: Type.String({ description: "what to call it: its rule's name, or the type in words" }),
  fingerprint: Type.String(),
  severity: Type.Integer({ description: '1 info … 5 critical' }),
  confidence: Type.Number(),
  summary: Type.String(),
  details: JsonObject,
  status: AlertStatus,
  created_at: Timestamp,
  updated_at: Timestamp,
  closed_at: Nullable(Timestamp),
  acknowledged_at: Nullable(Timestamp),
  acknowledged_by: Nullable(Type.String()),
  silenced_by: Nullable(Type.String({ description: 'the silence that held its notifications' })),
  closed_by: Nullable(Type.String({ description: 'who closed it by hand; null when Pulse closed it' })),
});

/** A page of alerts with the filter it answers; `extra` holds what one endpoint adds. */
export const AlertPage = <T extends TProperties>(extra: T) =>
  Obj({
    tenant_id: Type.String(),
    alerts: Type.Array(Alert),
    count: Type.Integer(),
    status: Type.String(),
    limit: Type.Integer(),
    offset: Type.Integer(),
    ...extra,
  });

/** A rule's area: a circle (metres) or a polygon of [lat, lon] points. */
export const Geofence = Type.Union([
  Type.Object(
    {
      type: Type.Literal('circle'),
      lat: Type.Number({ minimum: -90, maximum: 90 }),
      lon: Type.Number({ minimum: -180, maximum: 180 }),
      radius_m: Type.Number({ exclusiveMinimum: 0 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('polygon'),
      points: Type.Array(Type.Tuple([Type.Number(), Type.Number()]), { minItems: 3, maxItems: 500 }),
    },
    { additionalProperties: false },
  ),
]);

export const AlertRule = Obj({
  tenant_id: Type.String(),
  rule_id: Type.String(),
  name: Type.String(),
  enabled: Type.Boolean(),
  metric_name: Type.String(),
  operator: OneOf(RULE_OPERATORS),
  threshold: Type.Number(),
  values: Nullable(Type.Array(Type.String())),
  geofence: Nullable(Geofence),
  severity: Type.Integer(),
  description: Nullable(Type.String()),
  site_ids: Nullable(Type.Array(Type.String())),
  selector: Nullable(DeviceSelectorSchema),
  duration_seconds: Type.Integer(),
  hysteresis: Type.Number(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

/** A rule as saved, with a warning when no device of the tenant has reported its metric. */
export const SavedRule = Obj({ ...AlertRule.properties, warning: Type.Optional(Type.String()) });

export const DeliveryAttempt = Obj({
  tenant_id: Type.String(),
  job_id: Type.Integer(),
  alert_id: Type.Integer(),
  integration_id: Type.String(),
  attempt_no: Type.Integer(),
  ok: Type.Boolean(),
  http_status: Nullable(Type.Integer()),
  latency_ms: Nullable(Type.Number()),
  error: Nullable(Type.String()),
  started_at: Timestamp,
  finished_at: Nullable(Timestamp),
});

const routeFilter = {
  deliver_on: Type.Array(Type.String()),
  min_severity: Nullable(Type.Integer()),
  severities: Nullable(Type.Array(Type.String())),
  alert_types: Nullable(Type.Array(Type.String())),
  site_ids: Nullable(Type.Array(Type.String())),
  device_prefixes: Nullable(Type.Array(Type.String())),
  selector: Nullable(DeviceSelectorSchema),
};

/** Which alerts go to which integration. */
export const IntegrationRoute = Obj({
  ...routeFilter,
  tenant_id: Type.String(),
  route_id: Type.String(),
  integration_id: Type.String(),
  integration_name: Type.String(),
  integration_type: Type.String(),
  name: Type.String(),
  enabled: Type.Boolean(),
  priority: Type.Integer(),
  renotify_minutes: Nullable(Type.Integer()),
  escalations: Type.Array(Obj({ after_minutes: Type.Integer(), integration_id: Type.String() })),
  deliver_superseded: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const TenantStatus = OneOf(['ACTIVE', 'SUSPENDED', 'DELETED']);

export const Tenant = Obj({
  tenant_id: Type.String(),
  name: Type.String(),
  status: TenantStatus,
  contact_email: Nullable(Type.String()),
  contact_name: Nullable(Type.String()),
  metadata: JsonObject,
  created_at: Timestamp,
  updated_at: Timestamp,
  deleted_at: Nullable(Timestamp),
});

/** The result of a test notification. */
export const TestDelivery = Obj({
  success: Type.Boolean(),
  integration_id: Type.String(),
  integration_name: Type.String(),
  integration_type: Type.String(),
  destination: Type.String(),
  error: Nullable(Type.String()),
  http_status: Nullable(Type.Integer()),
  duration_ms: Type.Number(),
  latency_ms: Type.Number(),
});

const integrationBase = {
  tenant_id: Type.String(),
  integration_id: Type.String(),
  id: Type.String({ description: 'the same as integration_id (as OpsConductor-Pulse answers it)' }),
  name: Type.String(),
  enabled: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
};
const webhookFields = {
  ...integrationBase,
  type: Type.Literal('webhook'),
  url: Nullable(Type.String({ description: 'for customer_viewer only its origin: the path can be a credential' })),
  headers: Type.Record(Type.String(), Type.String(), { description: 'secret values shown as [redacted]' }),
  signed: Type.Boolean(),
};
const Webhook = Obj(webhookFields);
const Snmp = Obj({
  ...integrationBase,
  type: Type.Literal('snmp'),
  snmp_host: Nullable(Type.String()),
  snmp_port: Nullable(Type.Integer()),
  snmp_version: Nullable(Type.String()),
  snmp_oid_prefix: Nullable(Type.String()),
  snmp_username: Nullable(Type.String()),
  snmp_auth_protocol: Nullable(Type.String()),
  snmp_priv_protocol: Nullable(Type.String()),
});
const Email = Obj({
  ...integrationBase,
  type: Type.Literal('email'),
  smtp_host: Type.String(),
  smtp_port: Type.Integer(),
  smtp_user: Nullable(Type.String()),
  smtp_tls: Type.Boolean(),
  smtp_tls_mode: Type.String(),
  tls_verify: Type.Boolean(),
  from_address: Type.String(),
  from_name: Type.String(),
  recipients: Nullable(
    Obj({ to: Type.Array(Type.String()), cc: Type.Array(Type.String()), bcc: Type.Array(Type.String()) }),
  ),
  recipient_count: Type.Integer(),
  template_format: Type.String(),
  subject_template: Type.String(),
  body_template: Nullable(Type.String()),
});
const Mqtt = Obj({
  ...integrationBase,
  type: Type.Literal('mqtt'),
  mqtt_topic: Nullable(Type.String()),
  mqtt_qos: Nullable(Type.Integer()),
  mqtt_retain: Nullable(Type.Boolean()),
  broker_url: Nullable(Type.String()),
  mqtt_username: Nullable(Type.String()),
});

const chatView = (type: 'slack' | 'teams') =>
  Obj({
    ...integrationBase,
    type: Type.Literal(type),
    url: Nullable(Type.String({ description: 'the webhook URL masked to its origin: the URL is the credential' })),
  });
const PagerDuty = Obj({ ...integrationBase, type: Type.Literal('pagerduty') });
const Opsgenie = Obj({
  ...integrationBase,
  type: Type.Literal('opsgenie'),
  region: Type.Union([Type.Literal('us'), Type.Literal('eu')]),
});

/** An integration with every setting but its secrets. */
export const Integration = Type.Union([
  Webhook,
  Snmp,
  Email,
  Mqtt,
  chatView('slack'),
  chatView('teams'),
  PagerDuty,
  Opsgenie,
]);

/** A webhook just created: its signing secret is shown this once. */
export const CreatedWebhook = Obj({ ...webhookFields, signing_secret: Type.String() });

/** One line of the list of every type. */
export const IntegrationListItem = Obj({
  tenant_id: Type.String(),
  integration_id: Type.String(),
  name: Type.String(),
  type: OneOf(['webhook', 'snmp', 'email', 'mqtt', 'slack', 'teams', 'pagerduty', 'opsgenie']),
  enabled: Type.Boolean(),
  url: Nullable(Type.String()),
  created_at: Timestamp,
});

/** An integration's health state (ADR 025 note). */
export const HealthStateView = OneOf(HEALTH_STATES, {
  description: 'failing: INTEGRATION_FAILING_AFTER attempts failed in a row, or a job ended FAILED',
});

/** Whether an integration's notifications get through (issue 29 item 4); unknown until its first attempt. */
export const IntegrationHealthView = Obj({
  state: HealthStateView,
  consecutive_failures: Type.Integer(),
  last_success_at: Nullable(Timestamp),
  last_failure_at: Nullable(Timestamp),
  last_error: Nullable(Type.String()),
});

/** What a user or token may do: a token's `role` claim. */
export const Role = OneOf(ROLES);

/** A user of the built-in issuer (never its password hash). */
export const User = Obj({
  user_id: Type.String(),
  username: Type.String(),
  email: Nullable(Type.String()),
  tenant_id: Nullable(Type.String()),
  role: Role,
  disabled: Type.Boolean({ description: 'signs in no more and its tokens are refused' }),
  created_at: Timestamp,
});

/** A device just registered: its one-time activation code. */
export const RegisteredDevice = Obj({
  tenant_id: Type.String(),
  device_id: Type.String(),
  site_id: Type.String(),
  activation_code: Type.String({ description: 'shown once' }),
  expires_at: Timestamp,
});

/** Why one row of a bulk registration was not registered (rows count from 1). */
export const BulkRowError = Obj({ row: Type.Integer(), device_id: Type.Optional(Type.String()), error: Type.String() });

/** A silence: which alerts' notifications it holds, and when. */
export const SilenceView = Obj({
  silence_id: Type.String(),
  tenant_id: Type.String(),
  site_ids: Nullable(Type.Array(Type.String())),
  device_ids: Nullable(Type.Array(Type.String())),
  device_prefixes: Nullable(Type.Array(Type.String())),
  alert_types: Nullable(Type.Array(Type.String())),
  selector: Nullable(DeviceSelectorSchema),
  starts_at: Timestamp,
  ends_at: Timestamp,
  comment: Type.String(),
  created_by: Nullable(Type.String()),
  created_at: Timestamp,
});

/** A firmware image for over-the-air updates (its bytes are downloaded by devices, through signed links). */
export const FirmwareImageView = Obj({
  image_id: Type.String({ format: 'uuid' }),
  tenant_id: Type.String(),
  version: Type.String(),
  model: Nullable(Type.String({ description: 'the device model it is for; null: every model' })),
  filename: Nullable(Type.String()),
  size_bytes: Type.Integer(),
  sha256: Type.String({ description: 'SHA-256 of the image, hex' }),
  created_by: Nullable(Type.String()),
  created_at: Timestamp,
});

/** An API key as listed: never its secret, only the first characters that tell it apart. */
export const ApiKeyView = Obj({
  tenant_id: Type.String(),
  key_id: Type.String(),
  name: Type.String(),
  role: Type.Union([Type.Literal('customer_viewer'), Type.Literal('customer_admin')]),
  prefix: Type.String({ description: "the secret's first characters" }),
  allowed_cidrs: Type.Array(Type.String(), { description: 'networks it may be used from; empty: anywhere' }),
  expires_at: Nullable(Timestamp),
  status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
  created_by: Type.String(),
  created_at: Timestamp,
  last_used_at: Nullable(Timestamp),
  last_used_ip: Nullable(Type.String()),
  use_count: Type.Integer({ description: 'requests made with it (written at most a minute late)' }),
  revoked_at: Nullable(Timestamp),
  revoked_by: Nullable(Type.String()),
});

/** Rejected messages of the last minutes and reject counts per minute and reason. */
export const QuarantineView = Obj({
  minutes: Type.Integer(),
  limit: Type.Integer(),
  events: Type.Array(
    Obj({
      id: Type.Integer(),
      ingested_at: Timestamp,
      tenant_id: Nullable(Type.String()),
      site_id: Nullable(Type.String()),
      device_id: Nullable(Type.String()),
      msg_type: Nullable(Type.String()),
      reason: Type.String(),
      topic: Type.String(),
      payload: Type.Unknown({
        description: 'what the device sent, its token replaced (DEV); {} when stored without it',
      }),
    }),
  ),
  counts: Type.Array(Obj({ minute: Timestamp, reason: Type.String(), count: Type.Integer() })),
});
