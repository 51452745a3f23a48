// /operator (docs/wire-contract.md#operator-api): tenants, every tenant's devices, alerts, quarantine and
// integrations, the audit log and the runtime settings. Operator roles read; tenant writes, the audit log
// and settings writes need operator_admin. Every request is audited (./audit.ts) and runs as pulse_operator.
import { Type } from '@sinclair/typebox';
import type { App } from '../../http/server.js';
import type { Bus } from '../../bus/index.js';
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';
import * as settingsModel from '../../model/settings.js';
import { applySettingRows, defaultIngestSettings } from '../../model/settings.js';
import { alertStatusFilter, Limit, Offset } from '../common-reads.js';
import { Nullable, Obj, Timestamp } from '../../lib/schema.js';
import {
  Alert,
  DeviceWithHistory,
  FirmwareImageView,
  FleetDevice,
  HealthStateView,
  IntegrationHealthView,
  QuarantineView,
  SilenceView,
  Tenant,
  TenantStatus,
} from '../../model/views.js';
import type { Audited } from './audit.js';
import * as useCases from './use-cases.js';
import { settingsJson } from './use-cases.js';
import * as auditModel from '../../model/audit.js';
import * as integrationModel from '../../model/integrations.js';
import * as quarantineModel from '../../model/quarantine.js';
import { listSilences } from '../../model/silences.js';
import { listImages } from '../../model/firmware.js';
import * as tenants from '../../model/tenants.js';
import { narrow } from '../../db/database.js';
import * as deviceModel from '../../model/devices.js';
import * as alertModel from '../../model/alerts.js';

const tags = ['operator'];
const TenantParams = Type.Object({ tenant_id: Type.String({ minLength: 1 }) });

const TenantsQuery = Type.Object({
  status: Type.String({ default: 'ACTIVE', description: 'ACTIVE, SUSPENDED, DELETED or ALL' }),
  limit: Limit(500, 100),
  offset: Offset,
});
const tenantFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  contact_email: Type.Optional(Type.Union([Type.String({ maxLength: 254 }), Type.Null()])),
  contact_name: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
};
const CreateTenantBody = Type.Object({ tenant_id: Type.String({ minLength: 1, maxLength: 64 }), ...tenantFields });
const PatchTenantBody = Type.Partial(Type.Object({ ...tenantFields, status: Type.String() }));
const DevicesQuery = Type.Object({
  tenant_filter: Type.Optional(Type.String()),
  status: Type.Optional(Type.String()),
  q: Type.Optional(Type.String()),
  limit: Limit(500, 100),
  offset: Offset,
});
const AlertsQuery = Type.Object({
  tenant_filter: Type.Optional(Type.String()),
  status: Type.String({ default: 'OPEN', description: 'OPEN, ACKNOWLEDGED, CLOSED or ALL' }),
  limit: Limit(500, 100),
  offset: Offset,
});
const QuarantineQuery = Type.Object({
  minutes: Type.Integer({ minimum: 1, maximum: 1440, default: 60 }),
  tenant_filter: Type.Optional(Type.String()),
  limit: Limit(500, 100),
});
const TenantFilterQuery = Type.Object({ tenant_filter: Type.Optional(Type.String()) });
const AuditQuery = Type.Object({
  user_id: Type.Optional(Type.String({ description: 'user id or username' })),
  action: Type.Optional(Type.String()),
  tenant_filter: Type.Optional(Type.String()),
  since: Type.Optional(Type.String({ description: 'ISO-8601' })),
  changes_only: Type.Optional(
    Type.Boolean({ description: 'leave out requests that only read (list_*, get_*, view_*); denials stay' }),
  ),
  limit: Limit(1000, 100),
});
const Flag = Type.Union([Type.Boolean(), Type.String()]);
const SettingsBody = Type.Object(
  {
    mode: Type.Optional(Type.Union([Type.Literal('DEV'), Type.Literal('PROD')])),
    store_rejects: Type.Optional(Flag),
    mirror_rejects: Type.Optional(Flag),
    max_payload_bytes: Type.Optional(Type.Integer({ minimum: 256, maximum: 1_048_576 })),
    rate_limit_rps: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100_000 })),
    rate_limit_burst: Type.Optional(Type.Number({ minimum: 1, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);

const TenantChanged = Obj({
  tenant_id: Type.String(),
  status: Type.String({ description: 'created, updated, deleted' }),
});
const TenantSummary = Obj({
  tenant_id: Type.String(),
  name: Type.String(),
  status: TenantStatus,
  created_at: Timestamp,
  device_count: Type.Integer(),
  online_count: Type.Integer(),
  open_alerts: Type.Integer(),
  last_activity: Nullable(Timestamp),
});
const Count = Type.Integer();
const TenantStats = Obj({
  devices: Obj({ total: Count, active: Count, online: Count, stale: Count }),
  alerts: Obj({ open: Count, closed: Count, last_24h: Count }),
  integrations: Obj({ total: Count, active: Count }),
  rules: Obj({ total: Count, active: Count }),
  sites: Count,
  last_device_activity: Nullable(Timestamp),
  last_alert: Nullable(Timestamp),
});
const IngestSettingsJson = Obj({
  mode: Type.Union([Type.Literal('DEV'), Type.Literal('PROD')]),
  store_rejects: Type.Boolean(),
  max_payload_bytes: Type.Integer(),
  rate_limit_rps: Type.Number(),
  rate_limit_burst: Type.Number(),
});

function parseSince(since: string | undefined): Date | undefined {
  if (since === undefined) return undefined;
  const date = new Date(since);
  if (Number.isNaN(date.getTime())) throw new AppError('INVALID_REQUEST', 'Invalid since value; use ISO 8601');
  return date;
}

const statusFilter = (status: string) => (status.toUpperCase() === 'ALL' ? undefined : status.toUpperCase());

export function registerOperatorRoutes(app: App, deps: { audited: Audited; config: Config; bus: Bus }): void {
  const { audited } = deps;
  // The original's settings form posts form fields; JSON is the main format.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  app.get(
    '/operator/tenants',
    {
      schema: {
        tags,
        summary: 'Tenants',
        querystring: TenantsQuery,
        response: {
          200: Obj({
            tenants: Type.Array(Tenant),
            total: Type.Integer(),
            limit: Type.Integer(),
            offset: Type.Integer(),
          }),
        },
      },
    },
    (request) =>
      audited(request, { action: 'list_tenants' }, async (tx) => {
        const { limit, offset } = request.query;
        return {
          ...(await tenants.listTenants(tx, { status: statusFilter(request.query.status), limit, offset })),
          limit,
          offset,
        };
      }),
  );

  app.get(
    '/operator/tenants/stats/summary',
    {
      schema: {
        tags,
        summary: 'Every tenant with device, online and open-alert counts',
        response: { 200: Obj({ tenants: Type.Array(TenantSummary) }) },
      },
    },
    (request) =>
      audited(request, { action: 'get_all_tenants_stats' }, async (tx) => ({
        tenants: await tenants.tenantsSummary(tx),
      })),
  );

  app.get(
    '/operator/tenants/:tenant_id',
    { schema: { tags, summary: 'One tenant', params: TenantParams, response: { 200: Tenant } } },
    (request) =>
      audited(request, tenantAudit('get_tenant', request.params.tenant_id), (tx) =>
        useCases.tenant(tx, request.params.tenant_id),
      ),
  );

  app.post(
    '/operator/tenants',
    {
      schema: {
        tags,
        summary: 'Create a tenant (operator_admin)',
        body: CreateTenantBody,
        response: { 201: TenantChanged },
      },
    },
    async (request, reply) => {
      const { tenant_id, ...fields } = request.body;
      const created = await audited(request, tenantAudit('create_tenant', tenant_id, true), (tx) =>
        useCases.createTenant(tx, tenant_id, fields),
      );
      return reply.status(201).send(created);
    },
  );

  app.patch(
    '/operator/tenants/:tenant_id',
    {
      schema: {
        tags,
        summary: 'Change a tenant (operator_admin)',
        params: TenantParams,
        body: PatchTenantBody,
        response: { 200: TenantChanged },
      },
    },
    (request) =>
      audited(request, tenantAudit('update_tenant', request.params.tenant_id, true), (tx) =>
        useCases.changeTenant(tx, request.params.tenant_id, request.body ?? {}),
      ),
  );

  app.delete(
    '/operator/tenants/:tenant_id',
    {
      schema: {
        tags,
        summary: 'Delete a tenant (soft; operator_admin); its devices are revoked',
        params: TenantParams,
        response: { 200: Obj({ ...TenantChanged.properties, devices_revoked: Type.Integer() }) },
      },
    },
    async (request) => {
      const { tenant_id } = request.params;
      const { answer, revoked } = await audited(request, tenantAudit('delete_tenant', tenant_id, true), (tx) =>
        useCases.deleteTenant(tx, tenant_id),
      );
      // After commit: every ingest instance forgets those devices at once.
      for (const device_id of revoked) deps.bus.publish('device.changed', { tenant_id, device_id });
      return answer;
    },
  );

  app.get(
    '/operator/tenants/:tenant_id/stats',
    {
      schema: {
        tags,
        summary: "A tenant's devices, alerts, integrations and rules in numbers",
        params: TenantParams,
        response: {
          200: Obj({ tenant_id: Type.String(), name: Type.String(), status: TenantStatus, stats: TenantStats }),
        },
      },
    },
    (request) =>
      audited(request, tenantAudit('get_tenant_stats', request.params.tenant_id), (tx) =>
        useCases.tenantStats(tx, request.params.tenant_id),
      ),
  );

  app.get(
    '/operator/devices',
    {
      schema: {
        tags,
        summary: "Every tenant's devices",
        querystring: DevicesQuery,
        response: {
          200: Obj({
            devices: Type.Array(FleetDevice),
            total: Type.Integer(),
            tenant_filter: Nullable(Type.String()),
            limit: Type.Integer(),
            offset: Type.Integer(),
          }),
        },
      },
    },
    (request) => {
      const { tenant_filter, status, q, limit, offset } = request.query;
      return audited(request, { action: 'list_all_devices', tenantFilter: tenant_filter }, async (tx) => {
        const result = await deviceModel.listFleetDevices(tx, {
          tenantId: tenant_filter,
          status,
          search: q,
          limit,
          offset,
        });
        return { ...result, tenant_filter: tenant_filter ?? null, limit, offset };
      });
    },
  );

  app.get(
    '/operator/tenants/:tenant_id/devices',
    {
      schema: {
        tags,
        summary: "A tenant's devices",
        params: TenantParams,
        response: {
          200: Obj({ tenant_id: Type.String(), devices: Type.Array(FleetDevice), total: Type.Integer() }),
        },
      },
    },
    (request) => {
      const { tenant_id } = request.params;
      return audited(request, { action: 'list_tenant_devices', tenantFilter: tenant_id }, async (tx) => {
        const { devices, total } = await deviceModel.listFleetDevices(tx, {
          tenantId: tenant_id,
          limit: 500,
          offset: 0,
        });
        return { tenant_id, devices, total };
      });
    },
  );

  const DeviceParams = Type.Object({
    tenant_id: Type.String({ minLength: 1 }),
    device_id: Type.String({ minLength: 1 }),
  });
  app.get(
    '/operator/tenants/:tenant_id/devices/:device_id',
    {
      schema: {
        tags,
        summary: 'A device as its tenant sees it',
        params: DeviceParams,
        response: {
          200: DeviceWithHistory,
        },
      },
    },
    (request) => {
      const { tenant_id, device_id } = request.params;
      return audited(
        request,
        { action: 'view_device', tenantFilter: tenant_id, resourceType: 'device', resourceId: device_id },
        async (tx) => {
          const detail = await deviceModel.deviceDetail(narrow(tx, tenant_id), device_id);
          if (!detail) throw new AppError('NOT_FOUND', 'Device not found');
          return { tenant_id, ...detail };
        },
      );
    },
  );

  app.get(
    '/operator/alerts',
    {
      schema: {
        tags,
        summary: "Every tenant's alerts",
        querystring: AlertsQuery,
        response: {
          200: Obj({
            alerts: Type.Array(Alert),
            total: Type.Integer(),
            tenant_filter: Nullable(Type.String()),
            status: Type.String(),
            limit: Type.Integer(),
            offset: Type.Integer(),
          }),
        },
      },
    },
    (request) => {
      const { tenant_filter, status, limit, offset } = request.query;
      return audited(request, { action: 'list_all_alerts', tenantFilter: tenant_filter }, async (tx) => {
        const result = await alertModel.listFleetAlerts(tx, {
          tenantId: tenant_filter,
          status: alertStatusFilter(status),
          limit,
          offset,
        });
        return { ...result, tenant_filter: tenant_filter ?? null, status, limit, offset };
      });
    },
  );

  app.get(
    '/operator/quarantine',
    {
      schema: {
        tags,
        summary: 'Rejected messages and reject counts per minute and reason',
        querystring: QuarantineQuery,
        response: { 200: QuarantineView },
      },
    },
    (request) => {
      const { minutes, tenant_filter, limit } = request.query;
      return audited(request, { action: 'view_quarantine', tenantFilter: tenant_filter }, async (tx) => ({
        minutes,
        limit,
        ...(await quarantineModel.recentQuarantine(tenant_filter ? narrow(tx, tenant_filter) : tx, { minutes, limit })),
      }));
    },
  );

  app.get(
    '/operator/silences',
    {
      schema: {
        tags,
        summary: "Every tenant's silences (or one's, with tenant_filter): running and coming first",
        querystring: Type.Object({
          tenant_filter: Type.Optional(Type.String()),
          include_ended: Type.Boolean({ default: false }),
        }),
        response: { 200: Obj({ silences: Type.Array(SilenceView), tenant_filter: Nullable(Type.String()) }) },
      },
    },
    (request) => {
      const { tenant_filter, include_ended } = request.query;
      return audited(request, { action: 'view_silences', tenantFilter: tenant_filter }, async (tx) => ({
        silences: await listSilences(tx, { tenantId: tenant_filter, includeEnded: include_ended }),
        tenant_filter: tenant_filter ?? null,
      }));
    },
  );

  app.get(
    '/operator/firmware',
    {
      schema: {
        tags,
        summary: "Every tenant's firmware images (or one's, with tenant_filter), newest first",
        querystring: TenantFilterQuery,
        response: {
          200: Obj({ images: Type.Array(FirmwareImageView), tenant_filter: Nullable(Type.String()) }),
        },
      },
    },
    (request) => {
      const { tenant_filter } = request.query;
      return audited(request, { action: 'list_firmware', tenantFilter: tenant_filter }, async (tx) => ({
        images: await listImages(tx, { tenantId: tenant_filter }),
        tenant_filter: tenant_filter ?? null,
      }));
    },
  );

  app.get(
    '/operator/integrations',
    {
      schema: {
        tags,
        summary: "Every tenant's integrations (no secrets)",
        querystring: Type.Object({ ...TenantFilterQuery.properties, state: Type.Optional(HealthStateView) }),
        response: {
          200: Obj({
            integrations: Type.Array(
              Obj({
                tenant_id: Type.String(),
                integration_id: Type.String(),
                name: Type.String(),
                type: Type.String(),
                enabled: Type.Boolean(),
                url: Nullable(Type.String()),
                snmp_host: Nullable(Type.String()),
                mqtt_topic: Nullable(Type.String()),
                created_at: Timestamp,
                updated_at: Timestamp,
                health: IntegrationHealthView,
              }),
            ),
            tenant_filter: Nullable(Type.String()),
          }),
        },
      },
    },
    (request) => {
      const { tenant_filter, state } = request.query;
      return audited(request, { action: 'list_all_integrations', tenantFilter: tenant_filter }, async (tx) => ({
        integrations: await integrationModel.listFleetIntegrations(tx, {
          tenantId: tenant_filter,
          state,
        }),
        tenant_filter: tenant_filter ?? null,
      }));
    },
  );

  app.get(
    '/operator/audit-log',
    {
      schema: {
        tags,
        summary: 'The operator audit log (operator_admin)',
        querystring: AuditQuery,
        response: {
          200: Obj({
            entries: Type.Array(
              Obj({
                id: Type.Integer(),
                user_id: Type.String(),
                username: Nullable(Type.String()),
                action: Type.String(),
                tenant_filter: Nullable(Type.String()),
                resource_type: Nullable(Type.String()),
                resource_id: Nullable(Type.String()),
                summary: Nullable(Type.String({ description: 'what the change did, e.g. "disabled user alice"' })),
                ip_address: Nullable(Type.String()),
                user_agent: Nullable(Type.String()),
                rls_bypassed: Type.Boolean(),
                status_code: Nullable(Type.Integer({ description: "the request's HTTP status" })),
                created_at: Timestamp,
              }),
            ),
            limit: Type.Integer(),
            user_id: Nullable(Type.String()),
            action: Nullable(Type.String()),
            since: Nullable(Type.String()),
          }),
        },
      },
    },
    (request) => {
      const { user_id, action, tenant_filter, since, changes_only, limit } = request.query;
      return audited(request, { action: 'view_audit_log', admin: true }, async (tx) => ({
        entries: await auditModel.auditLog(tx, {
          userId: user_id,
          action,
          tenantId: tenant_filter,
          since: parseSince(since),
          changesOnly: changes_only,
          limit,
        }),
        limit,
        user_id: user_id ?? null,
        action: action ?? null,
        since: since ?? null,
      }));
    },
  );

  const defaults = defaultIngestSettings(deps.config.MODE);
  app.get(
    '/operator/settings',
    {
      schema: {
        tags,
        summary: 'Runtime ingest settings in force, and their defaults',
        response: {
          200: Obj({
            settings: IngestSettingsJson,
            defaults: IngestSettingsJson,
            rows: Type.Array(Obj({ key: Type.String(), value: Type.String(), updated_at: Timestamp })),
          }),
        },
      },
    },
    (request) =>
      audited(request, { action: 'view_settings' }, async (tx) => {
        const rows = await settingsModel.settingRows(tx);
        return { settings: settingsJson(applySettingRows(defaults, rows)), defaults: settingsJson(defaults), rows };
      }),
  );

  app.post(
    '/operator/settings',
    {
      schema: {
        tags,
        summary: 'Change runtime ingest settings (operator_admin); ingest applies them within SETTINGS_POLL_SECONDS',
        body: SettingsBody,
        response: { 200: Obj({ status: Type.Literal('ok'), settings: IngestSettingsJson }) },
      },
    },
    (request) =>
      audited(request, { action: 'update_settings', admin: true }, (tx) =>
        useCases.changeSettings(tx, request.body ?? {}, defaults),
      ),
  );
}

/** The audit entry of a request about one tenant. */
const tenantAudit = (action: string, tenantId: string, admin = false) => ({
  action,
  admin,
  tenantFilter: tenantId,
  resourceType: 'tenant',
  resourceId: tenantId,
});
