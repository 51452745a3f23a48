// Every widget's data of a dashboard in one answer (issue 32): one request per refresh whatever the
// widgets, read through the model's functions — series from raw rows or rollups as planWindow decides
// (each widget says which answered), counts, lists and states — each widget in a transaction of the
// tenant of its own, a few at once. The variables narrow fleet-wide widgets (site, tag) and fill `$device`.
// A widget that cannot be read says why in its `error`; the others are still answered. Fleet-wide reads
// come from the fleet's own rollups, the sites' (a site variable, one line or bar per site), or — with a
// tag — the rollups of the devices a selector picks (devicesByGroup), in hours beyond two days (ADR 035).
import { Type, type Static } from '@sinclair/typebox';
import type { TenantTx } from '../../db/database.js';
import { AppError } from '../../errors.js';
import { Nullable, Obj, Timestamp } from '../../lib/schema.js';
import { ALERT_TREND_DAYS, resolveRange, type DashboardDocument, type Widget } from '../../model/dashboard-schema.js';
import {
  checkGroupCount,
  devicesByGroup,
  listDevices,
  selectDevices,
  type DeviceSelector,
} from '../../model/device-selection.js';
import { Semaphore } from '../../lib/semaphore.js';
import { groupBy } from '../../lib/group-by.js';
import { DEVICE_STATUSES, fleetCounts } from '../../model/fleet.js';
import { alertTrend, listAlerts } from '../../model/alerts.js';
import { planWindow, selectionMinBucketSeconds, type Plan, type Retention } from '../../model/resolution.js';
import { fleetPositions, metricStates } from '../../model/telemetry-states.js';
import { groupedSummary, telemetrySeries, type SeriesQuery } from '../../model/telemetry.js';
import { Alert as AlertView } from '../../model/views.js';
import { MAX_WINDOW_DAYS } from '../time-window.js';

export const DashboardVariables = Type.Object(
  {
    site: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    tag: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    device: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false, description: 'the chosen values of the dashboard variables' },
);
export type DashboardVariables = Static<typeof DashboardVariables>;

/** A bucket of a series: the statistics its widget draws (`stats`, avg by default), no more. */
const Point = Obj({
  time: Timestamp,
  avg: Type.Optional(Type.Number()),
  min: Type.Optional(Type.Number()),
  max: Type.Optional(Type.Number()),
});
const Series = Obj({
  label: Type.String(),
  metric: Type.String(),
  points: Type.Array(Point),
});
export const WidgetData = Obj({
  resolution: Nullable(
    Type.Union([Type.Literal('raw'), Type.Literal('1m'), Type.Literal('1h')], {
      description: 'what answered: raw rows, 1-minute or 1-hour rollups; null: the current state',
    }),
  ),
  bucket_seconds: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String({ description: 'why this widget could not be read' })),
  series: Type.Optional(Type.Array(Series)),
  value: Type.Optional(Nullable(Type.Number())),
  bars: Type.Optional(Type.Array(Obj({ label: Type.String(), value: Type.Number() }))),
  trend: Type.Optional(
    Type.Array(Obj({ hour: Timestamp, opened: Type.Integer(), closed: Type.Integer() }), {
      description: 'alerts_per_hour bars: alerts opened and closed in each hour',
    }),
  ),
  rows: Type.Optional(
    Type.Array(Type.Record(Type.String(), Type.Unknown()), { description: 'table: the chosen columns per device' }),
  ),
  total: Type.Optional(Type.Integer()),
  alerts: Type.Optional(Type.Array(AlertView)),
  segments: Type.Optional(Type.Array(Obj({ value: Type.Unknown(), from: Timestamp, to: Timestamp }))),
  positions: Type.Optional(
    Type.Array(
      Obj({
        device_id: Type.String(),
        site_id: Type.String(),
        status: Type.String(),
        lat: Type.Number(),
        lon: Type.Number(),
        at: Timestamp,
      }),
    ),
  ),
});
type WidgetData = Static<typeof WidgetData>;
export const DashboardData = Obj({
  start: Timestamp,
  end: Timestamp,
  widgets: Type.Record(Type.String(), WidgetData, { description: 'widget id → its data' }),
});

interface Context {
  tx: TenantTx;
  window: { start: Date; end: Date };
  retention: Retention;
  now: Date;
  variables: DashboardVariables;
  /** The site and tag variables as a selector; undefined when neither is set (the whole fleet). */
  narrowing: DeviceSelector | undefined;
  /** Points a series of this widget is drawn in at most: about one per two pixels of its width. */
  pointBudget: number;
}

/** A grid column is about 110 px wide on a 1,440-px screen: a series needs no more points than that. */
const POINTS_PER_COLUMN = 60;

/** The widget's device: `$device` is the device variable's value. */
function deviceOf(ref: string, context: Context): string {
  if (ref !== '$device') return ref;
  if (!context.variables.device) throw new AppError('INVALID_REQUEST', 'Choose a device');
  return context.variables.device;
}

const planOf = (context: Context, options: { minBucketSeconds?: number; pointBudget?: number } = {}) =>
  planWindow(context.window, context.retention, context.now, { pointBudget: context.pointBudget, ...options });
/** Fleet-wide series are drawn in minutes at least, as /api/v2's (from rollups, whatever the fleet's size). */
const FLEET_MIN_BUCKET_SECONDS = 60;

type Stat = 'avg' | 'min' | 'max';
/** The points a chart draws: a dashboard's answer is read once per refresh, and most lines draw one statistic. */
const pointsOf = (rows: Awaited<ReturnType<typeof telemetrySeries>>, stats: readonly Stat[]) =>
  rows.map((row) => Object.fromEntries([['time', row.time], ...stats.map((stat) => [stat, row[stat]])]) as Point);
type Point = Static<typeof Point>;

/**
 * Where a fleet-wide read comes from, optionally one group per site or tag, and the least bucket it is read
 * in: the fleet's own rollups (nothing narrows it), the sites' (a site variable, groups by site), or the
 * rollups of each device a tag picks (whole hours beyond two days: they are many rows).
 */
async function fleetScope(
  context: Context,
  by?: 'site' | 'tag',
): Promise<{ scope: Pick<SeriesQuery, 'groups' | 'sites'>; minBucketSeconds: number }> {
  const { site, tag } = context.variables;
  if (by === 'tag' || tag)
    return {
      scope: { groups: await devicesByGroup(context.tx, context.narrowing ?? {}, by && { by }) },
      minBucketSeconds: Math.max(FLEET_MIN_BUCKET_SECONDS, selectionMinBucketSeconds(context.window)),
    };
  const scope = by || site ? { sites: { only: site ? [site] : undefined, grouped: by === 'site' } } : {};
  return { scope, minBucketSeconds: FLEET_MIN_BUCKET_SECONDS };
}

/** A metric's series for one device, or the fleet's (the narrowed devices' when a variable narrows it). */
async function seriesOf(context: Context, metric: string, device: string | undefined) {
  const { scope, minBucketSeconds } = device === undefined ? await fleetScope(context) : { scope: {} };
  const plan = planOf(context, { minBucketSeconds });
  const points = await telemetrySeries(context.tx, { metric, deviceId: device, ...scope, plan });
  return { plan, points };
}

/** One group per site or tag gives at most MAX_GROUPS of them. */
function checkGroups(rows: { group?: string | undefined }[]) {
  checkGroupCount(new Set(rows.map((row) => row.group)).size);
}

/** A statistic over a series' buckets (avg weighted by samples); last: the newest bucket's average. */
export function reduceSeries(
  points: { avg: number; min: number; max: number; samples: number }[],
  stat: 'avg' | 'min' | 'max' | 'last',
): number | null {
  if (points.length === 0) return null;
  if (stat === 'last') return points.at(-1)!.avg;
  if (stat === 'min') return Math.min(...points.map((point) => point.min));
  if (stat === 'max') return Math.max(...points.map((point) => point.max));
  const samples = points.reduce((sum, point) => sum + point.samples, 0);
  return samples === 0 ? null : points.reduce((sum, point) => sum + point.avg * point.samples, 0) / samples;
}

/** Devices per status: the fleet's counts, or the narrowed devices'. */
async function statusCounts(context: Context): Promise<Record<(typeof DEVICE_STATUSES)[number], number>> {
  if (!context.narrowing) return (await fleetCounts(context.tx)).devices;
  const counts = await Promise.all(
    DEVICE_STATUSES.map(async (status) => {
      const selector = { ...context.narrowing, status: [status] };
      const { total } = await listDevices(context.tx, {
        selector,
        limit: 0,
        offset: 0,
        sort: 'device_id',
        order: 'asc',
      });
      return [status, total] as const;
    }),
  );
  return Object.fromEntries(counts) as Record<(typeof DEVICE_STATUSES)[number], number>;
}

/** A single stat's or gauge's value. */
async function valueWidget(
  context: Context,
  options: Extract<Widget, { type: 'stat' | 'gauge' }>['options'],
): Promise<WidgetData> {
  const { metric } = options;
  if (metric.startsWith('fleet:')) {
    const what = metric.slice('fleet:'.length);
    if (what === 'open_alerts') return { resolution: null, value: (await fleetCounts(context.tx)).alerts.OPEN };
    const counts = await statusCounts(context);
    const total = DEVICE_STATUSES.reduce((sum, status) => sum + counts[status], 0);
    const value =
      what === 'devices'
        ? total
        : what === 'online_pct'
          ? total === 0
            ? null
            : Math.round((counts.ONLINE / total) * 1000) / 10
          : counts[what as (typeof DEVICE_STATUSES)[number]];
    return { resolution: null, value };
  }
  const device = options.device === undefined ? undefined : deviceOf(options.device, context);
  const { plan, points } = await seriesOf(context, metric, device);
  return { resolution: plan.resolution, bucket_seconds: plan.bucketSeconds, value: reduceSeries(points, options.stat) };
}

type Reader<T extends Widget['type']> = (
  context: Context,
  options: Extract<Widget, { type: T }>['options'],
) => Promise<WidgetData>;

const READERS: { [T in Widget['type']]: Reader<T> } = {
  async timeseries(context, options) {
    if (options.group_by) {
      const { scope, minBucketSeconds } = await fleetScope(context, options.group_by);
      // A line per group, up to a hundred drawn over each other: half the points of one line each.
      const plan = planOf(context, { minBucketSeconds, pointBudget: context.pointBudget / 2 });
      const series = [];
      for (const metric of options.metrics) {
        const points = await telemetrySeries(context.tx, { metric, ...scope, plan });
        checkGroups(points);
        for (const [group, groupPoints] of groupBy(points, (point) => point.group ?? ''))
          series.push({ label: `${group} ${metric}`, metric, points: pointsOf(groupPoints, options.stats) });
      }
      return { resolution: plan.resolution, bucket_seconds: plan.bucketSeconds, series };
    }
    const devices = options.devices.map((ref) => deviceOf(ref, context));
    const series = [];
    let plan: Plan | undefined;
    for (const device of devices.length === 0 ? [undefined] : devices)
      for (const metric of options.metrics) {
        const read = await seriesOf(context, metric, device);
        plan = read.plan;
        series.push({ label: `${device ?? 'fleet'} ${metric}`, metric, points: pointsOf(read.points, options.stats) });
      }
    return { resolution: plan!.resolution, bucket_seconds: plan!.bucketSeconds, series };
  },
  stat: valueWidget,
  gauge: valueWidget,
  async bar(context, options) {
    if (options.group_by === 'alerts_per_hour') {
      const narrowed = context.narrowing && (await selectDevices(context.tx, context.narrowing));
      const earliest = context.window.end.getTime() - ALERT_TREND_DAYS * 86_400_000;
      const start = new Date(Math.max(context.window.start.getTime(), earliest));
      return { resolution: null, trend: await alertTrend(context.tx, { start, end: context.window.end }, narrowed) };
    }
    if (options.group_by === 'status') {
      const counts = await statusCounts(context);
      return { resolution: null, bars: DEVICE_STATUSES.map((status) => ({ label: status, value: counts[status] })) };
    }
    const { scope, minBucketSeconds } = await fleetScope(context, options.group_by);
    const plan = planOf(context, { minBucketSeconds });
    const stats = await groupedSummary(context.tx, plan, { ...scope, metric: options.metric });
    checkGroups(stats);
    const stat = options.stat ?? 'avg';
    return {
      resolution: plan.resolution,
      bucket_seconds: plan.bucketSeconds,
      bars: stats.map((row) => ({ label: row.group, value: row[stat] })),
    };
  },
  async table(context, options) {
    const { devices, total } = await listDevices(context.tx, {
      selector: context.narrowing ?? {},
      limit: options.limit,
      offset: 0,
      sort: options.sort,
      order: options.sort === 'last_seen_at' ? 'desc' : 'asc',
    });
    const rows = devices.map((device) =>
      Object.fromEntries(
        options.columns.map((column) => [
          column,
          column.startsWith('metric:')
            ? (device.state[column.slice('metric:'.length)] ?? null)
            : device[column as 'device_id' | 'site_id' | 'status' | 'last_seen_at' | 'tags'],
        ]),
      ),
    );
    return { resolution: null, rows, total };
  },
  async alerts(context, options) {
    const status = options.status === 'ALL' ? undefined : options.status;
    const narrowed = context.narrowing && new Set(await selectDevices(context.tx, context.narrowing));
    // Severity and the variables are applied to the newest 500: a list of more is not read on a dashboard.
    const alerts = await listAlerts(context.tx, { status, alertType: options.alert_type, limit: 500, offset: 0 });
    return {
      resolution: null,
      alerts: alerts
        .filter((alert) => alert.severity >= options.min_severity && (!narrowed || narrowed.has(alert.device_id)))
        .slice(0, options.limit),
    };
  },
  async states(context, options) {
    const device = deviceOf(options.device, context);
    // States are read from raw rows: at most their window's last days.
    const earliest = new Date(context.window.end.getTime() - MAX_WINDOW_DAYS * 86_400_000);
    const window = {
      start: context.window.start < earliest ? earliest : context.window.start,
      end: context.window.end,
    };
    const { segments } = await metricStates(context.tx, device, options.metric, window, 10_000);
    return { resolution: 'raw', segments };
  },
  async map(context, options) {
    const narrowed = context.narrowing && new Set(await selectDevices(context.tx, context.narrowing));
    const positions = (await fleetPositions(context.tx, options.metric))
      .filter((position) => !narrowed || narrowed.has(position.device_id))
      .map(({ device_id, site_id, status, lat, lon, at }) => ({ device_id, site_id, status, lat, lon, at }));
    return { resolution: null, positions };
  },
  text: async () => ({ resolution: null }),
};

/** Opens a transaction of the tenant: each widget is read in one of its own. */
export type TenantReads = <T>(fn: (tx: TenantTx) => Promise<T>) => Promise<T>;

/**
 * Widgets one data call reads at once, each on a connection of its own: independent reads overlap, and a
 * dashboard leaves most of the pool to other requests.
 */
const WIDGETS_READ_AT_ONCE = 3;

/** Every widget's data for the dashboard's range (or the request's) and the chosen variables. */
export async function dashboardData(
  inTenant: TenantReads,
  dashboard: DashboardDocument,
  request: { time?: { from: string; to: string } | undefined; variables?: DashboardVariables | undefined },
  retention: Retention,
  now = new Date(),
): Promise<Static<typeof DashboardData>> {
  const window = resolveRange(request.time ?? dashboard.time, now, '/time');
  // Only the variables the dashboard declares: one left in a URL after it was taken away narrows nothing.
  const variables = Object.fromEntries(
    Object.entries(request.variables ?? {}).filter(([name]) => (dashboard.variables as string[]).includes(name)),
  ) as DashboardVariables;
  const narrowing: DeviceSelector | undefined =
    variables.site || variables.tag
      ? {
          ...(variables.site && { site_ids: [variables.site] }),
          ...(variables.tag && { tags_any: [variables.tag] }),
        }
      : undefined;
  const reads = new Semaphore(WIDGETS_READ_AT_ONCE);
  // The dearest reads start first, so that none of them starts last (the answer keeps the widgets' order).
  const dearestFirst = [...dashboard.widgets].sort((a, b) => readCost(b, narrowing) - readCost(a, narrowing));
  const answered = await Promise.all(
    dearestFirst.map((widget) =>
      reads.run(async (): Promise<[string, WidgetData]> => {
        try {
          const data = await inTenant((tx) =>
            (READERS[widget.type] as Reader<typeof widget.type>)(
              { tx, window, retention, now, variables, narrowing, pointBudget: widget.layout.w * POINTS_PER_COLUMN },
              widget.options as never,
            ),
          );
          return [widget.id, data];
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          return [widget.id, { resolution: null, error: error.message }];
        }
      }),
    ),
  );
  const answers = new Map(answered);
  return {
    start: window.start,
    end: window.end,
    widgets: Object.fromEntries(dashboard.widgets.map((widget) => [widget.id, answers.get(widget.id)!])),
  };
}

/**
 * How dear a widget's read is, roughly: 3 for a window of many devices' own rollups (by tag, or any fleet
 * read narrowed by a tag), 2 for fleet-wide series, groups and the map, 1 for counts, lists and one device,
 * 0 for a note.
 */
function readCost(widget: Widget, narrowing: DeviceSelector | undefined): number {
  if (widget.type === 'text') return 0;
  const options = widget.options as { group_by?: string; devices?: string[]; device?: string; metric?: string };
  const fleetWide =
    (widget.type === 'timeseries' && (options.devices?.length ?? 0) === 0) ||
    ((widget.type === 'stat' || widget.type === 'gauge') &&
      options.device === undefined &&
      !options.metric?.startsWith('fleet:')) ||
    (widget.type === 'bar' && (options.group_by === 'site' || options.group_by === 'tag'));
  if (fleetWide && (options.group_by === 'tag' || narrowing?.tags_any)) return 3;
  return fleetWide || widget.type === 'map' ? 2 : 1;
}
