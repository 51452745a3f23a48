import { useQuery } from '@tanstack/react-query';
import { FleetFailingIntegrations } from '../../components/integration-health';
import {
  DeviceLink,
  Empty,
  Loaded,
  Page,
  QuarantinedFrom,
  SeverityBadge,
  StatCard,
  TenantLink,
} from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { timeAgo } from '../../lib/format';

export default function Overview() {
  const aggregates = useQuery({
    queryKey: ['aggregates'],
    queryFn: () => unwrap(api.GET('/operator/system/aggregates')),
    refetchInterval: 15_000,
  });
  const alerts = useQuery({
    queryKey: ['op-alerts'],
    queryFn: () => unwrap(api.GET('/operator/alerts', { params: { query: { status: 'OPEN', limit: 10 } } })),
    refetchInterval: 15_000,
  });
  const quarantine = useQuery({
    queryKey: ['op-quarantine-recent'],
    queryFn: () => unwrap(api.GET('/operator/quarantine', { params: { query: { minutes: 60, limit: 10 } } })),
    refetchInterval: 15_000,
  });
  const a = aggregates.data;
  return (
    <Page title="Operator overview">
      <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
        <StatCard label="Tenants" value={a?.tenants.active ?? '…'} hint={a && `${a.tenants.total} in all`} />
        <StatCard
          label="Devices online"
          value={a ? `${a.devices.online} / ${a.devices.registered}` : '…'}
          hint={a && `${a.devices.stale} stale`}
        />
        <StatCard label="Open alerts" value={a?.alerts.open ?? '…'} hint={a && `${a.alerts.triggered_24h} in 24 h`} />
        <StatCard
          label="Deliveries pending"
          value={a?.deliveries.pending ?? '…'}
          hint={a && `${a.deliveries.failed} failed in 24 h`}
        />
      </div>
      <FleetFailingIntegrations />
      <div className="grid gap-3 lg:grid-cols-2">
        <div className="card">
          <h2 className="mb-2 text-sm font-semibold">Recent alerts, all tenants</h2>
          <Loaded query={alerts}>
            {(data) =>
              data.alerts.length === 0 ? (
                <Empty>No open alerts.</Empty>
              ) : (
                <ul className="space-y-1 text-sm">
                  {data.alerts.map((alert) => (
                    <li key={alert.alert_id} className="flex items-center gap-2">
                      <SeverityBadge severity={alert.severity} />
                      <span className="shrink-0">
                        <TenantLink tenantId={alert.tenant_id} />/
                        <DeviceLink deviceId={alert.device_id} tenantId={alert.tenant_id} />
                      </span>
                      <span className="min-w-0 flex-1 truncate" title={alert.summary}>
                        <span className="font-medium">{alert.title}</span> {alert.summary}
                      </span>
                      <span className="shrink-0 text-xs whitespace-nowrap text-slate-500">
                        {timeAgo(alert.created_at)}
                      </span>
                    </li>
                  ))}
                </ul>
              )
            }
          </Loaded>
        </div>
        <div className="card">
          <h2 className="mb-2 text-sm font-semibold">Recent quarantine</h2>
          <Loaded query={quarantine}>
            {(data) =>
              data.events.length === 0 ? (
                <Empty>No rejected messages in the last hour.</Empty>
              ) : (
                <ul className="space-y-1 text-sm">
                  {data.events.map((event) => (
                    <li key={event.id} className="flex gap-2">
                      <span className="font-mono text-xs">{event.reason}</span>
                      <QuarantinedFrom tenantId={event.tenant_id} deviceId={event.device_id} />
                      <span className="ml-auto text-xs text-slate-500">{timeAgo(event.ingested_at)}</span>
                    </li>
                  ))}
                </ul>
              )
            }
          </Loaded>
        </div>
      </div>
    </Page>
  );
}
