// Charts, loaded only by the pages that show them, all on ECharts: gauges, pies, bars and time series (one
// library: uPlot, which drew the time series before, was measured against it in `npm run bench:charts`).
import { BarChart, GaugeChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useMemo, useRef } from 'react';
import { unitOf } from '../lib/format';

echarts.use([
  GaugeChart,
  PieChart,
  BarChart,
  LineChart,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  CanvasRenderer,
]);

const dark = () => document.documentElement.classList.contains('dark');

function useECharts(
  option: echarts.EChartsCoreOption,
  height: number | string,
  attributes: Record<string, string | number> = {},
) {
  const ref = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    chart.current = echarts.init(ref.current!, dark() ? 'dark' : undefined, { renderer: 'canvas' });
    // Drawn: what a test or a benchmark waits for.
    chart.current.on('finished', () => ref.current?.setAttribute('data-drawn', 'true'));
    // The box may change without the window (a dashboard's widget resized). The observer also reports the
    // size the chart was just made at: drawing it again at that size would only double the work.
    let size = `${ref.current!.clientWidth}x${ref.current!.clientHeight}`;
    const observer = new ResizeObserver(([entry]) => {
      const next = `${Math.round(entry!.contentRect.width)}x${Math.round(entry!.contentRect.height)}`;
      if (next !== size) chart.current?.resize();
      size = next;
    });
    observer.observe(ref.current!);
    return () => {
      observer.disconnect();
      chart.current?.dispose();
    };
  }, []);
  useEffect(() => {
    // The series given are those drawn: one left out (a group gone) leaves the chart.
    chart.current?.setOption(
      { backgroundColor: 'transparent', ...option },
      { notMerge: false, replaceMerge: ['series'] },
    );
  }, [option]);
  return <div ref={ref} style={{ height }} {...attributes} />;
}

/** Sensible zones from the metric's name: batteries low is bad, temperatures high is bad. */
function gaugeRange(metric: string, value: number): { min: number; max: number; colors: [number, string][] } {
  const green = '#10b981';
  const amber = '#f59e0b';
  const red = '#ef4444';
  if (metric.endsWith('_pct'))
    return {
      min: 0,
      max: 100,
      colors: [
        [0.2, red],
        [0.4, amber],
        [1, green],
      ],
    };
  if (metric.endsWith('_dbm'))
    return {
      min: -120,
      max: -30,
      colors: [
        [0.3, red],
        [0.55, amber],
        [1, green],
      ],
    };
  if (metric.endsWith('_c'))
    return {
      min: -20,
      max: 60,
      colors: [
        [0.3, '#38bdf8'],
        [0.65, green],
        [0.8, amber],
        [1, red],
      ],
    };
  const max = Math.max(1, Math.ceil(Math.abs(value) * 2));
  return { min: Math.min(0, -max), max, colors: [[1, '#6366f1']] };
}

export function Gauge({ metric, value }: { metric: string; value: number | undefined }) {
  const range = gaugeRange(metric, value ?? 0);
  return useECharts(
    {
      series: [
        {
          type: 'gauge',
          min: range.min,
          max: range.max,
          progress: { show: false },
          axisLine: { lineStyle: { width: 10, color: range.colors } },
          // The end labels would sit under the value: the arc's colours say where the ends are.
          axisLabel: {
            distance: 14,
            fontSize: 9,
            formatter: (v: number) => (v === range.min || v === range.max ? '' : String(Math.round(v))),
          },
          splitNumber: 4,
          splitLine: { length: 8 },
          pointer: { width: 4 },
          detail: {
            valueAnimation: false,
            fontSize: 15,
            offsetCenter: [0, '55%'],
            formatter: (v: number) => (value === undefined ? '—' : `${Number(v.toFixed(2))} ${unitOf(metric)}`),
          },
          title: { fontSize: 11, offsetCenter: [0, '85%'] },
          data: [{ value: value ?? range.min, name: metric }],
        },
      ],
    },
    170,
  );
}

export function Pie({ data }: { data: { name: string; value: number }[] }) {
  return useECharts(
    {
      tooltip: { trigger: 'item' },
      legend: { bottom: 0 },
      series: [{ type: 'pie', radius: ['45%', '70%'], data, label: { show: false }, animation: false }],
    },
    220,
  );
}

/** Alerts opened and closed per hour, as bars: the home page's and a dashboard's (alerts_per_hour). */
export const trendOption = (points: { hour: string; opened: number; closed: number }[]) => ({
  tooltip: { trigger: 'axis' },
  // The legend above the plot (below, it covered the axis on narrow screens); labels that would
  // overlap are left out.
  legend: { top: 0, type: 'scroll' },
  grid: { left: 8, right: 12, top: 32, bottom: 8, containLabel: true },
  xAxis: {
    type: 'category',
    axisLabel: { hideOverlap: true },
    // Beyond a day, the hours of several days: each says its day.
    data: points.map((p) =>
      points.length > 24
        ? new Date(p.hour).toLocaleString([], { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' })
        : new Date(p.hour).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
    ),
  },
  yAxis: { type: 'value', minInterval: 1 },
  series: [
    { name: 'opened', type: 'bar', data: points.map((p) => p.opened), color: '#f43f5e' },
    { name: 'closed', type: 'bar', data: points.map((p) => p.closed), color: '#10b981' },
  ],
});

export function TrendBars({ points }: { points: { hour: string; opened: number; closed: number }[] }) {
  return useECharts(trendOption(points), 220);
}

export function Lines({
  series,
  unit = '',
  attributes,
}: {
  series: { name: string; points: { time: string; value: number }[] }[];
  unit?: string;
  /** On the chart's element, e.g. a test id. */
  attributes?: Record<string, string | number>;
}) {
  return useECharts(
    {
      tooltip: { trigger: 'axis' },
      legend: { top: 0, type: 'scroll' },
      grid: { left: 8, right: 28, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: 'time', axisLabel: { hideOverlap: true } },
      yAxis: { type: 'value', name: unit },
      series: series.map((s) => ({
        name: s.name,
        type: 'line',
        showSymbol: false,
        data: s.points.map((p) => [p.time, p.value]),
      })),
    },
    220,
    attributes,
  );
}

/** A time series of one metric; the newest point is on the right. */
export function TimeSeries({ metric, points }: { metric: string; points: { t: number; v: number | null }[] }) {
  const unit = unitOf(metric);
  return useECharts(
    {
      color: ['#6366f1'],
      tooltip: {
        trigger: 'axis',
        valueFormatter: (value: unknown) => (value === null || value === undefined ? '—' : `${String(value)} ${unit}`),
      },
      // The card's title names the metric: no legend; room above the axis for its unit.
      grid: { left: 50, right: 16, top: 28, bottom: 24 },
      xAxis: { type: 'time', axisLabel: { hideOverlap: true } },
      yAxis: { type: 'value', scale: true, name: unit },
      series: [
        {
          name: metric,
          type: 'line',
          showSymbol: false,
          // Thousands of points are thinned to what the canvas can show, keeping peaks.
          sampling: 'lttb',
          connectNulls: false,
          data: points.map((p) => [p.t, p.v]),
        },
      ],
    },
    180,
    { 'data-testid': `chart-${metric}`, 'data-points': points.length },
  );
}

/**
 * Any ECharts option in a box of `height` (a dashboard widget's, which fills its cell), drawn at once: a
 * dashboard redraws its widgets on every refresh, where an entry animation only delays and costs.
 */
export function Chart({ option, height }: { option: echarts.EChartsCoreOption; height: number | string }) {
  const still = useMemo(() => ({ animation: false, ...option }), [option]);
  return useECharts(still, height, { 'data-chart': 'true' });
}
