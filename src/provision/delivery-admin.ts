// The original's admin delivery endpoints (docs/wire-contract.md#provisioning-api) behind X-Admin-Key:
// webhook integrations and routes for any tenant. Unlike the original, destinations are checked against the
// SSRF rules here too.
import { Type } from '@sinclair/typebox';
import type { App } from '../http/server.js';
import type { Database } from '../db/database.js';
import type { DestinationRules } from '../model/integration-input.js';
import { buildWebhook, listItem } from '../model/integration-settings.js';
import { narrow } from '../db/database.js';
import * as repo from '../model/integrations.js';
import * as routes from '../model/routes.js';
import { ensureTenants } from '../model/tenants.js';
import type { SecretBox } from '../lib/secrets.js';
import { Obj } from '../lib/schema.js';
import { IntegrationListItem, IntegrationRoute } from '../model/views.js';
import { AppError } from '../errors.js';

const CreateIntegration = Type.Object({
  tenant_id: Type.String({ minLength: 1 }),
  name: Type.String({ minLength: 1, maxLength: 100 }),
  url: Type.String({ minLength: 1 }),
  headers: Type.Record(Type.String(), Type.String(), { default: {} }),
  /** Header names whose values are not secret (every other value is stored sealed). */
  public_headers: Type.Optional(Type.Array(Type.String(), { maxItems: 50 })),
  enabled: Type.Boolean({ default: true }),
});
const ListIntegrations = Type.Object({
  tenant_id: Type.Optional(Type.String()),
  enabled: Type.Optional(Type.Boolean()),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
});
const CreateRoute = Type.Object({
  tenant_id: Type.String({ minLength: 1 }),
  integration_id: Type.String({ format: 'uuid' }),
  name: Type.String({ minLength: 1, maxLength: 100 }),
  enabled: Type.Boolean({ default: true }),
  min_severity: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 5 }), Type.Null()])),
  alert_types: Type.Optional(Type.Array(Type.String())),
  severities: Type.Optional(Type.Array(Type.String())),
  site_ids: Type.Optional(Type.Array(Type.String())),
  device_prefixes: Type.Optional(Type.Array(Type.String())),
  deliver_on: Type.Optional(Type.Array(Type.String())),
  priority: Type.Integer({ default: 100 }),
});
const ListRoutes = Type.Object({
  tenant_id: Type.Optional(Type.String()),
  integration_id: Type.Optional(Type.String()),
  enabled: Type.Optional(Type.Boolean()),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
});

const tags = ['admin'];

export function registerDeliveryAdminRoutes(
  admin: App,
  deps: { db: Database; secrets: SecretBox; rules: DestinationRules },
): void {
  const { db } = deps;

  admin.post(
    '/api/admin/integrations',
    {
      schema: {
        tags,
        summary: 'Create a webhook integration for a tenant',
        body: CreateIntegration,
        response: { 200: Obj({ ...IntegrationListItem.properties, signing_secret: Type.String() }) },
      },
    },
    async (request) => {
      const { tenant_id, ...settings } = request.body;
      const built = await buildWebhook({ ...settings, webhook_url: settings.url }, deps.rules, deps.secrets);
      const row = await db.withService(async (tx) => {
        await ensureTenants(tx, [tenant_id]);
        return repo.insertIntegration(narrow(tx, tenant_id), built.columns);
      });
      if (!built.signingSecret) throw new Error('a webhook was built without its secret');
      return { ...listItem(row), signing_secret: built.signingSecret };
    },
  );

  admin.get(
    '/api/admin/integrations',
    {
      schema: {
        tags,
        summary: 'Integrations of every tenant',
        querystring: ListIntegrations,
        response: { 200: Type.Array(IntegrationListItem) },
      },
    },
    async (request) => {
      const { tenant_id, enabled, limit } = request.query;
      const rows = await db.withService((tx) =>
        repo.integrationsOfAnyTenant(tx, { tenantId: tenant_id, enabled }, limit),
      );
      return rows.map(listItem);
    },
  );

  admin.post(
    '/api/admin/integration-routes',
    {
      schema: {
        tags,
        summary: "Route a tenant's alerts to one of its integrations",
        body: CreateRoute,
        response: { 200: IntegrationRoute },
      },
    },
    async (request) => {
      const { tenant_id, deliver_on, ...fields } = request.body;
      const events = [...new Set((deliver_on ?? ['OPEN']).map((event) => event.trim().toUpperCase()))];
      const bad = events.find((event) => !['OPEN', 'CLOSED'].includes(event));
      if (bad) throw new AppError('INVALID_REQUEST', `Invalid deliver_on value: ${bad} (OPEN or CLOSED)`);
      return db.withService(async (tx) => {
        const [integration] = await repo.integrationsOfAnyTenant(
          tx,
          { tenantId: tenant_id, integrationId: fields.integration_id },
          1,
        );
        if (!integration) throw new AppError('INVALID_REQUEST', 'Integration not found or belongs to different tenant');
        const routeId = await routes.insertRoute(narrow(tx, tenant_id), { ...fields, deliver_on: events });
        return (await routes.listRoutes(tx, { tenantId: tenant_id, routeId }, 1))[0];
      });
    },
  );

  admin.get(
    '/api/admin/integration-routes',
    {
      schema: {
        tags,
        summary: 'Routes of every tenant',
        querystring: ListRoutes,
        response: { 200: Type.Array(IntegrationRoute) },
      },
    },
    async (request) => {
      const { tenant_id, integration_id, enabled, limit } = request.query;
      return db.withService((tx) =>
        routes.listRoutes(tx, { tenantId: tenant_id, integrationId: integration_id, enabled }, limit),
      );
    },
  );
}
