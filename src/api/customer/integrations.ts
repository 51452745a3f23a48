// /customer/integrations[/snmp|/email|/mqtt|/slack|/teams|/pagerduty|/opsgenie] and /customer/integration-routes
// (docs/wire-contract.md#customer-api): CRUD with the original's fields, messages and status codes,
// destinations checked against the SSRF rules, secrets sealed and never returned, and a test delivery per
// integration (5 per minute).
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Bus } from '../../bus/index.js';
import type { SendContext } from '../../channels/index.js';
import { DEFAULT_SUBJECT } from '../../channels/email.js';
import type { TenantTx } from '../../db/database.js';
import type { Config } from '../../config.js';
import { AppError, requireChanges } from '../../errors.js';
import type { App } from '../../http/server.js';
import { NoContent, Obj } from '../../lib/schema.js';
import type { SecretBox } from '../../lib/secrets.js';
import { isUuid } from '../../lib/uuid.js';
import type { DestinationRules } from '../../model/integration-input.js';
import {
  buildChat,
  buildEmail,
  buildMqtt,
  buildOpsgenie,
  buildPagerDuty,
  buildSnmp,
  buildWebhook,
  listItem,
  publicView,
  viewerView,
  type Built,
} from '../../model/integration-settings.js';
import * as repo from '../../model/integrations.js';
import * as routes from '../../model/routes.js';
import { healthOfIntegrations, UNKNOWN_HEALTH } from '../../model/integration-health.js';
import {
  CreatedWebhook,
  Integration,
  IntegrationHealthView,
  IntegrationListItem,
  IntegrationRoute,
  TestDelivery,
} from '../../model/views.js';
import { customerAdminOnly, principalOf, tenantOf, type InTenant } from '../guard.js';
import { requireBelowCap } from '../limits.js';
import {
  changeIntegration,
  checkRouteId,
  findIntegration,
  genericChangeColumns,
  notFound,
  requireIntegrations,
  routeColumns,
  testDelivery,
  typedChangeColumns,
  type InTx,
  type IntegrationContext,
} from './integration-changes.js';
import {
  EmailCreate,
  EmailPatch,
  IdParams,
  MqttCreate,
  MqttPatch,
  OpsgenieBodies,
  PagerDutyBodies,
  RouteCreate,
  RouteParams,
  RoutePatch,
  RoutesQuery,
  SlackBodies,
  SnmpCreate,
  SnmpPatch,
  TeamsBodies,
  WebhookCreate,
  WebhookPatch,
} from './integration-schemas.js';

/** What a caller may see of an integration: administrators all but secrets, viewers no webhook path. */
const shownTo = <V extends object>(request: FastifyRequest, view: V): V =>
  principalOf(request).role === 'customer_admin' ? view : viewerView(view);

const tags = ['customer/integrations'];

export interface IntegrationRouteDeps {
  inTenant: InTenant;
  /** Where a deleted integration's closed INTEGRATION_FAILING alert is announced. */
  bus: Bus;
  config: Config;
  secrets: SecretBox;
  sendContext: SendContext;
}

export function registerIntegrationRoutes(app: App, deps: IntegrationRouteDeps): void {
  const { inTenant, secrets } = deps;
  const rules: DestinationRules = { allowlist: deps.sendContext.allowlist, requireHttps: deps.config.MODE === 'PROD' };
  const context: IntegrationContext = { secrets, rules, sendContext: deps.sendContext };
  const insertIntegration = async (tx: TenantTx, columns: Built['columns']) => {
    await requireBelowCap(tx, deps.config, 'integrations');
    return repo.insertIntegration(tx, columns);
  };
  /** Deletes an integration; its failing alert closes with it, announced once committed. */
  const remove = async (request: FastifyRequest, integrationId: string, type?: repo.IntegrationType) => {
    const closed = isUuid(integrationId)
      ? await inTenant(request, (tx) => repo.deleteIntegration(tx, integrationId, type))
      : undefined;
    if (!closed) throw notFound();
    for (const event of closed) deps.bus.publish('alert.changed', event);
  };
  const inTx =
    (request: FastifyRequest): InTx =>
    (fn) =>
      inTenant(request, fn);

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
        const row = await inTenant(request, (tx) => insertIntegration(tx, built.columns));
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
          shownTo(request, publicView(await findIntegration(tx, request.params.integration_id, type))),
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
      (request) => {
        const changes = (request.body ?? {}) as Record<string, unknown>;
        requireChanges(changes);
        const tenantId = tenantOf(request);
        return changeIntegration(inTx(request), request.params.integration_id, type, (row) =>
          typedChangeColumns(row, changes, (settings: Static<C>) => build(settings, tenantId), secrets),
        );
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
        await remove(request, request.params.integration_id, type);
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
      (request) => testDelivery(inTx(request), request.params.integration_id, type, context),
    );
  }

  typed('snmp', { create: SnmpCreate, patch: SnmpPatch }, (settings) => buildSnmp(settings, rules, secrets));
  typed('email', { create: EmailCreate, patch: EmailPatch }, (settings) =>
    buildEmail(
      {
        ...settings,
        template: {
          subject_template: DEFAULT_SUBJECT,
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
  typed('slack', SlackBodies, (settings) => buildChat('slack', settings, rules, secrets));
  typed('teams', TeamsBodies, (settings) => buildChat('teams', settings, rules, secrets));
  typed('pagerduty', PagerDutyBodies, async (settings) => buildPagerDuty(settings, secrets));
  typed('opsgenie', OpsgenieBodies, async (settings) => buildOpsgenie(settings, secrets));

  // Generic endpoints: every type in the list; create/patch are for webhooks (as the original's).
  app.get(
    '/customer/integrations',
    {
      schema: {
        tags,
        summary: "The tenant's integrations of every type",
        response: {
          200: Obj({
            tenant_id: Type.String(),
            integrations: Type.Array(Obj({ ...IntegrationListItem.properties, health: IntegrationHealthView })),
          }),
        },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const health = await healthOfIntegrations(tx);
        return {
          tenant_id: tx.tenantId,
          integrations: (await repo.listIntegrations(tx)).map((row) => ({
            ...shownTo(request, listItem(row)),
            health: health.get(row.integration_id) ?? UNKNOWN_HEALTH,
          })),
        };
      }),
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
      const row = await inTenant(request, (tx) => insertIntegration(tx, built.columns));
      const view = publicView(row);
      if (view.type !== 'webhook' || !built.signingSecret) throw new Error('a webhook was saved without its secret');
      return { ...view, signing_secret: built.signingSecret };
    },
  );
  app.get(
    '/customer/integrations/:integration_id',
    { schema: { tags, summary: 'One integration', params: IdParams, response: { 200: Integration } } },
    (request) =>
      inTenant(request, async (tx) =>
        shownTo(request, publicView(await findIntegration(tx, request.params.integration_id))),
      ),
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
    (request) => {
      const changes = request.body ?? {};
      requireChanges(changes);
      return changeIntegration(inTx(request), request.params.integration_id, undefined, (row) =>
        genericChangeColumns(row, changes, context),
      );
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
      await remove(request, request.params.integration_id);
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
    (request) => testDelivery(inTx(request), request.params.integration_id, undefined, context),
  );

  // Routes -------------------------------------------------------------------------------------------
  const routeTags = ['customer/integration-routes'];
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
        await requireIntegrations(tx, columns);
        await requireBelowCap(tx, deps.config, 'routes');
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
        await requireIntegrations(tx, columns);
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
