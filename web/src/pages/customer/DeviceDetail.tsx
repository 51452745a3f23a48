import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useMemo, useState } from 'react';
import { useParams, useSearchParams } from 'react-router';
import { Gauge, TimeSeries } from '../../components/charts';
import { StateTimeline } from '../../components/state-timeline';
import { DownloadButton, Empty, Loaded, Page, SeverityBadge, Skeleton, StatusBadge } from '../../components/ui';
import { api, download, unwrap } from '../../lib/api';
import { timeAgo } from '../../lib/format';
import {
  latestValue,
  mergePoints,
  numericMetrics,
  readingsOf,
  withNewerPoints,
  type Point,
  type Reading,
} from '../../lib/fusion';
import { positionMetrics, withPositions } from '../../lib/geo';
import { textMetrics } from '../../lib/states';
import { subscribeDevice } from '../../lib/live';
import { useUrlParams } from '../../lib/url-params';
import type { Span } from '../../lib/types';
import { useAuth } from '../../lib/auth';
import { DeviceCommands } from './DeviceCommands';
import { DeviceConfiguration } from './DeviceConfig';
import { DeviceAdmin, DeviceFacts } from './DeviceManagement';

// Leaflet comes with the first device that has positions, not with every device page.
const TrackMap = lazy(() => import('../../components/map').then((map) => ({ default: map.TrackMap })));

/** The range a URL asks for: ?start=&end= (ISO times), else ?hours= one of RANGES, else the first. */
function rangeOf(params: URLSearchParams): { hours: number; custom: { start: string; end: string } | null } {
  const start = params.get('start');
  const end = params.get('end');
  const valid = (value: string | null) => value !== null && !Number.isNaN(Date.parse(value));
  const custom = valid(start) && valid(end) ? { start: start!, end: end! } : null;
  const asked = Number(params.get('hours'));
  const hours = RANGES.some(([, value]) => value === asked) ? asked : RANGES[0]![1];
  return { hours, custom };
}

const RANGES = [
  ['1 h', 1],
  ['6 h', 6],
  ['24 h', 24],
  ['7 d', 168],
  ['30 d', 720],
] as const;
const RESOLUTION_TEXT = { raw: 'raw messages', '1m': '1-minute rollups', '1h': '1-hour rollups' } as const;
/** Live points kept beside the chosen range's buckets (the buckets themselves are never dropped). */
const LIVE_POINTS = 500;

/** "15 min", "2 h", "30 s": a bucket's width. */
const width = (seconds: number) =>
  seconds % 3600 === 0 ? `${seconds / 3600} h` : seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;

const TABS = [
  ['telemetry', 'Telemetry'],
  ['commands', 'Commands'],
  ['configuration', 'Configuration'],
] as const;

/** The device's facts and, in tabs (?tab=, telemetry by default), its telemetry, commands and configuration. */
export default function DeviceDetail() {
  const deviceId = decodeURIComponent(useParams().deviceId!);
  const [url, setUrl] = useUrlParams({ tab: 'telemetry' });
  const tab = TABS.find(([key]) => key === url.tab)?.[0] ?? 'telemetry';
  const device = useQuery({
    queryKey: ['device', deviceId],
    queryFn: () => unwrap(api.GET('/api/v2/devices/{device_id}', { params: { path: { device_id: deviceId } } })),
    refetchInterval: 10_000,
  });
  const admin = useAuth((state) => state.session?.role === 'customer_admin');
  return (
    <Page title={`Device ${deviceId}`}>
      <Loaded query={device}>{({ device: d }) => <DeviceFacts device={d} />}</Loaded>
      {admin && device.data && <DeviceAdmin device={device.data.device} />}
      <div role="tablist" aria-label="Device" className="flex flex-wrap gap-1">
        {TABS.map(([key, label]) => (
          <button
            key={key}
            role="tab"
            aria-selected={tab === key}
            className={tab === key ? 'btn-primary' : 'btn-ghost'}
            onClick={() => setUrl({ tab: key })}
          >
            {label}
          </button>
        ))}
      </div>
      {tab === 'telemetry' && (
        <Telemetry
          deviceId={deviceId}
          stored={device.data?.device.state ?? {}}
          storedAt={Date.parse(device.data?.device.last_telemetry_at ?? '') || -Infinity}
        />
      )}
      {tab === 'commands' && <DeviceCommands deviceId={deviceId} />}
      {tab === 'configuration' && <DeviceConfiguration deviceId={deviceId} />}
    </Page>
  );
}

/**
 * Charts and gauges of a chosen range with live points, a state timeline per text metric and a track per
 * position metric (as the device's latest values have them: those `stored` as of its last telemetry,
 * `storedAt`, with newer live ones over them), the last message, and the device's alerts.
 */
function Telemetry({
  deviceId,
  stored,
  storedAt,
}: {
  deviceId: string;
  stored: Record<string, unknown>;
  storedAt: number;
}) {
  // The range lives in the URL (?hours=6, or ?start=…&end=…): a reload or a shared link shows the same.
  const [params, setParams] = useSearchParams();
  const { hours, custom } = rangeOf(params);
  // The window is fixed when chosen (a key that moved with the clock would refetch forever).
  const [chosenAt, setChosenAt] = useState(Date.now());
  const [points, setPoints] = useState<Point[]>([]);
  const setHours = (value: number) => {
    setParams({ hours: String(value) }, { replace: true });
    setChosenAt(Date.now());
  };
  const setCustom = (chosen: { start: string; end: string }) =>
    setParams(
      { start: new Date(chosen.start).toISOString(), end: new Date(chosen.end).toISOString() },
      { replace: true },
    );
  const span: Span = custom ?? { start: new Date(chosenAt - hours * 3600_000).toISOString() };
  const path = { device_id: deviceId };
  // The whole range in at most 1,000 buckets per metric (raw rows or rollups, as the API chooses).
  const history = useQuery({
    queryKey: ['series', deviceId, span],
    queryFn: () => unwrap(api.GET('/api/v2/devices/{device_id}/telemetry/series', { params: { path, query: span } })),
  });
  // What the device last sent, as stored (a heartbeat too).
  const last = useQuery({
    queryKey: ['last-message', deviceId],
    queryFn: () =>
      unwrap(api.GET('/api/v2/devices/{device_id}/telemetry', { params: { path, query: { hours: 168, limit: 1 } } })),
    refetchInterval: 10_000,
  });
  const alerts = useQuery({
    queryKey: ['device-alerts', deviceId],
    queryFn: () =>
      unwrap(api.GET('/customer/alerts', { params: { query: { status: 'ALL', device_id: deviceId, limit: 20 } } })),
  });

  // The range's buckets (each metric's average), oldest first, then live points merged in as they come.
  const buckets = useMemo(() => {
    const byTime = new Map<number, Point>();
    for (const [metric, series] of Object.entries(history.data?.metrics ?? {})) {
      for (const bucket of series) {
        const t = Date.parse(bucket.time);
        const point = byTime.get(t) ?? { t, metrics: {} };
        point.metrics[metric] = bucket.avg;
        byTime.set(t, point);
      }
    }
    return [...byTime.values()];
  }, [history.data]);
  useEffect(() => setPoints(mergePoints([], buckets, buckets.length)), [buckets]);
  useEffect(() => {
    if (custom) return undefined;
    return subscribeDevice(deviceId, (frame) =>
      setPoints((current) =>
        mergePoints(
          current,
          [{ t: Date.parse(frame.data.timestamp), metrics: frame.data.metrics }],
          buckets.length + LIVE_POINTS,
        ),
      ),
    );
  }, [deviceId, custom, buckets.length]);

  const metrics = useMemo(() => numericMetrics(points), [points]);
  // Live points carry text states and positions too: the latest values, bands and tracks follow them at once.
  const latest = useMemo(() => withNewerPoints(stored, storedAt, points), [stored, storedAt, points]);
  const texts = textMetrics(latest);
  const positions = positionMetrics(latest);
  // A range that ends now follows new readings; a chosen one stays as it is.
  const refetchMs = custom ? false : 30_000;
  const lastMessage = last.data?.telemetry[0];
  return (
    <>
      <div className="card flex flex-wrap items-end gap-2">
        {RANGES.map(([label, value]) => (
          <button
            key={label}
            className={!custom && hours === value ? 'btn-primary' : 'btn-ghost'}
            onClick={() => setHours(value)}
          >
            {label}
          </button>
        ))}
        <form
          className="flex flex-wrap items-end gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            const form = new FormData(e.currentTarget);
            setCustom({ start: String(form.get('start')), end: String(form.get('end')) });
          }}
        >
          <label>
            <span className="label">From</span>
            <input className="input" type="datetime-local" name="start" required />
          </label>
          <label>
            <span className="label">To</span>
            <input className="input" type="datetime-local" name="end" required />
          </label>
          <button className="btn-ghost">Show</button>
        </form>
        {history.data && (
          <span className="text-xs text-slate-500" data-testid="resolution">
            {width(history.data.bucket_seconds)} buckets from {RESOLUTION_TEXT[history.data.resolution]}
          </span>
        )}
        <span className="ml-auto">
          <DownloadButton
            save={() =>
              download(
                api.GET('/api/v2/devices/{device_id}/telemetry/export', {
                  params: { path, query: span },
                  parseAs: 'blob',
                }),
              )
            }
            label="Download CSV"
          />
        </span>
      </div>
      {texts.length > 0 && (
        <div className="card space-y-4" data-testid="state-timelines">
          <h2 className="text-sm font-semibold">States</h2>
          {texts.map((metric) => (
            <StateTimeline
              key={metric}
              deviceId={deviceId}
              metric={metric}
              latest={latest[metric] as string}
              readings={readingsOf(points, metric)}
              span={span}
              refetchMs={refetchMs}
            />
          ))}
        </div>
      )}
      {positions.map((metric) => (
        <Track
          key={metric}
          deviceId={deviceId}
          metric={metric}
          readings={readingsOf(points, metric)}
          span={span}
          refetchMs={refetchMs}
        />
      ))}
      <Loaded query={history} rows={6}>
        {() =>
          metrics.length === 0 ? (
            texts.length + positions.length === 0 && <Empty>No telemetry in this range.</Empty>
          ) : (
            <>
              <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
                {metrics.map((metric) => (
                  <div key={metric} className="card p-2" data-testid={`gauge-${metric}`}>
                    <Gauge metric={metric} value={latestValue(points, metric)} />
                  </div>
                ))}
              </div>
              <div className="grid gap-3 lg:grid-cols-2">
                {metrics.map((metric) => (
                  <div key={metric} className="card">
                    <h2 className="mb-1 text-sm font-semibold">{metric}</h2>
                    <TimeSeries
                      metric={metric}
                      points={points.map((p) => ({
                        t: p.t,
                        v: typeof p.metrics[metric] === 'number' ? (p.metrics[metric] as number) : null,
                      }))}
                    />
                  </div>
                ))}
              </div>
            </>
          )
        }
      </Loaded>
      {lastMessage && (
        <details className="card text-sm">
          <summary className="cursor-pointer font-semibold">
            Last message ({lastMessage.msg_type}, {timeAgo(lastMessage.timestamp)})
          </summary>
          <pre className="mt-2 overflow-x-auto text-xs" data-testid="last-message">
            {JSON.stringify(lastMessage, null, 2)}
          </pre>
        </details>
      )}
      <div className="card">
        <h2 className="mb-2 text-sm font-semibold">Alerts of this device</h2>
        <Loaded query={alerts}>
          {(data) =>
            data.alerts.length === 0 ? (
              <Empty>No alerts.</Empty>
            ) : (
              <ul className="space-y-1 text-sm">
                {data.alerts.map((alert) => (
                  <li key={alert.alert_id} className="flex gap-2">
                    <SeverityBadge severity={alert.severity} /> <StatusBadge status={alert.status} />{' '}
                    <span className="font-medium">{alert.title}</span> {alert.summary}
                    <span className="ml-auto text-xs text-slate-500">{timeAgo(alert.created_at)}</span>
                  </li>
                ))}
              </ul>
            )
          }
        </Loaded>
      </div>
    </>
  );
}

/** Where the device went in the range, from one position metric, on a small map; live readings extend it. */
function Track({
  deviceId,
  metric,
  readings,
  span,
  refetchMs,
}: {
  deviceId: string;
  metric: string;
  readings: readonly Reading[];
  span: Span;
  refetchMs: number | false;
}) {
  const track = useQuery({
    queryKey: ['track', deviceId, metric, span],
    queryFn: () =>
      unwrap(
        api.GET('/api/v2/devices/{device_id}/track', {
          params: { path: { device_id: deviceId }, query: { metric, ...span } },
        }),
      ),
    refetchInterval: refetchMs,
  });
  const points = useMemo(() => track.data && withPositions(track.data.points, readings), [track.data, readings]);
  return (
    <div className="card" data-testid={`track-${metric}`}>
      <h2 className="mb-2 text-sm font-semibold">
        Track <span className="font-normal text-slate-500">({metric})</span>
      </h2>
      <Loaded query={track} rows={4}>
        {({ thinned }) =>
          points!.length === 0 ? (
            <Empty>No positions in this range.</Empty>
          ) : (
            <>
              <Suspense fallback={<Skeleton rows={4} />}>
                <TrackMap points={points!} />
              </Suspense>
              <p className="mt-1 text-xs text-slate-500">
                {points!.length === 1 ? 'One position' : `${points!.length} positions`}
                {thinned && ', thinned evenly from more'}
              </p>
            </>
          )
        }
      </Loaded>
    </div>
  );
}
