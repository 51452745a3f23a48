import { useQuery } from '@tanstack/react-query';
import { useParams } from 'react-router';
import { Loaded, Page, StatCard, StatusBadge } from '../../components/ui';
import { api } from '../../lib/api';
import { timeAgo } from '../../lib/format';

interface Stats {
  name: string;
  status: string;
  stats: {
    devices: { total: number; online: number; stale: number };
    alerts: { open: number; closed: number; last_24h: number };
    integrations: { total: number; active: number };
    rules: { total: number; active: number };
    sites: number;
    last_device_activity: string | null;
    last_alert: string | null;
  };
}

export default function TenantDetail() {
  const tenantId = useParams().tenantId!;
  const stats = useQuery({
    queryKey: ['tenant', tenantId],
    queryFn: () => api<Stats>(`/operator/tenants/${tenantId}/stats`),
  });
  const devices = useQuery({
    queryKey: ['tenant-devices', tenantId],
    queryFn: () =>
      api<{ devices: { device_id: string; site_id: string; status: string; last_seen_at: string | null }[] }>(
        `/operator/tenants/${tenantId}/devices`,
      ),
  });
  return (
    <Page title={`Tenant ${tenantId}`}>
      <Loaded query={stats}>
        {({ name, status, stats: s }) => (
          <>
            <div className="text-sm">
              {name} <StatusBadge status={status} />
            </div>
            <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
              <StatCard
                label="Devices"
                value={s.devices.total}
                hint={`${s.devices.online} online, ${s.devices.stale} stale`}
              />
              <StatCard label="Open alerts" value={s.alerts.open} hint={`${s.alerts.last_24h} in 24 h`} />
              <StatCard label="Rules" value={s.rules.total} hint={`${s.rules.active} enabled`} />
              <StatCard
                label="Integrations"
                value={s.integrations.total}
                hint={`last activity ${timeAgo(s.last_device_activity)}`}
              />
            </div>
          </>
        )}
      </Loaded>
      <div className="card overflow-x-auto">
        <Loaded query={devices}>
          {(data) => (
            <table className="table">
              <thead>
                <tr>
                  <th>Device</th>
                  <th>Site</th>
                  <th>Status</th>
                  <th>Last seen</th>
                </tr>
              </thead>
              <tbody>
                {data.devices.map((d) => (
                  <tr key={d.device_id}>
                    <td>{d.device_id}</td>
                    <td>{d.site_id}</td>
                    <td>
                      <StatusBadge status={d.status} />
                    </td>
                    <td>{timeAgo(d.last_seen_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Loaded>
      </div>
    </Page>
  );
}
