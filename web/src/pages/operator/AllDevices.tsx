import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { QueryTable } from '../../components/table';
import { DeviceLink, Page, Pager, StatusBadge, TenantLink } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import type { Query } from '../../lib/types';
import { formatValue, timeAgo } from '../../lib/format';
import { useUrlParams } from '../../lib/url-params';

export default function AllDevices() {
  const [filters, setFilters] = useUrlParams({ tenant: '', page: '0' });
  const { tenant } = filters;
  const page = Number(filters.page) || 0;
  const query: Query<'/operator/devices'> = {
    limit: 100,
    offset: page * 100,
    ...(tenant && { tenant_filter: tenant }),
  };
  const devices = useQuery({
    queryKey: ['op-devices', query],
    queryFn: () => unwrap(api.GET('/operator/devices', { params: { query } })),
    placeholderData: keepPreviousData,
  });
  const tenants = useQuery({
    queryKey: ['tenant-ids'],
    queryFn: () => unwrap(api.GET('/operator/tenants', { params: { query: { status: 'ALL', limit: 500 } } })),
  });
  return (
    <Page title="All devices">
      <div className="card">
        <select
          className="input max-w-60"
          aria-label="Tenant"
          value={tenant}
          onChange={(e) => setFilters({ tenant: e.target.value, page: '0' })}
        >
          <option value="">All tenants</option>
          {tenants.data?.tenants.map((t) => (
            <option key={t.tenant_id}>{t.tenant_id}</option>
          ))}
        </select>
      </div>
      <QueryTable
        query={devices}
        rows={(data) => data.devices}
        rowKey={(d) => `${d.tenant_id}/${d.device_id}`}
        empty="No devices."
        testId="operator-devices"
        columns={[
          { header: 'Tenant', cell: (d) => <TenantLink tenantId={d.tenant_id} /> },
          { header: 'Device', cell: (d) => <DeviceLink deviceId={d.device_id} tenantId={d.tenant_id} /> },
          { header: 'Site', cell: (d) => d.site_id },
          { header: 'Status', cell: (d) => <StatusBadge status={d.status} /> },
          { header: 'Battery', cell: (d) => formatValue(d.battery_pct, 'battery_pct') },
          { header: 'Last seen', cell: (d) => timeAgo(d.last_seen_at) },
        ]}
      >
        <Pager
          page={page}
          size={100}
          total={devices.data?.total ?? 0}
          onPage={(next) => setFilters({ page: String(next) })}
          noun="devices"
        />
      </QueryTable>
    </Page>
  );
}
