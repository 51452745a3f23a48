// What each widget type draws from its share of a dashboard's data (POST …/data): charts on ECharts, the
// state band and the fleet map of the device pages, tables and lists, and Markdown with its HTML escaped.
// Options the server fills in by default may be missing from a widget being edited: drawn with the same.
import MarkdownIt from 'markdown-it';
import { lazy, Suspense, useMemo } from 'react';
import { Link } from 'react-router';
import { formatValue, timeAgo } from '../../lib/format';
import { thresholdColor, type Widget, type WidgetData } from '../../lib/dashboards';
import { stateText, valueColors } from '../../lib/states';
import { Chart, trendOption } from '../charts';
import { StateBand } from '../state-timeline';
import { DeviceLink, Empty, SeverityBadge, Skeleton, StatusBadge } from '../ui';

const loadMap = () => import('../map');
const FleetMap = lazy(() => loadMap().then((module) => ({ default: module.FleetMap })));

/** Starts loading the code a dashboard's widgets draw with later (the map's) while their data is read. */
export function preloadWidgetCode(widgets: Widget[]): void {
  if (widgets.some((widget) => widget.type === 'map')) void loadMap();
}

// html: false escapes any HTML in a note; links only of safe schemes (markdown-it's validateLink).
const markdown = new MarkdownIt({ html: false, linkify: true });

type Of<T extends Widget['type']> = Extract<Widget, { type: T }>['options'];
type Series = NonNullable<WidgetData['series']>[number];

function TimeseriesWidget({ series, stats }: { series: Series[]; stats: Of<'timeseries'>['stats'] }) {
  const option = useMemo(
    () => ({
      tooltip: { trigger: 'axis' },
      legend: { top: 0, type: 'scroll' },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: 'time', axisLabel: { hideOverlap: true } },
      yAxis: { type: 'value', scale: true },
      series: series.flatMap((line) =>
        stats.map((stat) => ({
          name: stats.length > 1 ? `${line.label} ${stat}` : line.label,
          type: 'line',
          showSymbol: false,
          // No sampling: the server sends a point per two pixels or fewer (its point budget); downsampling
          // them again took a tenth of a month's dashboard's drawing.
          data: line.points.map((point) => [point.time, point[stat]]),
        })),
      ),
    }),
    [series, stats],
  );
  if (series.every((line) => line.points.length === 0)) return <Empty>No readings in this range.</Empty>;
  return <Chart option={option} height="100%" />;
}

function StatWidget({ value, options }: { value: number | null; options: Of<'stat'> }) {
  const color = thresholdColor(value, options.thresholds ?? []);
  return (
    <div className="grid h-full place-items-center">
      <span className="text-3xl font-semibold tabular-nums" style={{ color }} data-testid="stat-value">
        {value === null ? '—' : Number(value.toFixed(2))}
        {options.unit && <span className="ml-1 text-base text-slate-500">{options.unit}</span>}
      </span>
    </div>
  );
}

function GaugeWidget({ value, options }: { value: number | null; options: Of<'gauge'> }) {
  const option = useMemo(() => {
    const { min = 0, max = 100 } = options;
    const span = max - min || 1;
    const sorted = [...(options.thresholds ?? [])].sort((a, b) => a.value - b.value);
    // The arc coloured from each threshold up; indigo below the first.
    const colors: [number, string][] = sorted.length
      ? [
          ...sorted.map(
            (t, i) => [(t.value - min) / span, i === 0 ? '#6366f1' : sorted[i - 1]!.color] as [number, string],
          ),
          [1, sorted.at(-1)!.color],
        ]
      : [[1, '#6366f1']];
    return {
      series: [
        {
          type: 'gauge',
          min,
          max,
          axisLine: { lineStyle: { width: 10, color: colors } },
          splitNumber: 4,
          pointer: { width: 4 },
          detail: {
            fontSize: 15,
            offsetCenter: [0, '60%'],
            formatter: () => (value === null ? '—' : `${Number(value.toFixed(2))} ${options.unit ?? ''}`),
          },
          data: [{ value: value ?? min }],
        },
      ],
    };
  }, [value, options]);
  return <Chart option={option} height="100%" />;
}

function BarWidget({ bars }: { bars: { label: string; value: number }[] }) {
  const option = useMemo(
    () => ({
      tooltip: { trigger: 'axis' },
      grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
      xAxis: { type: 'category', data: bars.map((bar) => bar.label), axisLabel: { hideOverlap: true } },
      yAxis: { type: 'value' },
      series: [{ type: 'bar', data: bars.map((bar) => bar.value), color: '#6366f1' }],
    }),
    [bars],
  );
  if (bars.length === 0) return <Empty>Nothing to count in this range.</Empty>;
  return <Chart option={option} height="100%" />;
}

function TrendWidget({ points }: { points: NonNullable<WidgetData['trend']> }) {
  const option = useMemo(() => trendOption(points), [points]);
  return <Chart option={option} height="100%" />;
}

const COLUMN_NAMES: Record<string, string> = {
  device_id: 'Device',
  site_id: 'Site',
  status: 'Status',
  last_seen_at: 'Last seen',
  tags: 'Tags',
};

function cellOf(column: string, value: unknown, linkDevices: boolean) {
  if (column === 'device_id')
    return linkDevices ? <DeviceLink deviceId={String(value)} /> : <span>{String(value)}</span>;
  if (column === 'status') return <StatusBadge status={String(value)} />;
  if (column === 'last_seen_at') return timeAgo(value as string | null);
  if (column === 'tags') return (value as string[]).join(', ');
  if (column.startsWith('metric:')) {
    const metric = column.slice('metric:'.length);
    return typeof value === 'number' || typeof value === 'boolean'
      ? formatValue(value, metric)
      : stateText(value ?? '—');
  }
  return String(value ?? '');
}

function TableWidget({
  rows,
  columns,
  linkDevices,
}: {
  rows: Record<string, unknown>[];
  columns: string[];
  linkDevices: boolean;
}) {
  if (rows.length === 0) return <Empty>No devices.</Empty>;
  return (
    <table className="w-full text-left text-sm">
      <thead>
        <tr className="text-xs text-slate-500">
          {columns.map((column) => (
            <th key={column} className="px-1 py-1 font-medium">
              {COLUMN_NAMES[column] ?? column.slice('metric:'.length)}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, i) => (
          <tr key={i} className="border-t border-slate-100 dark:border-slate-800">
            {columns.map((column) => (
              <td key={column} className="px-1 py-1 tabular-nums">
                {cellOf(column, row[column], linkDevices)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function AlertsWidget({ alerts, linkAlerts }: { alerts: NonNullable<WidgetData['alerts']>; linkAlerts: boolean }) {
  if (alerts.length === 0) return <Empty>No alerts match.</Empty>;
  return (
    <ul className="space-y-1 text-sm">
      {alerts.map((alert) => (
        <li key={alert.alert_id} className="flex items-center gap-2" data-testid="widget-alert">
          <SeverityBadge severity={alert.severity} />
          {linkAlerts ? (
            <Link className="truncate font-medium hover:underline" to={`/alerts/${alert.alert_id}`}>
              {alert.title}
            </Link>
          ) : (
            <span className="truncate font-medium">{alert.title}</span>
          )}
          <span className="truncate text-slate-500">{alert.device_id}</span>
          <span className="ml-auto text-xs whitespace-nowrap text-slate-500">{timeAgo(alert.created_at)}</span>
        </li>
      ))}
    </ul>
  );
}

function StatesWidget({
  segments,
  metric,
  start,
  end,
}: {
  segments: NonNullable<WidgetData['segments']>;
  metric: string;
  start: string;
  end: string;
}) {
  const colors = useMemo(() => valueColors(segments.map((segment) => stateText(segment.value))), [segments]);
  if (segments.length === 0) return <Empty>No readings in this range.</Empty>;
  const band = segments.map((segment) => ({ ...segment, from: String(segment.from), to: String(segment.to) }));
  return <StateBand metric={metric} colors={colors} segments={band} start={start} end={end} truncated={false} />;
}

/**
 * One widget's body from its data. `shared`: on a share link, where nothing leads elsewhere in the app
 * (device and alert pages need a login).
 */
export function WidgetBody({
  widget,
  data,
  range,
  shared,
}: {
  widget: Widget;
  data: WidgetData | undefined;
  range: { start: string; end: string } | undefined;
  shared: boolean;
}) {
  if (widget.type === 'text')
    return (
      <div
        className="prose prose-sm dark:prose-invert max-w-none text-sm [&_a]:text-indigo-600 [&_h1]:text-lg [&_h1]:font-semibold [&_h2]:font-semibold"
        data-testid="markdown"
        // markdown-it with html: false escapes every tag the note holds.
        dangerouslySetInnerHTML={{ __html: markdown.render(widget.options.markdown) }}
      />
    );
  if (!data || !range) return <Skeleton rows={2} />;
  if (data.error) return <p className="text-sm text-amber-700 dark:text-amber-300">{data.error}</p>;
  switch (widget.type) {
    case 'timeseries':
      return <TimeseriesWidget series={data.series ?? []} stats={widget.options.stats ?? ['avg']} />;
    case 'stat':
      return <StatWidget value={data.value ?? null} options={widget.options} />;
    case 'gauge':
      return <GaugeWidget value={data.value ?? null} options={widget.options} />;
    case 'bar':
      return data.trend ? <TrendWidget points={data.trend} /> : <BarWidget bars={data.bars ?? []} />;
    case 'table':
      return (
        <TableWidget rows={data.rows ?? []} columns={widget.options.columns ?? ['device_id']} linkDevices={!shared} />
      );
    case 'alerts':
      return <AlertsWidget alerts={data.alerts ?? []} linkAlerts={!shared} />;
    case 'states':
      return (
        <StatesWidget
          segments={data.segments ?? []}
          metric={widget.options.metric}
          start={range.start}
          end={range.end}
        />
      );
    case 'map':
      return (
        <Suspense fallback={<Skeleton rows={3} />}>
          <FleetMap devices={data.positions ?? []} />
        </Suspense>
      );
  }
}
