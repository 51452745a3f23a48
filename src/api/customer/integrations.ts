// /customer/integrations[/snmp|/email|/mqtt] and /customer/integration-routes (reference §3.4): CRUD with
// the reference's fields, messages and status codes, destinations checked against the SSRF rules, secrets
// sealed and never returned, and a test delivery per integration (5 per minute).
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../http/server.js';
import type { Config } from '../../config.js';
import type { TenantTx } from '../../db/database.js';
import { send, type SendContext } from '../../channels/index.js';
import type { DestinationRules } from '../../model/integration-input.js';
import {
  buildEmail,
  buildMqtt,
  buildSnmp,
  buildWebhook,
  currentSettings,
  explainDropped,
  updateBase,
  listItem,
  publicView,
  viewerView,
  type Built,
} from '../../model/integration-settings.js';
import { testPayload } from '../../channels/payload.js';
import * as repo from '../../model/integrations.js';
import * as routes from '../../model/routes.js';
import { ALERT_TYPES, SEVERITY_NAMES } from '../../model/routes.js';
import type { SecretBox } from '../../lib/secrets.js';
import { AppError } from '../../errors.js';
import { customerAdminOnly, principalOf, tenantOf, type InTenant } from '../guard.js';
import { isUuid } from '../../lib/uuid.js';
import { NoContent, Obj } from '../../lib/schema.js';
import { CreatedWebhook, Integration, IntegrationListItem, IntegrationRoute, TestDelivery } from '../../model/views.js';

/** What a caller may see of an integration: administrators all but secrets, viewers no webhook path. */
const shownTo = <V extends object>(request: FastifyRequest, view: V): V =>
  principalOf(request).role === 'customer_admin' ? view : viewerView(view);

const tags = ['customer/integrations'];
const TEST_DELIVERIES_PER_MINUTE = 5;

const IdParams = Type.Object({ integration_id: Type.String() });
const Name = (max: number) => Type.String({ minLength: 1, maxLength: max });
const Headers = Type.Record(Type.String(), Type.String({ maxLength: 4096 }), {
  description: 'sent with every POST; values are stored sealed and shown redacted unless named in public_headers',
});
const PublicHeaders = Type.Array(Type.String({ maxLength: 200 }), {
  maxItems: 50,
  description: 'header names whose values are not secret: stored in clear and shown',
});

const WebhookCreate = Type.Object({
  name: Name(100),
  webhook_url: Type.String({ minLength: 1 }),
  enabled: Type.Boolean({ default: true }),
  headers: Type.Optional(Headers),
  public_headers: Type.Optional(PublicHeaders),
});
const WebhookPatch = withoutDefaults(Type.Partial(WebhookCreate));

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
const SnmpCreate = Type.Object(snmpFields);
const SnmpPatch = withoutDefaults(Type.Partial(Type.Object(snmpFields)));

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
  subject_template: Type.String({ maxLength: 200, default: '[{severity_label}] {alert_type}: {device_id}' }),
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
const EmailCreate = Type.Object(emailFields);
const EmailPatch = withoutDefaults(
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
const MqttCreate = Type.Object(mqttFields);
const MqttPatch = withoutDefaults(Type.Partial(Type.Object(mqttFields)));

const RouteParams = Type.Object({ route_id: Type.String() });
const StringList = Type.Union([Type.Array(Type.String(), { maxItems: 100 }), Type.Null()]);
const routeFields = {
  integration_id: Type.String(),
  name: Type.String({ minLength: 1, maxLength: 100 }),
  alert_types: Type.Optional(StringList),
  severities: Type.Optional(StringList),
  min_severity: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 5 }), Type.Null()])),
  site_ids: Type.Optional(StringList),
  device_prefixes: Type.Optional(StringList),
  deliver_on: Type.Optional(Type.Array(Type.String(), { minItems: 1, maxItems: 2 })),
  priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })),
  enabled: Type.Boolean({ default: true }),
};
const RouteCreate = Type.Object({ ...routeFields, name: Type.Optional(routeFields.name) });
const RoutePatch = withoutDefaults(Type.Partial(Type.Object(routeFields)));
const RoutesQuery = Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) });

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

const notFound = () => new AppError('NOT_FOUND', 'Integration not found');

/** The outcome of updateIntegration as a row, or the error that says what happened instead. */
async function saved(outcome: repo.IntegrationRow | 'changed' | undefined): Promise<repo.IntegrationRow> {
  if (outcome === 'changed')
    throw new AppError('CONFLICT', 'The integration was changed by another request meanwhile; read it again and retry');
  if (!outcome) throw notFound();
  return outcome;
}

/** Upper-cased, trimmed, de-duplicated; each must be allowed. */
function checkList(
  field: string,
  values: string[] | null | undefined,
  allowed: readonly string[],
): string[] | null | undefined {
  if (values === undefined || values === null) return values;
  const cleaned = [...new Set(values.map((v) => v.trim().toUpperCase()).filter(Boolean))];
  if (cleaned.length === 0) throw new AppError('INVALID_REQUEST', `${field} must not be empty`);
  const bad = cleaned.find((v) => !allowed.includes(v));
  if (bad) throw new AppError('INVALID_REQUEST', `Invalid ${field} value: ${bad}`);
  return cleaned;
}

export interface IntegrationRouteDeps {
  inTenant: InTenant;
  config: Config;
  secrets: SecretBox;
  sendContext: SendContext;
}

export function registerIntegrationRoutes(app: App, deps: IntegrationRouteDeps): void {
  const { inTenant, secrets } = deps;
  const rules: DestinationRules = { allowlist: deps.sendContext.allowlist, requireHttps: deps.config.MODE === 'PROD' };
  const findOr404 = async (tx: TenantTx, id: string, type?: repo.IntegrationType) => {
    const row = isUuid(id) ? await repo.findIntegration(tx, id, type) : undefined;
    if (!row) throw notFound();
    return row;
  };

  async function testDelivery(
    request: FastifyRequest<{ Params: { integration_id: string } }>,
    type?: repo.IntegrationType,
  ) {
    const { integration_id } = request.params;
    const row = await inTenant(request, async (tx) => {
      const found = await findOr404(tx, integration_id, type);
      if (!(await repo.takeTestDelivery(tx, integration_id, TEST_DELIVERIES_PER_MINUTE))) {
        throw new AppError(
          'RATE_LIMITED',
          `Rate limit exceeded. Maximum ${TEST_DELIVERIES_PER_MINUTE} test deliveries per minute.`,
          {},
          60,
        );
      }
      return found;
    });
    const started = performance.now();
    const result = await send(repo.toTarget(row, secrets), testPayload(row.tenant_id), deps.sendContext);
    const ms = Math.round(performance.now() - started);
    return {
      success: result.ok,
      integration_id,
      integration_name: row.name,
      integration_type: row.type,
      destination: result.destination,
      error: result.error ?? null,
      http_status: result.http_status ?? null,
      duration_ms: ms,
      latency_ms: ms,
    };
  }

  /** CRUD of one integration type under `base`; `build` checks settings and turns them into columns. */
  function typed<C extends TSchema, P extends TSchema>(
    type: Exclude<repo.IntegrationType, 'webhook'>,
    schemas: { create: C; patch: P },
    build: (settings: Static<C>, tenantId: string) => Promise<Built>,
  ) {
    const base = `/customer/integrations/${type}`;
    const typeTags = [`customer/integrations/${type}`];
    app.get(
      base,
      {
        schema: {
          tags: typeTags,
          summary: `The tenant's ${type} integrations`,
          response: { 200: Type.Array(Integration) },
        },
      },
      (request) =>
        inTenant(request, async (tx) =>
          (await repo.listIntegrations(tx, type)).map((row) => shownTo(request, publicView(row))),
        ),
    );
    app.post(
      base,
      {
        preHandler: customerAdminOnly,
        schema: {
          tags: typeTags,
          summary: `Create a ${type} integration`,
          body: schemas.create,
          response: { 201: Integration },
        },
      },
      async (request, reply) => {
        const tenantId = tenantOf(request);
        const built = await build(request.body, tenantId);
        const row = await inTenant(request, (tx) => repo.insertIntegration(tx, built.columns));
        return reply.status(201).send(publicView(row));
      },
    );
    app.get(
      `${base}/:integration_id`,
      {
        schema: {
          tags: typeTags,
          summary: `One ${type} integration`,
          params: IdParams,
          response: { 200: Integration },
        },
      },
      (request) =>
        inTenant(request, async (tx) =>
          shownTo(request, publicView(await findOr404(tx, request.params.integration_id, type))),
        ),
    );
    app.patch(
      `${base}/:integration_id`,
      {
        preHandler: customerAdminOnly,
        schema: {
          tags: typeTags,
          summary: `Change a ${type} integration`,
          params: IdParams,
          body: schemas.patch,
          response: { 200: Integration },
        },
      },
      async (request) => {
        const changes = (request.body ?? {}) as Record<string, unknown>;
        if (Object.values(changes).every((v) => v === undefined))
          throw new AppError('INVALID_REQUEST', 'No fields to update');
        const tenantId = tenantOf(request);
        const row = await inTenant(request, (tx) => findOr404(tx, request.params.integration_id, type));
        const { base, dropped } = updateBase(currentSettings(row, secrets), changes);
        const merged = mergeSettings(base as unknown as Record<string, unknown>, changes) as Static<C>;
        const built = await build(merged, tenantId).catch((error: unknown) => {
          throw explainDropped(error, dropped);
        });
        return publicView(await saved(await inTenant(request, (tx) => repo.updateIntegration(tx, row, built.columns))));
      },
    );
    app.delete(
      `${base}/:integration_id`,
      {
        preHandler: customerAdminOnly,
        schema: {
          tags: typeTags,
          summary: `Delete a ${type} integration`,
          params: IdParams,
          response: { 204: NoContent },
        },
      },
      async (request, reply) => {
        const deleted =
          isUuid(request.params.integration_id) &&
          (await inTenant(request, (tx) => repo.deleteIntegration(tx, request.params.integration_id, type)));
        if (!deleted) throw notFound();
        return reply.status(204).send(null);
      },
    );
    app.post(
      `${base}/:integration_id/test`,
      {
        preHandler: customerAdminOnly,
        schema: {
          tags: typeTags,
          summary: `Send a test ${type} notification`,
          params: IdParams,
          response: { 200: TestDelivery },
        },
      },
      (request) => testDelivery(request, type),
    );
  }

  typed('snmp', { create: SnmpCreate, patch: SnmpPatch }, (settings) => buildSnmp(settings, rules, secrets));
  typed('email', { create: EmailCreate, patch: EmailPatch }, (settings) =>
    buildEmail(
      {
        ...settings,
        template: {
          subject_template: '[{severity_label}] {alert_type}: {device_id}',
          format: 'html',
          ...settings.template,
        },
      },
      rules,
      secrets,
    ),
  );
  typed('mqtt', { create: MqttCreate, patch: MqttPatch }, (settings, tenantId) =>
    buildMqtt(settings, tenantId, rules, secrets),
  );

  // Generic endpoints: every type in the list; create/patch are for webhooks (reference).
  app.get(
    '/customer/integrations',
    {
      schema: {
        tags,
        summary: "The tenant's integrations of every type",
        response: { 200: Obj({ tenant_id: Type.String(), integrations: Type.Array(IntegrationListItem) }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => ({
        tenant_id: tx.tenantId,
        integrations: (await repo.listIntegrations(tx)).map((row) => shownTo(request, listItem(row))),
      })),
  );
  app.post(
    '/customer/integrations',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Create a webhook integration (the signing secret is shown once)',
        body: WebhookCreate,
        response: { 200: CreatedWebhook },
      },
    },
    async (request) => {
      const built = await buildWebhook({ ...request.body, headers: request.body.headers ?? {} }, rules, secrets);
      const row = await inTenant(request, (tx) => repo.insertIntegration(tx, built.columns));
      const view = publicView(row);
      if (view.type !== 'webhook' || !built.signingSecret) throw new Error('a webhook was saved without its secret');
      return { ...view, signing_secret: built.signingSecret };
    },
  );
  app.get(
    '/customer/integrations/:integration_id',
    { schema: { tags, summary: 'One integration', params: IdParams, response: { 200: Integration } } },
    (request) =>
      inTenant(request, async (tx) => shownTo(request, publicView(await findOr404(tx, request.params.integration_id)))),
  );
  app.patch(
    '/customer/integrations/:integration_id',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Change a webhook (other types: name and enabled)',
        params: IdParams,
        body: WebhookPatch,
        response: { 200: Integration },
      },
    },
    async (request) => {
      const changes = request.body ?? {};
      if (Object.values(changes).every((v) => v === undefined))
        throw new AppError('INVALID_REQUEST', 'No fields to update');
      const row = await inTenant(request, (tx) => findOr404(tx, request.params.integration_id));
      let columns: repo.IntegrationColumns;
      if (row.type === 'webhook') {
        const current = updateBase(currentSettings(row, secrets), changes).base as Parameters<typeof buildWebhook>[0];
        const signing = secrets.open(row.secrets).signing_secret as string | undefined;
        columns = (
          await buildWebhook(
            { ...current, ...changes, headers: changes.headers ?? current.headers },
            rules,
            secrets,
            signing,
          )
        ).columns;
      } else {
        if (changes.webhook_url !== undefined || changes.headers !== undefined) {
          throw new AppError(
            'INVALID_REQUEST',
            `This is a ${row.type} integration; change it under /customer/integrations/${row.type}`,
          );
        }
        columns = {
          ...(changes.name !== undefined && { name: changes.name.trim() }),
          ...(changes.enabled !== undefined && { enabled: changes.enabled }),
        };
      }
      return publicView(await saved(await inTenant(request, (tx) => repo.updateIntegration(tx, row, columns))));
    },
  );
  app.delete(
    '/customer/integrations/:integration_id',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Delete an integration of any type (and its routes)',
        params: IdParams,
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      const deleted =
        isUuid(request.params.integration_id) &&
        (await inTenant(request, (tx) => repo.deleteIntegration(tx, request.params.integration_id)));
      if (!deleted) throw notFound();
      return reply.status(204).send(null);
    },
  );
  app.post(
    '/customer/integrations/:integration_id/test',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Send a test notification through any integration',
        params: IdParams,
        response: { 200: TestDelivery },
      },
    },
    (request) => testDelivery(request),
  );

  // Routes -------------------------------------------------------------------------------------------
  const routeTags = ['customer/integration-routes'];
  const checkRouteId = (id: string) => {
    if (!isUuid(id)) throw new AppError('INVALID_REQUEST', 'Invalid route_id format: must be a valid UUID');
  };
  const routeColumns = (body: Partial<Static<typeof RouteCreate>>): routes.RouteColumns => ({
    ...(body.integration_id !== undefined && { integration_id: body.integration_id }),
    ...(body.name !== undefined && { name: body.name.trim() }),
    ...(body.enabled !== undefined && { enabled: body.enabled }),
    ...(body.min_severity !== undefined && { min_severity: body.min_severity }),
    ...(body.alert_types !== undefined && { alert_types: checkList('alert_types', body.alert_types, ALERT_TYPES) }),
    ...(body.severities !== undefined && {
      severities: checkList('severities', body.severities, Object.keys(SEVERITY_NAMES)),
    }),
    ...(body.site_ids !== undefined && { site_ids: body.site_ids?.map((s) => s.trim()).filter(Boolean) ?? null }),
    ...(body.device_prefixes !== undefined && { device_prefixes: body.device_prefixes?.filter(Boolean) ?? null }),
    ...(body.deliver_on !== undefined && { deliver_on: checkList('deliver_on', body.deliver_on, ['OPEN', 'CLOSED'])! }),
    ...(body.priority !== undefined && { priority: body.priority }),
  });
  const requireIntegration = async (tx: TenantTx, integrationId: string) => {
    if (!isUuid(integrationId) || !(await repo.findIntegration(tx, integrationId))) {
      throw new AppError('INVALID_REQUEST', 'Integration not found or belongs to different tenant');
    }
  };

  app.get(
    '/customer/integration-routes',
    {
      schema: {
        tags: routeTags,
        summary: "The tenant's routes: which alerts go to which integration",
        querystring: RoutesQuery,
        response: { 200: Obj({ tenant_id: Type.String(), routes: Type.Array(IntegrationRoute) }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => ({
        tenant_id: tx.tenantId,
        routes: await routes.listRoutes(tx, { tenantId: tx.tenantId }, request.query.limit),
      })),
  );
  app.get(
    '/customer/integration-routes/:route_id',
    { schema: { tags: routeTags, summary: 'One route', params: RouteParams, response: { 200: IntegrationRoute } } },
    (request) => {
      checkRouteId(request.params.route_id);
      return inTenant(request, async (tx) => {
        const route = await routes.findRoute(tx, request.params.route_id);
        if (!route) throw new AppError('NOT_FOUND', 'Integration route not found');
        return route;
      });
    },
  );
  app.post(
    '/customer/integration-routes',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags: routeTags,
        summary: 'Route alerts to an integration',
        body: RouteCreate,
        response: { 200: IntegrationRoute },
      },
    },
    (request) => {
      const columns = routeColumns(request.body);
      return inTenant(request, async (tx) => {
        await requireIntegration(tx, request.body.integration_id);
        const routeId = await routes.insertRoute(tx, { name: 'route', deliver_on: ['OPEN'], ...columns });
        return routes.findRoute(tx, routeId);
      });
    },
  );
  app.patch(
    '/customer/integration-routes/:route_id',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags: routeTags,
        summary: 'Change a route',
        params: RouteParams,
        body: RoutePatch,
        response: { 200: IntegrationRoute },
      },
    },
    (request) => {
      checkRouteId(request.params.route_id);
      const columns = routeColumns(request.body ?? {});
      if (Object.keys(columns).length === 0) throw new AppError('INVALID_REQUEST', 'No fields to update');
      return inTenant(request, async (tx) => {
        if (columns.integration_id) await requireIntegration(tx, columns.integration_id);
        if (!(await routes.updateRoute(tx, request.params.route_id, columns)))
          throw new AppError('NOT_FOUND', 'Integration route not found');
        return routes.findRoute(tx, request.params.route_id);
      });
    },
  );
  app.delete(
    '/customer/integration-routes/:route_id',
    {
      preHandler: customerAdminOnly,
      schema: { tags: routeTags, summary: 'Delete a route', params: RouteParams, response: { 204: NoContent } },
    },
    async (request, reply) => {
      checkRouteId(request.params.route_id);
      if (!(await inTenant(request, (tx) => routes.deleteRoute(tx, request.params.route_id)))) {
        throw new AppError('NOT_FOUND', 'Integration route not found');
      }
      return reply.status(204).send(null);
    },
  );
}

/** `changes` over `current`, one level deep for nested settings objects. */
function mergeSettings(current: Record<string, unknown>, changes: Record<string, unknown>): Record<string, unknown> {
  const merged = { ...current };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    const before = current[key];
    merged[key] =
      value && typeof value === 'object' && !Array.isArray(value) && before && typeof before === 'object'
        ? { ...(before as object), ...(value as object) }
        : value;
  }
  return merged;
}
