import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { DeviceLink, Empty, Loaded, Page, Pager, StatusBadge } from '../../components/ui';
import { api } from '../../lib/api';
import { formatValue, timeAgo } from '../../lib/format';
import type { DeviceList } from '../../lib/types';

const PAGE = 50;

export default function Devices() {
  const [q, setQ] = useState('');
  const [status, setStatus] = useState('');
  const [site, setSite] = useState('');
  const [sort, setSort] = useState('site_id');
  const [order, setOrder] = useState<'asc' | 'desc'>('asc');
  const [page, setPage] = useState(0);
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
  const header = (key: string, label: string) => (
    <th>
      <button
        className="uppercase"
        onClick={() => {
          setOrder(sort === key && order === 'asc' ? 'desc' : 'asc');
          setSort(key);
        }}
      >
        {label} {sort === key ? (order === 'asc' ? '▲' : '▼') : ''}
      </button>
    </th>
  );
  const total = devices.data?.total ?? 0;
  return (
    <Page title="Devices">
      <div className="card flex flex-wrap gap-2">
        <input
          className="input max-w-xs"
          placeholder="Search device id"
          aria-label="Search device id"
          value={q}
          onChange={(e) => {
            setQ(e.target.value);
            setPage(0);
          }}
        />
        <select
          className="input max-w-40"
          aria-label="Status"
          value={status}
          onChange={(e) => {
            setStatus(e.target.value);
            setPage(0);
          }}
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
          onChange={(e) => {
            setSite(e.target.value);
            setPage(0);
          }}
        />
      </div>
      <div className="card overflow-x-auto">
        <Loaded query={devices} rows={8}>
          {(data) =>
            data.devices.length === 0 ? (
              <Empty>No devices match.</Empty>
            ) : (
              <table className="table" data-testid="devices-table">
                <thead>
                  <tr>
                    {header('device_id', 'Device')}
                    {header('site_id', 'Site')}
                    {header('status', 'Status')}
                    <th>Battery</th>
                    <th>Temperature</th>
                    {header('last_seen_at', 'Last seen')}
                  </tr>
                </thead>
                <tbody>
                  {data.devices.map((device) => (
                    <tr key={device.device_id}>
                      <td>
                        <DeviceLink deviceId={device.device_id} />
                      </td>
                      <td>{device.site_id}</td>
                      <td>
                        <StatusBadge status={device.status} />
                      </td>
                      <td className="tabular-nums">
                        {formatValue(device.state.battery_pct as number | undefined, 'battery_pct')}
                      </td>
                      <td className="tabular-nums">
                        {formatValue(device.state.temp_c as number | undefined, 'temp_c')}
                      </td>
                      <td title={device.last_seen_at ?? ''}>{timeAgo(device.last_seen_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Loaded>
        <Pager page={page} size={PAGE} total={total} onPage={setPage} noun="devices" />
      </div>
    </Page>
  );
}
