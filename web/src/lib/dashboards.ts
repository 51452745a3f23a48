// Dashboards (issue 32) as the pages use them: the document's types (generated from the API), the range and
// variables a view keeps in its URL, and a starting point for each widget type.
import type { QueryClient } from '@tanstack/react-query';
import type { Answer } from './types';
import { valuesOf } from './url-params';

export type DashboardView = Answer<'/customer/dashboards/{dashboard_id}'>;
export type DashboardDocument = DashboardView['definition'];
export type Widget = DashboardDocument['widgets'][number];
export type WidgetType = Widget['type'];
export type DashboardData = Answer<'/customer/dashboards/{dashboard_id}/data', 'post'>;
export type WidgetData = DashboardData['widgets'][string];
export type Choices = DashboardView['choices'];
export interface Variables {
  site?: string;
  tag?: string;
  device?: string;
}

/** What a dashboard view keeps in its URL ('' when absent). */
export const VIEW_PARAMS = { from: '', to: '', site: '', tag: '', device: '', refresh: '', live: '' };
export type ViewParams = typeof VIEW_PARAMS;
export type TimeRange = { from: string; to: string };

/** The variables' values the URL holds. */
export const variablesOf = (params: Pick<ViewParams, 'site' | 'tag' | 'device'>): Variables => ({
  ...(params.site && { site: params.site }),
  ...(params.tag && { tag: params.tag }),
  ...(params.device && { device: params.device }),
});

/**
 * The range a data call asks for: the URL's; null when it names none — the server reads the dashboard's
 * own, so the call need not wait for the definition; undefined (wait) when it names one end only and the
 * definition, which gives the other, is not there yet.
 */
export function requestedRange(params: Pick<ViewParams, 'from' | 'to'>, own: TimeRange | undefined) {
  if (!params.from && !params.to) return null;
  if (params.from && params.to) return { from: params.from, to: params.to };
  return own && { from: params.from || own.from, to: params.to || own.to };
}

/** A dashboard's data call: the range (none: the dashboard's own) and the variables' values. */
export type DataFetch = (body: { time?: TimeRange; variables: Variables }) => Promise<DashboardData>;

/** The one query of every widget's data: `key` names the dashboard (and a draft being edited). */
export function dashboardDataQuery(key: unknown[], time: TimeRange | null, variables: Variables, fetchData: DataFetch) {
  return {
    queryKey: ['dashboard-data', ...key, time, variables],
    queryFn: () => fetchData({ ...(time && { time }), variables }),
  };
}

/** Starts reading a dashboard's data as it opens, when its URL alone says what to ask for. */
export function prefetchDashboardData(
  client: QueryClient,
  key: unknown[],
  search: URLSearchParams,
  fetchData: DataFetch,
): void {
  const params = valuesOf(search, VIEW_PARAMS);
  const time = requestedRange(params, undefined);
  if (time !== undefined) void client.prefetchQuery(dashboardDataQuery(key, time, variablesOf(params), fetchData));
}

/** Ranges offered in the picker, relative to now. */
export const RELATIVE_RANGES = [
  ['now-1h', 'Last hour'],
  ['now-6h', 'Last 6 hours'],
  ['now-24h', 'Last 24 hours'],
  ['now-7d', 'Last 7 days'],
  ['now-30d', 'Last 30 days'],
] as const;

export const RESOLUTION_TEXT: Record<string, string> = { raw: 'raw', '1m': '1-minute', '1h': '1-hour' };

/** A datetime-local input's value (local time) as an ISO instant, and back. */
export const localToIso = (local: string) => new Date(local).toISOString();
export const isoToLocal = (iso: string) => {
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

/** The options a new widget of each type starts with, which its editor then changes. */
export const WIDGET_TEMPLATES: Record<
  WidgetType,
  { title: string; options: Record<string, unknown>; w: number; h: number }
> = {
  timeseries: { title: 'Time series', options: { metrics: ['temp_c'], devices: [], stats: ['avg'] }, w: 6, h: 4 },
  stat: {
    title: 'Single stat',
    options: { metric: 'temp_c', stat: 'avg', thresholds: [{ value: 30, color: '#dc2626' }] },
    w: 3,
    h: 2,
  },
  gauge: { title: 'Gauge', options: { metric: 'battery_pct', stat: 'avg', min: 0, max: 100 }, w: 3, h: 4 },
  bar: { title: 'Bar by group', options: { group_by: 'status' }, w: 4, h: 4 },
  table: {
    title: 'Devices',
    options: { columns: ['device_id', 'site_id', 'status', 'last_seen_at'], sort: 'last_seen_at', limit: 10 },
    w: 6,
    h: 5,
  },
  alerts: { title: 'Alerts', options: { status: 'OPEN', min_severity: 1, limit: 10 }, w: 6, h: 5 },
  states: { title: 'State timeline', options: { device: '$device', metric: 'door' }, w: 6, h: 3 },
  map: { title: 'Map', options: { metric: 'position' }, w: 6, h: 6 },
  text: { title: 'Note', options: { markdown: '## Note\nWrite **Markdown** here.' }, w: 4, h: 3 },
};

export const WIDGET_TYPE_NAMES: Record<WidgetType, string> = {
  timeseries: 'Time series',
  stat: 'Single stat',
  gauge: 'Gauge',
  bar: 'Bar by group',
  table: 'Device table',
  alerts: 'Alert list',
  states: 'State timeline',
  map: 'Map',
  text: 'Text (Markdown)',
};

/** The first free widget id of the form w1, w2, … */
export function newWidgetId(widgets: Widget[]): string {
  const taken = new Set(widgets.map((widget) => widget.id));
  let n = widgets.length + 1;
  while (taken.has(`w${n}`)) n += 1;
  return `w${n}`;
}

/** The colour a value takes from its thresholds: the highest threshold it reaches. */
export function thresholdColor(value: number | null | undefined, thresholds: { value: number; color: string }[]) {
  if (value === null || value === undefined) return undefined;
  return [...thresholds]
    .sort((a, b) => a.value - b.value)
    .filter((t) => value >= t.value)
    .at(-1)?.color;
}
