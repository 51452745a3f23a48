// Dashboards customers build (issue 32): every customer role views a tenant's dashboards and reads their
// data; a customer_admin creates (imports), changes, duplicates and deletes them, and gives out read-only
// share links with an expiry, which it can revoke. A tenant without dashboards is shown the built-in one
// (id `default`). Bodies are documents of the versioned schema (model/dashboard-schema.ts), checked by
// checkDashboard, whose 422 names the wrong path; the schema's own check is only attached, not answered.
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { TenantTx } from '../../db/database.js';
import { AppError } from '../../errors.js';
import type { App } from '../../http/server.js';
import { sha256Hex } from '../../lib/credentials.js';
import { NoContent, Nullable, Obj, Timestamp } from '../../lib/schema.js';
import { checkDashboard, DashboardDocument, TimeRange } from '../../model/dashboard-schema.js';
import * as dashboards from '../../model/dashboards.js';
import type { Retention } from '../../model/resolution.js';
import { displayName } from '../auth.js';
import { customerAdminOnly, principalOf, type InTenant } from '../guard.js';
import { noteAudit } from '../audit-note.js';
import { DashboardData, dashboardData, DashboardVariables, type TenantReads } from './dashboard-data.js';

const tags = ['customer/dashboards'];
/** Dashboards one tenant may keep. */
const MAX_DASHBOARDS = 200;
const MAX_SHARE_HOURS = 366 * 24;

const DashboardParams = Type.Object({
  dashboard_id: Type.String({ minLength: 1, maxLength: 40, description: 'a dashboard id, or default' }),
});
const Summary = Obj({
  dashboard_id: Type.String(),
  name: Type.String(),
  created_by: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export const Choices = Obj(
  { sites: Type.Array(Type.String()), tags: Type.Array(Type.String()), devices: Type.Array(Type.String()) },
  {
    description:
      "what the dashboard's variables offer: the tenant's sites, tags and (the first 1,000) devices; empty for a variable the dashboard lacks",
  },
);
const DashboardView = Obj({
  dashboard_id: Type.String(),
  built_in: Type.Boolean({ description: 'the built-in dashboard: save a copy to change it' }),
  definition: DashboardDocument,
  choices: Choices,
  updated_at: Nullable(Timestamp),
});
export const DataRequest = Type.Object(
  {
    time: Type.Optional(TimeRange),
    variables: Type.Optional(DashboardVariables),
    widgets: Type.Optional(
      Type.Array(Type.Unknown(), {
        description: 'widgets being edited, read instead of the stored ones (checked as in a document)',
      }),
    ),
    declared_variables: Type.Optional(
      Type.Array(Type.String(), {
        description: 'with widgets: the variables the dashboard being edited declares (checked as in a document)',
      }),
    ),
  },
  { additionalProperties: false },
);
const ShareView = Obj({
  share_id: Type.String(),
  dashboard_id: Type.String(),
  expires_at: Timestamp,
  revoked_at: Nullable(Timestamp),
  created_by: Nullable(Type.String()),
  created_at: Timestamp,
});
const ShareParams = Type.Object({ ...DashboardParams.properties, share_id: Type.String() });

/** The document a create or change sent, checked; the route schema's own verdict is only attached. */
const documentOf = (request: FastifyRequest) => checkDashboard(request.body);

/** A request's dashboard: stored, or the built-in one. */
export async function dashboardOr404(tx: TenantTx, dashboardId: string) {
  if (dashboardId === dashboards.DEFAULT_DASHBOARD_ID)
    return { dashboard_id: dashboardId, built_in: true, definition: dashboards.DEFAULT_DASHBOARD, updated_at: null };
  const row = await dashboards.findDashboard(tx, dashboardId);
  if (!row) throw new AppError('NOT_FOUND', 'Dashboard not found');
  return { dashboard_id: row.dashboard_id, built_in: false, definition: row.definition, updated_at: row.updated_at };
}

async function storedOr404(tx: TenantTx, dashboardId: string) {
  const row = await dashboards.findDashboard(tx, dashboardId);
  if (!row) throw new AppError('NOT_FOUND', 'Dashboard not found');
  return row;
}

/** A dashboard with what its variables offer: what a page opening it needs in one answer. */
export async function dashboardView(tx: TenantTx, dashboardId: string) {
  const dashboard = await dashboardOr404(tx, dashboardId);
  const declared = new Set(dashboard.definition.variables);
  const all = await dashboards.variableChoices(tx);
  // Only what the dashboard's variables offer: a shared dashboard shows no more of its tenant.
  const choices = {
    sites: declared.has('site') ? all.sites : [],
    tags: declared.has('tag') ? all.tags : [],
    devices: declared.has('device') ? all.devices : [],
  };
  return { ...dashboard, choices };
}

/** The data of a dashboard's widgets, or of the widgets being edited when the request sends them. */
export async function dataOf(
  inTenant: TenantReads,
  definition: DashboardDocument,
  body: {
    time?: { from: string; to: string } | undefined;
    variables?: DashboardVariables | undefined;
    widgets?: unknown[] | undefined;
    declared_variables?: string[] | undefined;
  },
  retention: Retention,
) {
  const dashboard =
    body.widgets === undefined
      ? definition
      : checkDashboard({
          ...definition,
          widgets: body.widgets,
          ...(body.declared_variables && { variables: body.declared_variables }),
        });
  return dashboardData(inTenant, dashboard, body, retention);
}

async function requireRoom(tx: TenantTx): Promise<void> {
  const held = await dashboards.countDashboards(tx);
  if (held >= MAX_DASHBOARDS)
    throw new AppError(
      'LIMIT_REACHED',
      `Limit reached: ${held} dashboards, at most ${MAX_DASHBOARDS}; delete one first`,
    );
}

export function registerDashboardRoutes(
  app: App,
  /** `sharesChanged`: after a dashboard's link is revoked or the dashboard deleted: its live streams check. */
  deps: { inTenant: InTenant; retention: Retention; sharesChanged: (dashboardId: string) => void },
): void {
  const { inTenant, retention } = deps;
  const created = async (request: FastifyRequest, definition: DashboardDocument) => {
    const row = await inTenant(request, async (tx) => {
      await requireRoom(tx);
      return dashboards.createDashboard(tx, definition, displayName(principalOf(request)));
    });
    noteAudit(request, { resourceId: row.dashboard_id, summary: `created dashboard ${row.name}` });
    return row;
  };

  app.get(
    '/customer/dashboards',
    {
      schema: {
        tags,
        summary: "The tenant's dashboards, and the built-in one (shown while the tenant has none)",
        response: { 200: Obj({ dashboards: Type.Array(Summary), built_in: DashboardDocument }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => ({
        dashboards: await dashboards.listDashboards(tx),
        built_in: dashboards.DEFAULT_DASHBOARD,
      })),
  );

  app.get(
    '/customer/dashboards/:dashboard_id',
    {
      schema: {
        tags,
        summary: 'A dashboard (default: the built-in one) with what its variables offer',
        params: DashboardParams,
        response: { 200: DashboardView },
      },
    },
    (request) => inTenant(request, (tx) => dashboardView(tx, request.params.dashboard_id)),
  );

  app.get(
    '/customer/dashboards/:dashboard_id/export',
    {
      schema: {
        tags,
        summary: 'A dashboard as a JSON document to import elsewhere (schema version 1)',
        params: DashboardParams,
        response: { 200: DashboardDocument },
      },
    },
    async (request, reply) => {
      const { definition } = await inTenant(request, (tx) => dashboardOr404(tx, request.params.dashboard_id));
      const file = definition.name.replace(/[^A-Za-z0-9_-]+/g, '-').toLowerCase() || 'dashboard';
      return reply.header('content-disposition', `attachment; filename="${file}.json"`).send(definition);
    },
  );

  app.post(
    '/customer/dashboards',
    {
      preHandler: customerAdminOnly,
      attachValidation: true,
      schema: {
        tags,
        summary: 'Create a dashboard, or import an exported one',
        description:
          'The body is a dashboard document (schema version 1, docs/dashboards.md). A wrong one answers 422 naming the path, e.g. `Invalid dashboard at /widgets/2/options/metric: …`.',
        body: DashboardDocument,
        response: { 201: DashboardView },
      },
    },
    async (request, reply) => {
      const row = await created(request, documentOf(request));
      return reply.status(201).send(await inTenant(request, (tx) => dashboardView(tx, row.dashboard_id)));
    },
  );

  app.put(
    '/customer/dashboards/:dashboard_id',
    {
      preHandler: customerAdminOnly,
      attachValidation: true,
      schema: {
        tags,
        summary: 'Replace a dashboard (its name, range, variables, widgets and their places)',
        params: DashboardParams,
        body: DashboardDocument,
        response: { 200: DashboardView },
      },
    },
    (request) => {
      const definition = documentOf(request);
      return inTenant(request, async (tx) => {
        const row = await dashboards.replaceDashboard(tx, request.params.dashboard_id, definition);
        if (!row) throw new AppError('NOT_FOUND', 'Dashboard not found');
        return dashboardView(tx, row.dashboard_id);
      });
    },
  );

  app.post(
    '/customer/dashboards/:dashboard_id/duplicate',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Copy a dashboard (default: save the built-in one as the tenant’s own)',
        params: DashboardParams,
        response: { 201: DashboardView },
      },
    },
    async (request, reply) => {
      const { definition, built_in } = await inTenant(request, (tx) => dashboardOr404(tx, request.params.dashboard_id));
      const name = built_in ? definition.name : `${definition.name} (copy)`.slice(0, 100);
      const row = await created(request, { ...definition, name });
      return reply.status(201).send(await inTenant(request, (tx) => dashboardView(tx, row.dashboard_id)));
    },
  );

  app.delete(
    '/customer/dashboards/:dashboard_id',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Delete a dashboard and its share links',
        params: DashboardParams,
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      const deleted = await inTenant(request, (tx) => dashboards.deleteDashboard(tx, request.params.dashboard_id));
      if (!deleted) throw new AppError('NOT_FOUND', 'Dashboard not found');
      deps.sharesChanged(request.params.dashboard_id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/customer/dashboards/:dashboard_id/data',
    {
      schema: {
        tags,
        summary: "Every widget's data in one answer, for a range and the variables' values",
        description:
          'Series come from raw rows, 1-minute or 1-hour rollups (each widget names its `resolution`); a widget that cannot be read has an `error` instead.',
        params: DashboardParams,
        body: DataRequest,
        response: { 200: DashboardData },
      },
    },
    async (request) => {
      const { definition } = await inTenant(request, (tx) => dashboardOr404(tx, request.params.dashboard_id));
      return dataOf((read) => inTenant(request, read), definition, request.body, retention);
    },
  );

  app.get(
    '/customer/dashboards/:dashboard_id/shares',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: "A dashboard's share links (their tokens are never shown again)",
        params: DashboardParams,
        response: { 200: Obj({ shares: Type.Array(ShareView) }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        await storedOr404(tx, request.params.dashboard_id);
        return { shares: await dashboards.listShares(tx, request.params.dashboard_id) };
      }),
  );

  app.post(
    '/customer/dashboards/:dashboard_id/shares',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'A read-only link to this dashboard alone, valid until it expires or is revoked',
        params: DashboardParams,
        body: Type.Object(
          { expires_in_hours: Type.Integer({ minimum: 1, maximum: MAX_SHARE_HOURS, default: 168 }) },
          { additionalProperties: false },
        ),
        response: {
          201: Obj({
            share: ShareView,
            token: Type.String({ description: 'shown once: the link is /app/shared/<token>' }),
            path: Type.String(),
          }),
        },
      },
    },
    async (request, reply) => {
      const token = `dsh_${randomBytes(24).toString('base64url')}`;
      const share = await inTenant(request, async (tx) => {
        const row = await storedOr404(tx, request.params.dashboard_id);
        return dashboards.createShare(tx, {
          dashboardId: row.dashboard_id,
          tokenHash: sha256Hex(token),
          expiresAt: new Date(Date.now() + request.body.expires_in_hours * 3600_000),
          createdBy: displayName(principalOf(request)),
        });
      });
      noteAudit(request, { resourceId: share.share_id, summary: `shared dashboard ${share.dashboard_id}` });
      return reply.status(201).send({ share, token, path: `/app/shared/${token}` });
    },
  );

  app.delete(
    '/customer/dashboards/:dashboard_id/shares/:share_id',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Revoke a share link now',
        params: ShareParams,
        response: { 200: ShareView },
      },
    },
    async (request) => {
      const { dashboard_id, share_id } = request.params;
      const revoked = await inTenant(request, (tx) => dashboards.revokeShare(tx, dashboard_id, share_id));
      if (!revoked) throw new AppError('NOT_FOUND', 'No share link of this dashboard with that id still valid');
      deps.sharesChanged(dashboard_id);
      return revoked;
    },
  );
}
