// One device of any tenant, as an operator sees it: what its tenant sees of it, the latest stored messages
// and events, and (operator_admin) the same edit, rotate and revoke its tenant's admin has.
import { useQuery } from '@tanstack/react-query';
import { useParams } from 'react-router';
import { Table } from '../../components/table';
import { Empty, Loaded, Page, TenantLink } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import { dateTime } from '../../lib/format';
import type { Answer } from '../../lib/types';
import { DeviceAdmin, DeviceFacts } from '../customer/DeviceManagement';

type Stored = Answer<'/operator/tenants/{tenant_id}/devices/{device_id}'>['telemetry'][number];

export default function OperatorDevice() {
  const params = useParams();
  const tenantId = params.tenantId!;
  const deviceId = params.deviceId!;
  const admin = useAuth((state) => state.session?.role === 'operator_admin');
  const device = useQuery({
    queryKey: ['op-device', tenantId, deviceId],
    queryFn: () =>
      unwrap(
        api.GET('/operator/tenants/{tenant_id}/devices/{device_id}', {
          params: { path: { tenant_id: tenantId, device_id: deviceId } },
        }),
      ),
    refetchInterval: 10_000,
  });
  return (
    <Page title={`Device ${deviceId}`}>
      <div className="text-sm">
        Tenant <TenantLink tenantId={tenantId} />
      </div>
      <Loaded query={device}>
        {(data) => (
          <>
            <DeviceFacts device={data.device} />
            {admin && <DeviceAdmin device={data.device} tenantId={tenantId} />}
            <Messages title="Latest telemetry" rows={data.telemetry} />
            <Messages title="Latest events" rows={data.events} />
          </>
        )}
      </Loaded>
    </Page>
  );
}

function Messages({ title, rows }: { title: string; rows: Stored[] }) {
  return (
    <div className="card">
      <h2 className="mb-2 text-sm font-semibold">{title}</h2>
      {rows.length === 0 ? (
        <Empty>None stored.</Empty>
      ) : (
        <Table
          rows={rows}
          rowKey={(row) => `${row.time}/${row.seq}`}
          columns={[
            { header: 'When', cell: (row) => dateTime(row.time) },
            { header: 'Type', cell: (row) => row.msg_type },
            {
              header: 'Message',
              className: 'max-w-120 truncate font-mono text-xs',
              cell: (row) => JSON.stringify(row.metrics),
            },
          ]}
        />
      )}
    </div>
  );
}
