import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { QueryTable } from '../../components/table';
import { DeviceLink, DownloadButton, ErrorBox, Modal, Page, Pager, StatusBadge } from '../../components/ui';
import { api, download, unwrap } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import { AddOnEnter, AttributeFilter, TagChips } from '../../components/device-labels';
import { AddDeviceForm, ImportDevicesForm } from './DeviceManagement';
import { useUrlParams } from '../../lib/url-params';
import { formatValue, timeAgo } from '../../lib/format';
import type { Query } from '../../lib/types';

type DeviceQuery = Query<'/api/v2/devices'>;

const PAGE = 50;

export default function Devices() {
  const [filters, setFilters] = useUrlParams({
    q: '',
    status: '',
    site: '',
    sort: 'site_id',
    order: 'asc',
    page: '0',
    tag: [] as string[],
    match: 'any',
    attr: [] as string[],
  });
  const { q, status, site, sort, order, tag, match, attr } = filters;
  const page = Number(filters.page) || 0;
  // Sort and order come from the URL as typed there; the API refuses one it does not know.
  const query: DeviceQuery = {
    limit: PAGE,
    offset: page * PAGE,
    sort: sort as DeviceQuery['sort'],
    order: order as DeviceQuery['order'],
    ...(q && { q }),
    ...(status && { status }),
    ...(site && { site_q: site }),
    ...(match === 'all' ? { tags_all: tag } : { tag }),
    attr,
  };
  const devices = useQuery({
    queryKey: ['devices', query],
    queryFn: () => unwrap(api.GET('/api/v2/devices', { params: { query } })),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
  const total = devices.data?.total ?? 0;
  const admin = useAuth((state) => state.session?.role === 'customer_admin');
  const client = useQueryClient();
  const [dialog, setDialog] = useState<'add' | 'import' | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const toggle = (deviceId: string) =>
    setSelected((current) => {
      const next = new Set(current);
      if (!next.delete(deviceId)) next.add(deviceId);
      return next;
    });
  const revoke = useMutation({
    // One request: one transaction, and one audit entry ("revoked 3 devices").
    mutationFn: (deviceIds: string[]) =>
      unwrap(api.POST('/customer/devices/revoke', { body: { device_ids: deviceIds } })),
    onSettled: async () => {
      setSelected(new Set());
      await client.invalidateQueries({ queryKey: ['devices'] });
    },
  });
  return (
    <Page
      title="Devices"
      actions={
        <div className="flex flex-wrap justify-end gap-2">
          <DownloadButton
            save={() =>
              download(api.GET('/api/v2/telemetry/export', { params: { query: { hours: 24 } }, parseAs: 'blob' }))
            }
            label="Download CSV"
            title="Every device's telemetry of the last 24 hours"
          />
          {admin && (
            <>
              {selected.size > 0 && (
                <button
                  className="btn-danger"
                  disabled={revoke.isPending}
                  onClick={() =>
                    confirm(`Revoke ${selected.size} device(s)? Their messages are refused from now on.`) &&
                    revoke.mutate([...selected])
                  }
                >
                  Revoke selected ({selected.size})
                </button>
              )}
              <button className="btn-ghost" onClick={() => setDialog('import')}>
                Import CSV
              </button>
              <button className="btn-primary" onClick={() => setDialog('add')}>
                Add device
              </button>
            </>
          )}
        </div>
      }
    >
      <Modal open={dialog === 'add'} title="Add a device" onClose={() => setDialog(null)}>
        <AddDeviceForm />
      </Modal>
      <Modal open={dialog === 'import'} title="Import devices" onClose={() => setDialog(null)}>
        <ImportDevicesForm />
      </Modal>
      {revoke.error && <ErrorBox error={revoke.error} />}
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
          placeholder="Site contains"
          aria-label="Site"
          value={site}
          onChange={(e) => setFilters({ site: e.target.value, page: '0' })}
        />
        <AddOnEnter
          label="Filter by tag"
          placeholder="tag (Enter)"
          onAdd={(added) => setFilters({ tag: [...new Set([...tag, added.toLowerCase()])], page: '0' })}
        />
        {tag.length > 1 && (
          <select
            className="input max-w-28"
            aria-label="Tags to match"
            value={match}
            onChange={(e) => setFilters({ match: e.target.value, page: '0' })}
          >
            <option value="any">any tag</option>
            <option value="all">all tags</option>
          </select>
        )}
        <AttributeFilter onAdd={(condition) => setFilters({ attr: [...attr, condition], page: '0' })} />
        {(tag.length > 0 || attr.length > 0) && (
          <div className="flex w-full flex-wrap items-center gap-2" data-testid="device-filters">
            <TagChips
              tags={tag}
              onRemove={(removed) => setFilters({ tag: tag.filter((t) => t !== removed), page: '0' })}
            />
            <TagChips
              tags={attr}
              onRemove={(removed) => setFilters({ attr: attr.filter((a) => a !== removed), page: '0' })}
            />
          </div>
        )}
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
          admin && {
            header: <span className="sr-only">Select</span>,
            cell: (device) => (
              <input
                type="checkbox"
                aria-label={`Select ${device.device_id}`}
                checked={selected.has(device.device_id)}
                disabled={device.status === 'REVOKED'}
                onChange={() => toggle(device.device_id)}
              />
            ),
          },
          { header: 'Device', sortKey: 'device_id', cell: (device) => <DeviceLink deviceId={device.device_id} /> },
          { header: 'Site', sortKey: 'site_id', cell: (device) => device.site_id },
          { header: 'Status', sortKey: 'status', cell: (device) => <StatusBadge status={device.status} /> },
          { header: 'Tags', cell: (device) => <TagChips tags={device.tags} /> },
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
