// What /customer/integrations[/snmp|/email|/mqtt|/slack|/teams|/pagerduty|/opsgenie] and /customer/integration-routes accept: the
// original's fields and limits, as TypeBox schemas (PATCH bodies are the create bodies without defaults).
import { Type, type TProperties, type TSchema } from '@sinclair/typebox';
import { DEFAULT_SUBJECT } from '../../channels/email.js';
import { DeviceSelectorSchema } from '../../model/device-selection.js';
import { Nullable } from '../../lib/schema.js';

export const IdParams = Type.Object({ integration_id: Type.String() });
const Name = (max: number) => Type.String({ minLength: 1, maxLength: max });
const Headers = Type.Record(Type.String(), Type.String({ maxLength: 4096 }), {
  description: 'sent with every POST; values are stored sealed and shown redacted unless named in public_headers',
});
const PublicHeaders = Type.Array(Type.String({ maxLength: 200 }), {
  maxItems: 50,
  description: 'header names whose values are not secret: stored in clear and shown',
});

export const WebhookCreate = Type.Object({
  name: Name(100),
  webhook_url: Type.String({ minLength: 1 }),
  enabled: Type.Boolean({ default: true }),
  headers: Type.Optional(Headers),
  public_headers: Type.Optional(PublicHeaders),
});
export const WebhookPatch = withoutDefaults(Type.Partial(WebhookCreate));

const SnmpConfig = Type.Union([
  Type.Object({ version: Type.Literal('2c'), community: Type.String({ minLength: 1, maxLength: 64 }) }),
  Type.Object({
    version: Type.Literal('3'),
    username: Type.String({ minLength: 1, maxLength: 64 }),
    auth_protocol: Type.Optional(Type.String()),
    auth_password: Type.String({ minLength: 8, maxLength: 64 }),
    priv_protocol: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    priv_password: Type.Optional(Type.Union([Type.String({ minLength: 8, maxLength: 64 }), Type.Null()])),
  }),
]);
const snmpFields = {
  name: Name(128),
  snmp_host: Type.String({ minLength: 1, maxLength: 255 }),
  snmp_port: Type.Integer({ minimum: 1, maximum: 65535, default: 162 }),
  snmp_config: SnmpConfig,
  snmp_oid_prefix: Type.String({ pattern: '^[0-9]+(\\.[0-9]+)*$', maxLength: 128, default: '1.3.6.1.4.1.99999' }),
  enabled: Type.Boolean({ default: true }),
};
export const SnmpCreate = Type.Object(snmpFields);
export const SnmpPatch = withoutDefaults(Type.Partial(Type.Object(snmpFields)));

const Email = Type.String({ maxLength: 254 });
const SmtpConfig = Type.Object({
  smtp_host: Type.String({ minLength: 1, maxLength: 255 }),
  smtp_port: Type.Integer({ minimum: 1, maximum: 65535, default: 587 }),
  smtp_user: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
  smtp_password: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
  smtp_tls: Type.Boolean({ default: true }),
  smtp_tls_mode: Type.Optional(Type.Union([Type.Literal('starttls'), Type.Literal('implicit'), Type.Literal('none')])),
  tls_verify: Type.Optional(Type.Boolean({ description: 'verify the server certificate (default true)' })),
  from_address: Email,
  from_name: Type.String({ maxLength: 100, default: 'Pulse Alerts' }),
});
const Recipients = Type.Object({
  to: Type.Array(Email, { minItems: 1, maxItems: 10 }),
  cc: Type.Array(Email, { maxItems: 10, default: [] }),
  bcc: Type.Array(Email, { maxItems: 10, default: [] }),
});
const Template = Type.Object({
  subject_template: Type.String({ maxLength: 200, default: DEFAULT_SUBJECT }),
  body_template: Type.Optional(Type.Union([Type.String({ maxLength: 10000 }), Type.Null()])),
  format: Type.Union([Type.Literal('html'), Type.Literal('text')], { default: 'html' }),
});
const emailFields = {
  name: Name(100),
  smtp_config: SmtpConfig,
  recipients: Recipients,
  template: Type.Optional(Template),
  enabled: Type.Boolean({ default: true }),
};
export const EmailCreate = Type.Object(emailFields);
export const EmailPatch = withoutDefaults(
  Type.Partial(
    Type.Object({
      ...emailFields,
      smtp_config: Type.Partial(SmtpConfig),
      recipients: Type.Partial(Recipients),
      template: Type.Partial(Template),
    }),
  ),
);

const MqttConfig = Type.Object({
  broker_url: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  username: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
  password: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
});
const mqttFields = {
  name: Name(100),
  mqtt_topic: Type.String({ minLength: 1, maxLength: 512 }),
  mqtt_qos: Type.Integer({ minimum: 0, maximum: 2, default: 1 }),
  mqtt_retain: Type.Boolean({ default: false }),
  enabled: Type.Boolean({ default: true }),
  mqtt_config: Type.Optional(MqttConfig),
};
export const MqttCreate = Type.Object(mqttFields);
export const MqttPatch = withoutDefaults(Type.Partial(Type.Object(mqttFields)));

/** A create body of `fields` and its PATCH (every field optional, no defaults). */
const bodies = <F extends TProperties>(fields: F) => ({
  create: Type.Object(fields),
  patch: withoutDefaults(Type.Partial(Type.Object(fields))),
});
/** A credential: stored sealed, never answered. */
const sealed = (maxLength: number, what: string) =>
  Type.String({ minLength: 1, maxLength, description: `${what}; stored sealed` });

/** Slack and Teams: a webhook URL, which is the credential (shown masked). */
export const SlackBodies = bodies({
  name: Name(100),
  webhook_url: sealed(2048, "the Slack app's incoming webhook URL (https://hooks.slack.com/services/…)"),
  enabled: Type.Boolean({ default: true }),
});
export const TeamsBodies = bodies({
  name: Name(100),
  webhook_url: sealed(
    2048,
    'the URL of a Teams workflow "Post to a channel when a webhook request is received" (Workflows app)',
  ),
  enabled: Type.Boolean({ default: true }),
});
export const PagerDutyBodies = bodies({
  name: Name(100),
  routing_key: sealed(64, 'the Integration Key of an Events API v2 integration on a PagerDuty service'),
  enabled: Type.Boolean({ default: true }),
});
export const OpsgenieBodies = bodies({
  name: Name(100),
  api_key: sealed(128, 'the API key of an Opsgenie API integration'),
  region: Type.Union([Type.Literal('us'), Type.Literal('eu')], {
    default: 'us',
    description:
      'the Opsgenie instance: us (api.opsgenie.com) or eu (api.eu.opsgenie.com); a change needs the key again',
  }),
  enabled: Type.Boolean({ default: true }),
});

export const RouteParams = Type.Object({ route_id: Type.String() });
const StringList = Type.Union([Type.Array(Type.String(), { maxItems: 100 }), Type.Null()]);
const routeFields = {
  integration_id: Type.String(),
  name: Type.String({ minLength: 1, maxLength: 100 }),
  alert_types: Type.Optional(StringList),
  severities: Type.Optional(StringList),
  min_severity: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 5 }), Type.Null()])),
  site_ids: Type.Optional(StringList),
  device_prefixes: Type.Optional(StringList),
  // Devices by tags, attributes… (no status), besides the lists above.
  selector: Type.Optional(Nullable(DeviceSelectorSchema)),
  deliver_on: Type.Optional(
    Type.Array(Type.String(), {
      minItems: 1,
      maxItems: 3,
      description: 'which events: OPEN, ACKNOWLEDGED, CLOSED (default OPEN)',
    }),
  ),
  priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })),
  enabled: Type.Boolean({ default: true }),
  renotify_minutes: Type.Optional(
    Type.Union([Type.Integer({ minimum: 1, maximum: 10080 }), Type.Null()], {
      description: 'repeat an OPEN, unacknowledged alert every this many minutes (null: never)',
    }),
  ),
  deliver_superseded: Type.Optional(
    Type.Boolean({
      description:
        'send an OPEN (or repeat, escalation) still pending when its alert was acknowledged or closed (default: set it aside as SUPERSEDED)',
    }),
  ),
  escalations: Type.Optional(
    Type.Array(
      Type.Object({
        after_minutes: Type.Integer({ minimum: 1, maximum: 10080 }),
        integration_id: Type.String(),
      }),
      {
        maxItems: 5,
        description: 'after after_minutes OPEN and unacknowledged, also notify that integration (once per step)',
      },
    ),
  ),
};
export const RouteCreate = Type.Object({ ...routeFields, name: Type.Optional(routeFields.name) });
export const RoutePatch = withoutDefaults(Type.Partial(Type.Object(routeFields)));
export const RoutesQuery = Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) });

/** A copy of a body schema without defaults: a PATCH changes only what it names. */
function withoutDefaults<T extends TSchema>(schema: T): T {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (!node || typeof node !== 'object') return node;
    const copy: Record<string | symbol, unknown> = {};
    for (const key of Reflect.ownKeys(node)) {
      if (key !== 'default') copy[key] = strip((node as Record<string | symbol, unknown>)[key]);
    }
    return copy;
  };
  return strip(schema) as T;
}
