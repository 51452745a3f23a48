import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Lines } from '../../components/charts';
import { Table } from '../../components/table';
import { Empty, Loaded, Page, QuarantinedFrom } from '../../components/ui';
import { api } from '../../lib/api';
import { perMinuteSeries } from '../../lib/minutes';
import type { Answer } from '../../lib/types';
import { dateTime } from '../../lib/format';

export default function QuarantinePage() {
  const [minutes, setMinutes] = useState(60);
  const data = useQuery({
    queryKey: ['quarantine', minutes],
    queryFn: () => api<Answer<'/operator/quarantine'>>(`/operator/quarantine?minutes=${minutes}&limit=200`),
    refetchInterval: 15_000,
  });
  const dataUpdatedAt = data.dataUpdatedAt;
  return (
    <Page
      title="Quarantine"
      actions={
        <select
          className="input"
          aria-label="Window"
          value={minutes}
          onChange={(e) => setMinutes(Number(e.target.value))}
        >
          <option value={60}>Last hour</option>
          <option value={360}>Last 6 hours</option>
          <option value={1440}>Last 24 hours</option>
        </select>
      }
    >
      <Loaded query={data}>
        {({ events, counts }) => {
          return (
            <>
              <div className="card">
                <h2 className="mb-2 text-sm font-semibold">Rejects per minute by reason</h2>
                {counts.length === 0 ? (
                  <Empty>No rejects in this window.</Empty>
                ) : (
                  <Lines series={perMinuteSeries(counts, minutes, dataUpdatedAt)} />
                )}
              </div>
              <div className="card overflow-x-auto">
                {events.length === 0 ? (
                  <Empty>No stored events (PROD stores none unless STORE_REJECTS is on).</Empty>
                ) : (
                  <Table
                    rows={events}
                    rowKey={(e) => e.id}
                    columns={[
                      { header: 'When', cell: (e) => dateTime(e.ingested_at) },
                      { header: 'Reason', className: 'font-mono text-xs', cell: (e) => e.reason },
                      {
                        header: 'Tenant / device',
                        cell: (e) => <QuarantinedFrom tenantId={e.tenant_id} deviceId={e.device_id} />,
                      },
                      { header: 'Topic', className: 'max-w-80 truncate font-mono text-xs', cell: (e) => e.topic },
                      { header: 'Payload', cell: (e) => <Payload payload={e.payload} /> },
                    ]}
                  />
                )}
              </div>
            </>
          );
        }}
      </Loaded>
    </Page>
  );
}

/** What the device sent (DEV), its token already replaced when stored; PROD stores none. */
function Payload({ payload }: { payload: unknown }) {
  const empty = payload === null || (typeof payload === 'object' && Object.keys(payload).length === 0);
  if (empty) return <span className="text-slate-500">—</span>;
  return (
    <details>
      <summary className="cursor-pointer text-xs text-indigo-600">Show</summary>
      <pre className="max-w-96 overflow-x-auto text-xs" data-testid="quarantine-payload">
        {typeof payload === 'string' ? payload : JSON.stringify(payload, null, 2)}
      </pre>
    </details>
  );
}
