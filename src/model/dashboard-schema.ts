// The dashboard document (issue 32): what a dashboard is, as stored, exported and imported — version 1 of
// the schema docs/dashboards.md describes. Pure: TypeBox schemas (which the API documents) and the check
// that turns any JSON into a document or a 422 naming the first wrong path.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { AppError } from '../errors.js';
import { OneOf } from '../lib/schema.js';

export const DASHBOARD_SCHEMA_VERSION = 1;
export const MAX_WIDGETS = 30;
export const GRID_COLUMNS = 12;

const MetricName = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$', description: 'a metric' });
const DeviceRef = Type.String({
  minLength: 1,
  maxLength: 200,
  description: 'a device id, or $device: the value of the device variable',
});
const StatName = Type.Union([Type.Literal('avg'), Type.Literal('min'), Type.Literal('max')]);
const Colour = Type.String({ pattern: '^#[0-9a-fA-F]{6}$', description: 'a colour as #rrggbb' });
const Threshold = Type.Object(
  { value: Type.Number(), color: Colour },
  { additionalProperties: false, description: 'from this value up, the value is drawn in this colour' },
);

/** A bar chart of alerts per hour covers this many days of its range at most (168 bars). */
export const ALERT_TREND_DAYS = 7;

/** What a single stat or gauge shows: a metric's statistic over the window, or a count of the fleet's. */
export const FLEET_VALUES = [
  'fleet:devices',
  'fleet:ONLINE',
  'fleet:STALE',
  'fleet:OFFLINE',
  'fleet:REVOKED',
  'fleet:online_pct',
  'fleet:open_alerts',
] as const;
export type FleetValue = (typeof FLEET_VALUES)[number];
const ValueOptions = {
  metric: Type.Union([MetricName, ...FLEET_VALUES.map((value) => Type.Literal(value))], {
    description: `a metric, or one of the fleet's counts (${FLEET_VALUES.join(', ')})`,
  }),
  device: Type.Optional(DeviceRef),
  stat: Type.Union([StatName, Type.Literal('last')], {
    default: 'avg',
    description: 'over the window; last: the latest value (of the device, or the fleet average)',
  }),
  unit: Type.Optional(Type.String({ maxLength: 20 })),
  thresholds: Type.Array(Threshold, { maxItems: 10, default: [] }),
};

const Options = <T extends Record<string, TSchema>>(properties: T) =>
  Type.Object(properties, { additionalProperties: false });

export const WIDGET_OPTIONS = {
  timeseries: Options({
    metrics: Type.Array(MetricName, { minItems: 1, maxItems: 5 }),
    devices: Type.Array(DeviceRef, {
      maxItems: 10,
      default: [],
      description: 'one line per device and metric; none: the fleet (narrowed by the site and tag variables)',
    }),
    group_by: Type.Optional(
      Type.Union([Type.Literal('site'), Type.Literal('tag')], { description: 'the fleet: one line per site or tag' }),
    ),
    stats: Type.Array(StatName, { minItems: 1, maxItems: 3, default: ['avg'] }),
  }),
  stat: Options(ValueOptions),
  gauge: Options({ ...ValueOptions, min: Type.Number({ default: 0 }), max: Type.Number({ default: 100 }) }),
  bar: Options({
    metric: Type.Optional(MetricName),
    group_by: Type.Union(
      [Type.Literal('status'), Type.Literal('site'), Type.Literal('tag'), Type.Literal('alerts_per_hour')],
      {
        description:
          'status: devices per status (no metric); site, tag: the metric per group; alerts_per_hour: alerts ' +
          `opened and closed per hour (no metric; the range's last ${ALERT_TREND_DAYS} days at most)`,
      },
    ),
    stat: Type.Optional(StatName),
  }),
  table: Options({
    columns: Type.Array(
      Type.String({
        pattern: '^(device_id|site_id|status|last_seen_at|tags|metric:[A-Za-z_][A-Za-z0-9_.-]{0,127})$',
        description: 'device_id, site_id, status, last_seen_at, tags, or metric:<name> (its latest value)',
      }),
      { minItems: 1, maxItems: 12, default: ['device_id', 'status', 'last_seen_at'] },
    ),
    sort: Type.Union(
      [Type.Literal('last_seen_at'), Type.Literal('device_id'), Type.Literal('site_id'), Type.Literal('status')],
      { default: 'last_seen_at' },
    ),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  }),
  alerts: Options({
    status: Type.Union(
      [Type.Literal('OPEN'), Type.Literal('ACKNOWLEDGED'), Type.Literal('CLOSED'), Type.Literal('ALL')],
      { default: 'OPEN' },
    ),
    alert_type: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
    min_severity: Type.Integer({ minimum: 1, maximum: 5, default: 1 }),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  }),
  states: Options({ device: DeviceRef, metric: MetricName }),
  map: Options({ metric: Type.String({ ...MetricName, default: 'position' }) }),
  text: Options({ markdown: Type.String({ maxLength: 10_000, description: 'Markdown; HTML in it is shown as text' }) }),
};
export type WidgetType = keyof typeof WIDGET_OPTIONS;
export const WIDGET_TYPES = Object.keys(WIDGET_OPTIONS) as WidgetType[];

const Layout = Type.Object(
  {
    x: Type.Integer({ minimum: 0, maximum: GRID_COLUMNS - 1 }),
    y: Type.Integer({ minimum: 0, maximum: 10_000 }),
    w: Type.Integer({ minimum: 1, maximum: GRID_COLUMNS }),
    h: Type.Integer({ minimum: 1, maximum: 50 }),
  },
  { additionalProperties: false, description: `the place on a ${GRID_COLUMNS}-column grid, in cells` },
);
const widgetFields = {
  id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,40}$', description: 'unique within the dashboard' }),
  title: Type.String({ maxLength: 100, default: '' }),
  layout: Layout,
};
/**
 * A schema as JSON with its defaults told in its descriptions: ajv (strict) refuses defaults inside a union,
 * where the widgets' are; checkDashboard fills them in.
 */
function defaultsAsText(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(defaultsAsText);
  if (typeof schema !== 'object' || schema === null) return schema;
  const { default: fallback, ...rest } = schema as Record<string, unknown>;
  const copy = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, defaultsAsText(value)]));
  if (fallback === undefined) return copy;
  const said = `default: ${JSON.stringify(fallback)}`;
  return { ...copy, description: copy.description ? `${String(copy.description)}; ${said}` : said };
}
/** One widget of each type, as the API documents them. */
const Widget = Type.Unsafe(
  defaultsAsText(
    Type.Union(
      WIDGET_TYPES.map((type) =>
        Type.Object(
          { ...widgetFields, type: Type.Literal(type), options: WIDGET_OPTIONS[type] },
          { additionalProperties: false },
        ),
      ),
    ),
  ) as object,
);
/** A widget before its options are checked against its type's (the check's first step). */
const AnyWidget = Type.Object(
  {
    ...widgetFields,
    type: Type.Unsafe<WidgetType>(OneOf(WIDGET_TYPES, { description: WIDGET_TYPES.join(', ') })),
    options: Type.Object({}),
  },
  { additionalProperties: false },
);

const RangeEnd = Type.String({
  pattern: '^(now(-[0-9]{1,4}[mhd])?|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2}))$',
  description: 'now, now-<n>m|h|d (relative) or an ISO-8601 instant with its offset',
});
export const TimeRange = Type.Object(
  { from: RangeEnd, to: RangeEnd },
  { additionalProperties: false, description: 'e.g. from now-24h to now' },
);
const documentFields = <W extends TSchema>(widget: W) => ({
  version: Type.Literal(DASHBOARD_SCHEMA_VERSION, { description: 'the schema version: 1' }),
  name: Type.String({ minLength: 1, maxLength: 100 }),
  description: Type.String({ maxLength: 1000, default: '' }),
  time: Type.Object(
    { from: RangeEnd, to: RangeEnd },
    { additionalProperties: false, default: { from: 'now-24h', to: 'now' } },
  ),
  refresh_seconds: Type.Integer({ minimum: 0, maximum: 3600, default: 60, description: 'auto-refresh; 0: off' }),
  variables: Type.Array(
    Type.Union([Type.Literal('site'), Type.Literal('tag'), Type.Literal('device')], {
      description: 'site and tag narrow fleet-wide widgets; device fills $device',
    }),
    { maxItems: 3, uniqueItems: true, default: [] },
  ),
  widgets: Type.Array(widget, { maxItems: MAX_WIDGETS, default: [] }),
});
const Envelope = Type.Object(documentFields(AnyWidget), { additionalProperties: false });
export type WidgetOptions = { [T in WidgetType]: Static<(typeof WIDGET_OPTIONS)[T]> };
export type Widget = {
  [T in WidgetType]: Omit<Static<typeof AnyWidget>, 'type' | 'options'> & { type: T; options: WidgetOptions[T] };
}[WidgetType];
export type DashboardDocument = Omit<Static<typeof Envelope>, 'widgets'> & { widgets: Widget[] };
/** A dashboard as stored, exported and imported (version 1). */
export const DashboardDocument = Type.Unsafe<DashboardDocument>(
  Type.Object(documentFields(Widget), {
    additionalProperties: false,
    description: 'a dashboard, schema version 1 (docs/dashboards.md)',
  }),
);
/** A 422 in FastAPI's shape (the body's detail: [{loc, msg, type}]) whose message names the path. */
function refuse(path: string, message: string): never {
  const msg = `Invalid dashboard at ${path || '/'}: ${message}`;
  throw new AppError('VALIDATION_FAILED', msg, {
    detail: [{ loc: ['body', ...path.split('/').filter(Boolean)], msg, type: 'value_error' }],
  });
}

/** The first error of `value` against `schema` (paths under `prefix`), refused; defaults filled in first. */
function conform<T extends TSchema>(schema: T, value: unknown, prefix = ''): Static<T> {
  const filled = Value.Default(schema, Value.Clone(value));
  const error = Value.Errors(schema, filled).First();
  // The schema's description says what is expected where TypeBox only says "Expected union value".
  if (error)
    refuse(
      `${prefix}${error.path}`,
      `${error.message}${error.schema.description ? ` (${error.schema.description})` : ''}`,
    );
  return filled as Static<T>;
}

/** Where a widget reads a device: `$device` is the variable's value, which must then be declared. */
const deviceRefs = (widget: Widget): string[] => {
  const options = widget.options as { device?: string; devices?: string[] };
  return [...(options.devices ?? []), ...(options.device === undefined ? [] : [options.device])];
};

/**
 * Any JSON as a dashboard document with its defaults, or a 422 whose message names the first wrong path
 * (`/widgets/2/options/metric`) and says what is wrong there.
 */
export function checkDashboard(input: unknown): DashboardDocument {
  if (typeof input === 'object' && input !== null && 'version' in input && input.version !== 1)
    refuse('/version', `schema version ${JSON.stringify(input.version)} is not one this Pulse reads (1)`);
  const envelope = conform(Envelope, input);
  const widgets = envelope.widgets.map(
    (widget, i) =>
      ({
        ...widget,
        options: conform(WIDGET_OPTIONS[widget.type], widget.options, `/widgets/${i}/options`),
      }) as Widget,
  );
  const seen = new Set<string>();
  widgets.forEach((widget, i) => {
    if (seen.has(widget.id)) refuse(`/widgets/${i}/id`, `another widget is called ${widget.id}`);
    seen.add(widget.id);
    if (widget.layout.x + widget.layout.w > GRID_COLUMNS)
      refuse(`/widgets/${i}/layout`, `x + w must be at most ${GRID_COLUMNS} (the grid's columns)`);
    if (deviceRefs(widget).includes('$device') && !envelope.variables.includes('device'))
      refuse(`/widgets/${i}/options`, 'uses $device, but the dashboard has no device variable');
    if (
      widget.type === 'bar' &&
      (widget.options.group_by === 'site' || widget.options.group_by === 'tag') &&
      widget.options.metric === undefined
    )
      refuse(`/widgets/${i}/options/metric`, `a bar by ${widget.options.group_by} needs a metric`);
    if (widget.type === 'timeseries' && widget.options.group_by && widget.options.devices.length > 0)
      refuse(`/widgets/${i}/options/group_by`, 'groups are of the fleet: leave devices empty to group');
  });
  resolveRange(envelope.time, new Date(), '/time');
  return { ...envelope, widgets };
}

const UNIT_MS = { m: 60_000, h: 3600_000, d: 86_400_000 } as const;
export const MAX_RANGE_DAYS = 731;

/** One end of a range as an instant: now, now minus an amount, or the instant written. */
function instantOf(text: string, now: Date): Date {
  const relative = /^now(?:-(\d+)([mhd]))?$/.exec(text);
  if (relative) return new Date(now.getTime() - (relative[1] ? Number(relative[1]) * UNIT_MS[relative[2] as 'm'] : 0));
  return new Date(text);
}

/** A dashboard's range as a window; refused (naming `path`) when it is empty, reversed or too long. */
export function resolveRange(range: { from: string; to: string }, now: Date, path = ''): { start: Date; end: Date } {
  const start = instantOf(range.from, now);
  const end = instantOf(range.to, now);
  if (Number.isNaN(start.getTime())) refuse(`${path}/from`, `${range.from} is not an instant`);
  if (Number.isNaN(end.getTime())) refuse(`${path}/to`, `${range.to} is not an instant`);
  if (start >= end) refuse(`${path}/from`, 'from must be before to');
  if (end.getTime() - start.getTime() > MAX_RANGE_DAYS * 86_400_000)
    refuse(`${path}/from`, `a range spans at most ${MAX_RANGE_DAYS} days`);
  return { start, end };
}

/** What a dashboard's live mode follows: the devices its widgets name, any device of the fleet, alerts. */
export interface LiveFollows {
  devices: Set<string>;
  /** A fleet-wide widget: telemetry of any of the tenant's devices may change it. */
  fleet: boolean;
  alerts: boolean;
}

/** What may change a dashboard's widgets, `$device` being `device` (none chosen: nothing of it). */
export function liveFollows(document: DashboardDocument, device: string | undefined): LiveFollows {
  const follows: LiveFollows = { devices: new Set(), fleet: false, alerts: false };
  for (const widget of document.widgets) {
    for (const ref of deviceRefs(widget)) {
      const id = ref === '$device' ? device : ref;
      if (id) follows.devices.add(id);
    }
    const fleetValue =
      (widget.type === 'stat' || widget.type === 'gauge') && widget.options.metric.startsWith('fleet:');
    if (
      widget.type === 'alerts' ||
      (fleetValue && widget.options.metric === 'fleet:open_alerts') ||
      (widget.type === 'bar' && widget.options.group_by === 'alerts_per_hour')
    )
      follows.alerts = true;
    else if (
      fleetValue ||
      ['bar', 'table', 'map'].includes(widget.type) ||
      (widget.type === 'timeseries' && widget.options.devices.length === 0) ||
      ((widget.type === 'stat' || widget.type === 'gauge') && widget.options.device === undefined)
    )
      follows.fleet = true;
  }
  return follows;
}
