import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useParams } from 'react-router';
import { QueryTable } from '../../components/table';
import { DeviceLink, Loaded, Modal, Page, StatCard, StatusBadge } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import { timeAgo } from '../../lib/format';
import { AddDeviceForm, ImportDevicesForm } from '../customer/DeviceManagement';

export default function TenantDetail() {
  const tenantId = useParams().tenantId!;
  const stats = useQuery({
    queryKey: ['tenant', tenantId],
    queryFn: () =>
      unwrap(api.GET('/operator/tenants/{tenant_id}/stats', { params: { path: { tenant_id: tenantId } } })),
  });
  const devices = useQuery({
    queryKey: ['tenant-devices', tenantId],
    queryFn: () =>
      unwrap(api.GET('/operator/tenants/{tenant_id}/devices', { params: { path: { tenant_id: tenantId } } })),
  });
  const admin = useAuth((state) => state.session?.role === 'operator_admin');
  const [dialog, setDialog] = useState<'add' | 'import' | null>(null);
  return (
    <Page
      title={`Tenant ${tenantId}`}
      actions={
        admin && (
          <>
            <button className="btn-primary" onClick={() => setDialog('add')}>
              Add device
            </button>
            <button className="btn-ghost" onClick={() => setDialog('import')}>
              Import CSV
            </button>
          </>
        )
      }
    >
      <Modal open={dialog === 'add'} title={`Add a device to ${tenantId}`} onClose={() => setDialog(null)}>
        <AddDeviceForm tenantId={tenantId} />
      </Modal>
      <Modal open={dialog === 'import'} title={`Import devices into ${tenantId}`} onClose={() => setDialog(null)}>
        <ImportDevicesForm tenantId={tenantId} />
      </Modal>
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
      <QueryTable
        query={devices}
        rows={(data) => data.devices}
        rowKey={(d) => d.device_id}
        empty="No devices."
        columns={[
          { header: 'Device', cell: (d) => <DeviceLink deviceId={d.device_id} tenantId={tenantId} /> },
          { header: 'Site', cell: (d) => d.site_id },
          { header: 'Status', cell: (d) => <StatusBadge status={d.status} /> },
          { header: 'Last seen', cell: (d) => timeAgo(d.last_seen_at) },
        ]}
      />
    </Page>
  );
}
