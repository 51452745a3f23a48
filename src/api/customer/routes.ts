// /customer (docs/wire-contract.md#customer-api, without integrations and routes, which come with alert delivery): the
// tenant's devices and alert rules (alerts: ./alerts.ts; deliveries: ./deliveries.ts). Customer roles
// read; writes need customer_admin. Everything runs in withTenant() for the caller's tenant.
import { Type } from '@sinclair/typebox';
import type { App } from '../../http/server.js';
import type { TenantTx } from '../../db/database.js';
import { AppError, requireChanges } from '../../errors.js';
import { customerAdminOnly, type InTenant } from '../guard.js';
import { requireBelowCap, type TenantCaps } from '../limits.js';
import { devicesPage, DevicesQuery } from '../common-reads.js';
import { NoContent, Nullable, Obj } from '../../lib/schema.js';
import { AlertRule, DevicePage, DeviceWithHistory, Geofence, SavedRule } from '../../model/views.js';
import {
  checkRuleFields,
  checkRuleId,
  checkRuleShape,
  unknownMetricWarning,
  type RuleFields,
} from '../../model/rule-input.js';
import { reportedMetrics } from '../../model/device-state.js';
import { DeviceSelectorSchema } from '../../model/device-selection.js';
import * as deviceModel from '../../model/devices.js';
import * as ruleModel from '../../model/rules.js';
import { noteAudit } from '../audit-note.js';

const tags = ['customer'];

const DeviceParams = Type.Object({ device_id: Type.String({ minLength: 1 }) });
const RuleParams = Type.Object({ rule_id: Type.String() });
const ruleFields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  metric_name: Type.String({ minLength: 1, maxLength: 100 }),
  operator: Type.String({
    description:
      'numbers: GT, LT, GTE or LTE (threshold); text: EQ, NE or IN (values); positions: INSIDE or OUTSIDE (geofence)',
  }),
  threshold: Type.Optional(Type.Number({ description: 'number rules' })),
  values: Type.Optional(
    Nullable(
      Type.Array(Type.String({ maxLength: 256 }), {
        minItems: 1,
        maxItems: 100,
        description: 'text rules: the state matched (EQ, NE: one; IN: any of them)',
      }),
    ),
  ),
  geofence: Type.Optional(Nullable(Geofence)),
  severity: Type.Integer({ minimum: 1, maximum: 5, default: 3, description: '1 info … 5 critical' }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
  site_ids: Type.Optional(Type.Union([Type.Array(Type.String(), { maxItems: 500 }), Type.Null()])),
  // Which devices it watches, as a fleet job picks them (no status); null: all.
  selector: Type.Optional(Nullable(DeviceSelectorSchema)),
  enabled: Type.Boolean({ default: true }),
  duration_seconds: Type.Integer({
    minimum: 0,
    maximum: 7 * 86_400,
    default: 0,
    description: 'violation must last this long',
  }),
  hysteresis: Type.Number({
    minimum: 0,
    default: 0,
    description: 'the value must recover past threshold ± this to close',
  }),
};
const CreateRuleBody = Type.Object(ruleFields, { additionalProperties: false });
const PatchRuleBody = Type.Partial(
  Type.Object({
    ...ruleFields,
    severity: Type.Integer({ minimum: 1, maximum: 5 }),
    enabled: Type.Boolean(),
    duration_seconds: Type.Integer({ minimum: 0, maximum: 7 * 86_400 }),
    hysteresis: Type.Number({ minimum: 0 }),
  }),
  { additionalProperties: false },
);

export function registerCustomerRoutes(app: App, deps: { inTenant: InTenant; caps: TenantCaps }): void {
  const { inTenant, caps } = deps;

  app.get(
    '/customer/devices',
    { schema: { tags, summary: "The tenant's devices", querystring: DevicesQuery, response: { 200: DevicePage } } },
    (request) => inTenant(request, (tx) => devicesPage(tx, request.query)),
  );

  app.get(
    '/customer/devices/:device_id',
    {
      schema: {
        tags,
        summary: 'A device with its latest values, recent events (24 h) and telemetry (6 h)',
        params: DeviceParams,
        response: {
          200: DeviceWithHistory,
        },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const detail = await deviceModel.deviceDetail(tx, request.params.device_id);
        if (!detail) throw new AppError('NOT_FOUND', 'Device not found');
        return { tenant_id: tx.tenantId, ...detail };
      }),
  );

  app.get(
    '/customer/alert-rules',
    {
      schema: {
        tags,
        summary: "The tenant's alert rules",
        response: { 200: Obj({ tenant_id: Type.String(), rules: Type.Array(AlertRule) }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => ({ tenant_id: tx.tenantId, rules: await ruleModel.listRules(tx, 100) })),
  );

  const findRuleOr404 = async (tx: TenantTx, ruleId: string) => {
    checkRuleId(ruleId);
    const rule = await ruleModel.findRule(tx, ruleId);
    if (!rule) throw new AppError('NOT_FOUND', 'Alert rule not found');
    return rule;
  };

  /** The saved rule, with a `warning` when no device has reported its metric. */
  const withMetricWarning = async <R extends { metric_name: string }>(tx: TenantTx, rule: R) => {
    const warning = unknownMetricWarning(rule.metric_name, await reportedMetrics(tx));
    return warning ? { ...rule, warning } : rule;
  };

  app.get(
    '/customer/metrics',
    {
      schema: {
        tags,
        summary: "The metrics this tenant's devices have reported (what a rule can watch)",
        response: { 200: Obj({ metrics: Type.Array(Type.String()) }) },
      },
    },
    (request) => inTenant(request, async (tx) => ({ metrics: await reportedMetrics(tx) })),
  );

  app.get(
    '/customer/alert-rules/:rule_id',
    { schema: { tags, summary: 'One alert rule', params: RuleParams, response: { 200: AlertRule } } },
    (request) => inTenant(request, (tx) => findRuleOr404(tx, request.params.rule_id)),
  );

  app.post(
    '/customer/alert-rules',
    {
      preHandler: customerAdminOnly,
      schema: { tags, summary: 'Create an alert rule', body: CreateRuleBody, response: { 201: SavedRule } },
    },
    async (request, reply) => {
      const rule = checkRuleFields(request.body);
      checkRuleShape(rule);
      const created = await inTenant(request, async (tx) => {
        await requireBelowCap(tx, caps, 'rules');
        return withMetricWarning(tx, await ruleModel.createRule(tx, rule));
      });
      noteAudit(request, { resourceId: created.rule_id, summary: `created alert rule ${created.name}` });
      return reply.status(201).send(created);
    },
  );

  app.patch(
    '/customer/alert-rules/:rule_id',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Change an alert rule',
        params: RuleParams,
        body: PatchRuleBody,
        response: { 200: SavedRule },
      },
    },
    (request) => {
      checkRuleId(request.params.rule_id);
      const fields: RuleFields = checkRuleFields(request.body ?? {});
      requireChanges(fields);
      return inTenant(request, async (tx) => {
        const current = await ruleModel.findRule(tx, request.params.rule_id);
        if (!current) throw new AppError('NOT_FOUND', 'Alert rule not found');
        checkRuleShape(fields, current);
        const updated = await ruleModel.updateRule(tx, request.params.rule_id, fields);
        if (!updated) throw new AppError('NOT_FOUND', 'Alert rule not found');
        return fields.metric_name === undefined ? updated : withMetricWarning(tx, updated);
      });
    },
  );

  app.delete(
    '/customer/alert-rules/:rule_id',
    {
      preHandler: customerAdminOnly,
      schema: { tags, summary: 'Delete an alert rule', params: RuleParams, response: { 204: NoContent } },
    },
    async (request, reply) => {
      checkRuleId(request.params.rule_id);
      const deleted = await inTenant(request, (tx) => ruleModel.deleteRule(tx, request.params.rule_id));
      if (!deleted) throw new AppError('NOT_FOUND', 'Alert rule not found');
      return reply.status(204).send(null);
    },
  );
}
