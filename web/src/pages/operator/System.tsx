import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Lines } from '../../components/charts';
import { Loaded, Page, StatCard } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { formatValue } from '../../lib/format';

export default function System() {
  const [interval, setInterval] = useState(10_000);
  const refetchInterval = interval || false;
  const health = useQuery({
    queryKey: ['system-health'],
    queryFn: () => unwrap(api.GET('/operator/system/health')),
    refetchInterval,
  });
  const metrics = useQuery({
    queryKey: ['system-metrics'],
    queryFn: () => unwrap(api.GET('/operator/system/metrics')),
    refetchInterval,
  });
  const history = useQuery({
    queryKey: ['system-history'],
    queryFn: () =>
      unwrap(
        api.GET('/operator/system/metrics/history/batch', {
          params: {
            query: {
              metrics: 'messages_received_per_sec,messages_written_per_sec,messages_rejected_per_sec,queue_depth',
              minutes: 30,
            },
          },
        }),
      ),
    refetchInterval,
  });
  const capacity = useQuery({
    queryKey: ['capacity'],
    queryFn: () => unwrap(api.GET('/operator/system/capacity')),
  });
  const series = (names: string[]) => names.map((name) => ({ name, points: history.data?.[name]?.points ?? [] }));
  return (
    <Page
      title="System"
      actions={
        <select
          className="input"
          aria-label="Refresh"
          value={interval}
          onChange={(e) => setInterval(Number(e.target.value))}
        >
          <option value={5000}>Refresh every 5 s</option>
          <option value={10000}>Refresh every 10 s</option>
          <option value={60000}>Refresh every minute</option>
          <option value={0}>Do not refresh</option>
        </select>
      }
    >
      <Loaded query={health}>
        {(data) => (
          <div className="grid grid-cols-2 gap-3 md:grid-cols-4" data-testid="components">
            {Object.entries(data.components).map(([name, c]) => (
              <div key={name} className="card flex items-center justify-between">
                <span className="font-medium">{name}</span>
                <span className={c.status === 'healthy' ? 'text-emerald-600' : 'text-rose-600'}>
                  {c.status}
                  {c.latency_ms !== undefined && <span className="ml-1 text-xs text-slate-500">{c.latency_ms} ms</span>}
                </span>
              </div>
            ))}
          </div>
        )}
      </Loaded>
      <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
        <StatCard label="Ingest (msg/s)" value={formatValue(metrics.data?.throughput.ingest_rate_per_sec)} />
        <StatCard label="Rejected (msg/s)" value={formatValue(metrics.data?.throughput.messages_rejected_per_sec)} />
        <StatCard label="Ingest queue" value={formatValue(metrics.data?.queues.ingest_queue_depth)} />
        <StatCard label="Deliveries pending" value={formatValue(metrics.data?.queues.delivery_pending)} />
      </div>
      <div className="grid gap-3 lg:grid-cols-2">
        <div className="card">
          <h2 className="mb-2 text-sm font-semibold">Throughput, last 30 min (msg/s)</h2>
          <Lines
            series={series(['messages_received_per_sec', 'messages_written_per_sec', 'messages_rejected_per_sec'])}
          />
        </div>
        <div className="card">
          <h2 className="mb-2 text-sm font-semibold">Ingest queue depth</h2>
          <Lines series={series(['queue_depth'])} />
        </div>
      </div>
      <div className="card">
        <h2 className="mb-2 text-sm font-semibold">Capacity</h2>
        <Loaded query={capacity}>
          {({ postgres }) => (
            <div className="text-sm">
              Database {postgres.db_size_mb} MB · connections {postgres.connections_used}/{postgres.connections_max}
              <ul className="mt-2 grid grid-cols-2 gap-1 md:grid-cols-5">
                {postgres.top_tables.map((t) => (
                  <li key={t.name} className="font-mono text-xs">
                    {t.name}: {t.total_mb} MB
                  </li>
                ))}
              </ul>
            </div>
          )}
        </Loaded>
      </div>
    </Page>
  );
}
