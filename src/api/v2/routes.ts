// /api/v2 (docs/wire-contract.md#data-api) for customer roles, with the fixed telemetry contract: items carry
// `timestamp` and object metrics, windows are `start`/`end` or `hours`, and every count is the caller's
// tenant's only.
import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../../http/server.js';
import { AppError } from '../../errors.js';
import type { TenantTx } from '../../db/database.js';
import type { InTenant } from '../guard.js';
import { alertStatusFilter, devicesPage, DevicesQuery, Limit, Offset, registerAlertDetail } from '../common-reads.js';
import { MAX_CHART_DAYS, timeWindow } from '../time-window.js';
import { groupBy } from '../../lib/group-by.js';
import { Nullable, Obj, Timestamp } from '../../lib/schema.js';
import { AlertPage, AlertRule, DeviceDetail, DevicePage, LatestReading, Reading } from '../../model/views.js';
import * as deviceModel from '../../model/devices.js';
import { devicesByGroup, selectsSomething, SelectorQuery } from '../../model/device-selection.js';
import { groupByFromText, selectorFromQuery } from '../../model/selector-input.js';
import * as alertModel from '../../model/alerts.js';
import * as ruleModel from '../../model/rules.js';
import * as telemetryModel from '../../model/telemetry.js';
import { ACTIVE_ALERT_STATUSES, DEVICE_STATUSES, fleetCounts } from '../../model/fleet.js';
import {
  planWindow,
  POINT_BUDGET,
  selectionMinBucketSeconds,
  type Plan,
  type Retention,
} from '../../model/resolution.js';

const Hours = (max: number, fallback: number) => Type.Integer({ minimum: 1, maximum: max, default: fallback });
const Instant = Type.String({ description: 'ISO-8601 instant, e.g. 2026-11-28T10:00:00Z' });

const DeviceParams = Type.Object({ device_id: Type.String({ minLength: 1 }) });
const TelemetryQuery = Type.Object({
  hours: Hours(168, 6),
  start: Type.Optional(Instant),
  end: Type.Optional(Instant),
  limit: Limit(2000, 500),
});
const LatestQuery = Type.Object({ count: Type.Integer({ minimum: 1, maximum: 10, default: 1 }) });
const AlertsQuery = Type.Object({
  status: Type.String({ default: 'OPEN', description: 'OPEN, ACKNOWLEDGED, CLOSED or ALL' }),
  alert_type: Type.Optional(Type.String()),
  limit: Limit(500, 100),
  offset: Offset,
});
const TrendQuery = Type.Object({ hours: Hours(168, 24) });
const RulesQuery = Type.Object({ limit: Limit(500, 100) });
const RuleParams = Type.Object({ rule_id: Type.String({ minLength: 1 }) });
const GroupByQuery = Type.Object({
  ...SelectorQuery.properties,
  group_by: Type.Optional(
    Type.String({
      description: 'site, tag (a device counts in each of its tags) or attribute:<key>, e.g. attribute:model',
    }),
  ),
});
const SummaryQuery = Type.Object({ hours: Hours(720, 1), ...GroupByQuery.properties });
const ChartQuery = Type.Object({
  metric: Type.String({ minLength: 1 }),
  device_id: Type.Optional(Type.String()),
  ...GroupByQuery.properties,
  hours: Hours(720, 6),
  start: Type.Optional(Instant),
  end: Type.Optional(Instant),
  bucket_minutes: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1440, description: 'default: the smallest within the point budget' }),
  ),
});
const SeriesQuery = Type.Object({ hours: Hours(720, 6), start: Type.Optional(Instant), end: Type.Optional(Instant) });
const ResolutionName = Type.Union([Type.Literal('raw'), Type.Literal('1m'), Type.Literal('1h')], {
  description: 'what answered: raw rows, 1-minute or 1-hour rollups',
});
const SeriesPoint = Obj({
  time: Timestamp,
  avg: Type.Number(),
  min: Type.Number(),
  max: Type.Number(),
  samples: Type.Integer(),
});

const MetricStatsMap = Type.Record(
  Type.String(),
  Obj({ avg: Type.Number(), min: Type.Number(), max: Type.Number(), samples: Type.Integer() }),
);
const byMetric = (metrics: telemetryModel.MetricStats[]) =>
  Object.fromEntries(metrics.map(({ metric, ...stats }) => [metric, stats]));
const bucketOf = ({ time, avg, min, max, samples }: telemetryModel.SeriesPoint) => ({ time, avg, min, max, samples });

/** The summary's groups: each with its devices (reporting or not) and its metrics' statistics. */
async function summaryByGroup(
  tx: TenantTx,
  plan: Plan,
  groups: { device_id: string; group: string }[],
  grouping: string | undefined,
) {
  const label = (group: string) => (grouping === undefined ? 'all' : group);
  const stats = groupBy(await telemetryModel.groupedSummary(tx, plan, { groups }), (row) => label(row.group));
  const devices = groupBy(groups, (row) => label(row.group));
  return Object.fromEntries(
    [...devices].map(([group, members]) => [
      group,
      {
        device_count: new Set(members.map((member) => member.device_id)).size,
        metrics: byMetric((stats.get(group) ?? []).map(({ group: _group, ...row }) => row)),
      },
    ]),
  );
}

/**
 * The devices a fleet read narrows to and their groups, when its query names a selector or a group_by;
 * undefined for the whole fleet, which its own rollups answer.
 */
async function readGroups(tx: TenantTx, query: Static<typeof GroupByQuery>) {
  const selector = selectorFromQuery(query);
  if (query.group_by === undefined && !selectsSomething(selector)) return undefined;
  return devicesByGroup(tx, selector, query.group_by === undefined ? undefined : groupByFromText(query.group_by));
}

const tags = ['api/v2'];
/** Fleet-wide summaries are drawn in minutes at least (from rollups, whatever the fleet's size). */
const FLEET_MIN_BUCKET_SECONDS = 60;
/** A chart's bucket when none is asked for: the original's 5 minutes, or more when the window needs it. */
const CHART_MIN_BUCKET_SECONDS = 300;
export const AlertTrend = Obj({
  trend: Type.Array(Obj({ hour: Timestamp, opened: Type.Integer(), closed: Type.Integer() })),
});
const Counts = (statuses: readonly string[], description: string) =>
  Obj(Object.fromEntries(statuses.map((status) => [status, Type.Integer({ minimum: 0 })])), { description });
export const FleetSummary = Obj({
  tenant_id: Type.String(),
  devices: Counts([...DEVICE_STATUSES, 'total'], 'devices by status (OFFLINE: never heard from), and all of them'),
  alerts: Counts(ACTIVE_ALERT_STATUSES, 'alerts not yet closed, by status'),
});

export function registerV2Routes(app: App, inTenant: InTenant, retention: Retention): void {
  const requireDevice = async (tx: TenantTx, deviceId: string) => {
    if (!(await deviceModel.deviceExists(tx, deviceId))) throw new AppError('NOT_FOUND', 'Device not found');
  };

  app.get(
    '/api/v2/devices',
    {
      schema: {
        tags,
        summary: "The tenant's devices with their health",
        querystring: DevicesQuery,
        response: { 200: DevicePage },
      },
    },
    (request) => inTenant(request, (tx) => devicesPage(tx, request.query)),
  );

  app.get(
    '/api/v2/devices/:device_id',
    {
      schema: {
        tags,
        summary: 'One device',
        params: DeviceParams,
        response: { 200: Obj({ tenant_id: Type.String(), device: DeviceDetail }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const device = await deviceModel.findDevice(tx, request.params.device_id);
        if (!device) throw new AppError('NOT_FOUND', 'Device not found');
        return { tenant_id: tx.tenantId, device };
      }),
  );

  app.get(
    '/api/v2/devices/:device_id/telemetry',
    {
      schema: {
        tags,
        summary: "A device's telemetry and heartbeats, newest first",
        description: 'The window is `start`..`end` (end defaults to now) when `start` is given, else the last `hours`.',
        params: DeviceParams,
        querystring: TelemetryQuery,
        response: {
          200: Obj({
            tenant_id: Type.String(),
            device_id: Type.String(),
            telemetry: Type.Array(Reading),
            count: Type.Integer(),
            start: Timestamp,
            end: Timestamp,
            hours: Type.Number(),
          }),
        },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const { device_id } = request.params;
        const window = timeWindow(request.query);
        await requireDevice(tx, device_id);
        const telemetry = await telemetryModel.telemetryRange(
          tx,
          device_id,
          window.start,
          window.end,
          request.query.limit,
        );
        return {
          tenant_id: tx.tenantId,
          device_id,
          telemetry,
          count: telemetry.length,
          start: window.start,
          end: window.end,
          hours: window.hours,
        };
      }),
  );

  app.get(
    '/api/v2/devices/:device_id/telemetry/latest',
    {
      schema: {
        tags,
        summary: "A device's newest telemetry (never heartbeats)",
        params: DeviceParams,
        querystring: LatestQuery,
        response: {
          200: Obj({ device_id: Type.String(), telemetry: Type.Array(LatestReading), count: Type.Integer() }),
        },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const { device_id } = request.params;
        await requireDevice(tx, device_id);
        const telemetry = await telemetryModel.latestTelemetry(tx, device_id, request.query.count);
        return { device_id, telemetry, count: telemetry.length };
      }),
  );

  app.get(
    '/api/v2/alerts',
    {
      schema: {
        tags,
        summary: "The tenant's alerts, newest first",
        querystring: AlertsQuery,
        response: {
          200: AlertPage({ alert_type: Nullable(Type.String()) }),
        },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const { status, alert_type, limit, offset } = request.query;
        const alerts = await alertModel.listAlerts(tx, {
          status: alertStatusFilter(status),
          alertType: alert_type,
          limit,
          offset,
        });
        return {
          tenant_id: tx.tenantId,
          alerts,
          count: alerts.length,
          status,
          alert_type: alert_type ?? null,
          limit,
          offset,
        };
      }),
  );

  app.get(
    '/api/v2/alerts/trend',
    {
      schema: {
        tags,
        summary: 'Alerts opened and closed per hour (this tenant only)',
        querystring: TrendQuery,
        response: { 200: AlertTrend },
      },
    },
    (request) =>
      inTenant(request, async (tx) => ({ trend: await alertModel.alertTrend(tx, { hours: request.query.hours }) })),
  );

  app.get(
    '/api/v2/fleet/summary',
    {
      schema: {
        tags,
        summary: 'Devices by status and open alerts, counted on the server: what a dashboard shows',
        description:
          'One call for every headline count, so a dashboard polls this instead of a page of each list per number.',
        response: { 200: FleetSummary },
      },
    },
    (request) => inTenant(request, async (tx) => ({ tenant_id: tx.tenantId, ...(await fleetCounts(tx)) })),
  );

  registerAlertDetail(app, '/api/v2/alerts/:alert_id', inTenant, tags);

  app.get(
    '/api/v2/alert-rules',
    {
      schema: {
        tags,
        summary: "The tenant's alert rules",
        querystring: RulesQuery,
        response: { 200: Obj({ tenant_id: Type.String(), rules: Type.Array(AlertRule), count: Type.Integer() }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const rules = await ruleModel.listRules(tx, request.query.limit);
        return { tenant_id: tx.tenantId, rules, count: rules.length };
      }),
  );

  app.get(
    '/api/v2/alert-rules/:rule_id',
    {
      schema: {
        tags,
        summary: 'One alert rule',
        params: RuleParams,
        response: { 200: Obj({ tenant_id: Type.String(), rule: AlertRule }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const rule = await ruleModel.findRule(tx, request.params.rule_id);
        if (!rule) throw new AppError('NOT_FOUND', 'Alert rule not found');
        return { tenant_id: tx.tenantId, rule };
      }),
  );

  const planned = (
    window: { start: Date; end: Date },
    options: { bucketSeconds?: number; minBucketSeconds?: number },
  ) => planWindow(window, retention, new Date(), options);

  app.get(
    '/api/v2/telemetry/summary',
    {
      schema: {
        tags,
        summary: 'avg/min/max of every numeric metric over the last hours',
        description:
          'Answered from raw rows or rollups (`resolution`); the window starts at `start`, the last `hours` widened to a whole bucket. ' +
          "The top level is the whole fleet (as in OpsConductor-Pulse); a selector (the devices list's filters) or `group_by` adds `groups`: " +
          "the selected devices per site, tag or attribute value (`all` without group_by), from the devices' rollups.",
        querystring: SummaryQuery,
        response: {
          200: Obj({
            sample_count: Type.Integer(),
            device_count: Type.Integer(),
            hours: Type.Integer(),
            resolution: ResolutionName,
            start: Timestamp,
            metrics: MetricStatsMap,
            groups: Type.Optional(
              Type.Record(Type.String(), Obj({ device_count: Type.Integer(), metrics: MetricStatsMap }), {
                description: 'group → the devices in it and their metrics',
              }),
            ),
          }),
        },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const end = new Date();
        const window = { start: new Date(end.getTime() - request.query.hours * 3600_000), end };
        const plan = planned(window, { minBucketSeconds: FLEET_MIN_BUCKET_SECONDS });
        const groups = await readGroups(tx, request.query);
        const groupPlan = planned(window, { minBucketSeconds: selectionMinBucketSeconds(window) });
        const { sample_count, device_count, metrics } = await telemetryModel.telemetrySummary(tx, plan);
        return {
          sample_count,
          device_count,
          hours: request.query.hours,
          resolution: plan.resolution,
          start: plan.start,
          metrics: byMetric(metrics),
          ...(groups && { groups: await summaryByGroup(tx, groupPlan, groups, request.query.group_by) }),
        };
      }),
  );

  app.get(
    '/api/v2/telemetry/chart',
    {
      schema: {
        tags,
        summary: 'One metric in time buckets: avg/min/max/samples',
        description: `Without \`bucket_minutes\` the bucket is 5 minutes (as in OpsConductor-Pulse), or the smallest that draws the window in at most ${POINT_BUDGET} points; the data comes from raw rows, 1-minute or 1-hour rollups (\`resolution\`). Booleans count 0/1 (avg: the share of true).`,
        querystring: ChartQuery,
        response: {
          200: Obj({
            metric: Type.String(),
            device_id: Nullable(Type.String()),
            series: Type.Array(SeriesPoint, {
              description: 'the fleet, the device, or the devices a selector picks; empty with group_by',
            }),
            groups: Type.Optional(
              Type.Record(Type.String(), Type.Array(SeriesPoint), {
                description: 'with group_by: site, tag or attribute value → its buckets',
              }),
            ),
            resolution: ResolutionName,
            bucket_seconds: Type.Integer(),
            hours: Type.Number(),
            start: Timestamp,
            end: Timestamp,
          }),
        },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const { metric, device_id, bucket_minutes } = request.query;
        const window = timeWindow(request.query, new Date(), MAX_CHART_DAYS);
        const groups = await readGroups(tx, request.query);
        const minBucketSeconds = groups
          ? Math.max(CHART_MIN_BUCKET_SECONDS, selectionMinBucketSeconds(window))
          : CHART_MIN_BUCKET_SECONDS;
        // Asked-for buckets too are at least the selection's: minutes of a month of thousands of devices are not.
        const plan = planned(
          window,
          bucket_minutes === undefined
            ? { minBucketSeconds }
            : { bucketSeconds: Math.max(bucket_minutes * 60, groups ? selectionMinBucketSeconds(window) : 0) },
        );
        if (groups && device_id !== undefined)
          throw new AppError('INVALID_REQUEST', 'device_id reads one device: leave out the selector and group_by');
        const points = await telemetryModel.telemetrySeries(tx, { metric, deviceId: device_id, groups, plan });
        const byGroup = groupBy(points, (point) => point.group ?? '');
        return {
          metric,
          device_id: device_id ?? null,
          series: request.query.group_by === undefined ? points.map(bucketOf) : [],
          ...(request.query.group_by !== undefined && {
            groups: Object.fromEntries([...byGroup].map(([group, groupPoints]) => [group, groupPoints.map(bucketOf)])),
          }),
          resolution: plan.resolution,
          bucket_seconds: plan.bucketSeconds,
          hours: window.hours,
          start: plan.start,
          end: plan.end,
        };
      }),
  );

  app.get(
    '/api/v2/devices/:device_id/telemetry/series',
    {
      schema: {
        tags,
        summary: 'Every metric of a device over a window, in buckets: what the device page draws',
        description: `The whole window, however long (up to ${MAX_CHART_DAYS} days and the rollups' retention), in at most ${POINT_BUDGET} buckets per metric, from raw rows or rollups (\`resolution\`).`,
        params: DeviceParams,
        querystring: SeriesQuery,
        response: {
          200: Obj({
            tenant_id: Type.String(),
            device_id: Type.String(),
            metrics: Type.Record(Type.String(), Type.Array(SeriesPoint), {
              description: 'metric → its buckets, oldest first',
            }),
            texts: Type.Record(
              Type.String(),
              Type.Array(
                Obj({
                  time: Timestamp,
                  last: Type.String({ description: 'the value in force at the end of the bucket' }),
                  changes: Type.Integer({ description: 'how many times the value changed in the bucket' }),
                  samples: Type.Integer(),
                }),
              ),
              { description: 'text metric → its buckets, oldest first' },
            ),
            resolution: ResolutionName,
            bucket_seconds: Type.Integer(),
            start: Timestamp,
            end: Timestamp,
          }),
        },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const { device_id } = request.params;
        await requireDevice(tx, device_id);
        const plan = planned(timeWindow(request.query, new Date(), MAX_CHART_DAYS), {});
        const metrics: Record<string, Omit<telemetryModel.SeriesPoint, 'metric'>[]> = {};
        for (const { metric, ...point } of await telemetryModel.telemetrySeries(tx, { deviceId: device_id, plan })) {
          (metrics[metric] ??= []).push(point);
        }
        const texts: Record<string, Omit<telemetryModel.TextPoint, 'metric'>[]> = {};
        for (const { metric, ...point } of await telemetryModel.textSeries(tx, device_id, plan)) {
          (texts[metric] ??= []).push(point);
        }
        return {
          tenant_id: tx.tenantId,
          device_id,
          metrics,
          texts,
          resolution: plan.resolution,
          bucket_seconds: plan.bucketSeconds,
          start: plan.start,
          end: plan.end,
        };
      }),
  );
}
