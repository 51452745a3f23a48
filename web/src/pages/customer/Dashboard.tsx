import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Gauge, Pie, TrendBars } from '../../components/charts';
import { FleetChart } from '../../components/fleet-chart';
import { FailingIntegrations } from '../../components/integration-health';
import { Table } from '../../components/table';
import { DeviceLink, Empty, Loaded, Page, SeverityBadge, StatCard, StatusBadge } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { formatValue, timeAgo } from '../../lib/format';
import { FLEET_SUMMARY_KEY, useLiveAlerts } from '../../lib/live-queries';
import type { Alert } from '../../lib/types';

const STATUSES = ['ONLINE', 'STALE', 'OFFLINE', 'REVOKED'] as const;

export default function Dashboard() {
  // Device status has no live event: the counts and the eight devices seen last are polled, gently (the
  // user's request budget is shared by every tab). Alert counts follow the live socket in between.
  const devices = useQuery({
    queryKey: ['devices', 'dashboard'],
    queryFn: () =>
      unwrap(api.GET('/api/v2/devices', { params: { query: { limit: 8, sort: 'last_seen_at', order: 'desc' } } })),
    refetchInterval: 30_000,
  });
  const fleet = useQuery({
    queryKey: FLEET_SUMMARY_KEY,
    queryFn: () => unwrap(api.GET('/api/v2/fleet/summary')),
    refetchInterval: 30_000,
  });
  const trend = useQuery({
    queryKey: ['trend'],
    queryFn: () => unwrap(api.GET('/api/v2/alerts/trend', { params: { query: { hours: 24 } } })),
    refetchInterval: 60_000,
  });
  const summary = useQuery({
    queryKey: ['summary'],
    queryFn: () => unwrap(api.GET('/api/v2/telemetry/summary', { params: { query: { hours: 1 } } })),
    refetchInterval: 60_000,
  });
  const [stream, setStream] = useState<{ event: string; alert: Alert; at: number }[]>([]);
  useLiveAlerts((frame) =>
    setStream((items) =>
      [{ event: frame.event, alert: frame.alert as unknown as Alert, at: Date.now() }, ...items].slice(0, 20),
    ),
  );

  const list = devices.data?.devices ?? [];
  const count = (status: (typeof STATUSES)[number]) => fleet.data?.devices[status] ?? 0;
  const total = fleet.data?.devices.total ?? 0;
  // One rounding for the card and the gauge, so they say the same.
  const onlinePct = total ? Math.round((count('ONLINE') / total) * 1000) / 10 : undefined;
  return (
    <Page title="Dashboard">
      <FailingIntegrations />
      <div className="grid grid-cols-2 gap-3 md:grid-cols-3 lg:grid-cols-6" data-testid="fleet-counts">
        <StatCard label="Devices" value={total} />
        <StatCard
          label="Online"
          value={count('ONLINE')}
          hint={onlinePct === undefined ? undefined : `${onlinePct} % of the fleet`}
        />
        <StatCard label="Stale" value={count('STALE')} />
        <StatCard label="Offline" value={count('OFFLINE')} hint="silent, or never seen" />
        <StatCard label="Revoked" value={count('REVOKED')} />
        <StatCard label="Open alerts" value={fleet.data?.alerts.OPEN ?? '…'} />
      </div>
      <div className="grid gap-3 lg:grid-cols-3">
        <div className="card">
          <h2 className="mb-2 text-sm font-semibold">Fleet health</h2>
          <div className="grid grid-cols-2">
            <Gauge metric="online_pct" value={onlinePct} />
            <Gauge metric="battery_pct" value={summary.data?.metrics.battery_pct?.avg} />
          </div>
        </div>
        <div className="card">
          <h2 className="mb-2 text-sm font-semibold">Alerts, last 24 h</h2>
          <Loaded query={trend}>{(data) => <TrendBars points={data.trend} />}</Loaded>
        </div>
        <div className="card">
          <h2 className="mb-2 text-sm font-semibold">Device status</h2>
          <Pie data={STATUSES.map((name) => ({ name, value: count(name) })).filter((d) => d.value > 0)} />
        </div>
      </div>
      {summary.data && <FleetChart metrics={Object.keys(summary.data.metrics).sort()} />}
      <div className="grid gap-3 lg:grid-cols-2">
        <div className="card">
          <h2 className="mb-2 text-sm font-semibold">Live alert stream</h2>
          {stream.length === 0 ? (
            <Empty>Alert changes appear here as they happen.</Empty>
          ) : (
            <ul className="space-y-1 text-sm" data-testid="alert-stream">
              {stream.map((item, i) => (
                <li key={i} className="flex items-center gap-2">
                  <SeverityBadge severity={item.alert.severity} />
                  <span className="font-medium">{item.event}</span>
                  <span className="truncate">
                    <span className="font-medium">{item.alert.title}</span> {item.alert.summary}
                  </span>
                  <span className="ml-auto text-xs text-slate-500">{timeAgo(item.at)}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div className="card">
          <h2 className="mb-2 text-sm font-semibold">Devices</h2>
          <Loaded query={devices}>
            {() => (
              <Table
                rows={list}
                rowKey={(device) => device.device_id}
                columns={[
                  { header: 'Device', cell: (device) => <DeviceLink deviceId={device.device_id} /> },
                  { header: 'Status', cell: (device) => <StatusBadge status={device.status} /> },
                  {
                    header: 'Battery',
                    className: 'tabular-nums',
                    cell: (device) => formatValue(device.state.battery_pct as number | undefined, 'battery_pct'),
                  },
                  { header: 'Last seen', cell: (device) => timeAgo(device.last_seen_at) },
                ]}
              />
            )}
          </Loaded>
        </div>
      </div>
    </Page>
  );
}
