import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { QueryTable } from '../../components/table';
import { DeviceLink, Page, Pager, StatusBadge } from '../../components/ui';
import { api } from '../../lib/api';
import { useUrlParams } from '../../lib/url-params';
import { formatValue, timeAgo } from '../../lib/format';
import type { DeviceList } from '../../lib/types';

const PAGE = 50;

export default function Devices() {
  const [filters, setFilters] = useUrlParams({ q: '', status: '', site: '', sort: 'site_id', order: 'asc', page: '0' });
  const { q, status, site, sort, order } = filters;
  const page = Number(filters.page) || 0;
  const params = new URLSearchParams({
    limit: String(PAGE),
    offset: String(page * PAGE),
    sort,
    order,
    ...(q && { q }),
    ...(status && { status }),
    ...(site && { site_id: site }),
  });
  const devices = useQuery({
    queryKey: ['devices', params.toString()],
    queryFn: () => api<DeviceList>(`/api/v2/devices?${params}`),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
  const total = devices.data?.total ?? 0;
  return (
    <Page title="Devices">
      <div className="card flex flex-wrap gap-2">
        <input
          className="input max-w-xs"
          placeholder="Search device id"
          aria-label="Search device id"
          value={q}
          onChange={(e) => setFilters({ q: e.target.value, page: '0' })}
        />
        <select
          className="input max-w-40"
          aria-label="Status"
          value={status}
          onChange={(e) => setFilters({ status: e.target.value, page: '0' })}
        >
          <option value="">All statuses</option>
          {['ONLINE', 'STALE', 'OFFLINE', 'REVOKED'].map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <input
          className="input max-w-40"
          placeholder="Site"
          aria-label="Site"
          value={site}
          onChange={(e) => setFilters({ site: e.target.value, page: '0' })}
        />
      </div>
      <QueryTable
        query={devices}
        rows={(data) => data.devices}
        rowKey={(device) => device.device_id}
        empty="No devices match."
        skeletonRows={8}
        testId="devices-table"
        sorting={{
          key: sort,
          order: order === 'desc' ? 'desc' : 'asc',
          onSort: (key) => setFilters({ sort: key, order: sort === key && order === 'asc' ? 'desc' : 'asc' }),
        }}
        columns={[
          { header: 'Device', sortKey: 'device_id', cell: (device) => <DeviceLink deviceId={device.device_id} /> },
          { header: 'Site', sortKey: 'site_id', cell: (device) => device.site_id },
          { header: 'Status', sortKey: 'status', cell: (device) => <StatusBadge status={device.status} /> },
          {
            header: 'Battery',
            className: 'tabular-nums',
            cell: (device) => formatValue(device.state.battery_pct as number | undefined, 'battery_pct'),
          },
          {
            header: 'Temperature',
            className: 'tabular-nums',
            cell: (device) => formatValue(device.state.temp_c as number | undefined, 'temp_c'),
          },
          {
            header: 'Last seen',
            sortKey: 'last_seen_at',
            title: (device) => device.last_seen_at ?? '',
            cell: (device) => timeAgo(device.last_seen_at),
          },
        ]}
      >
        <Pager
          page={page}
          size={PAGE}
          total={total}
          onPage={(next) => setFilters({ page: String(next) })}
          noun="devices"
        />
      </QueryTable>
    </Page>
  );
}
