import { useQuery } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { Lines } from './charts';
import { Table } from './table';
import { Empty, Loaded, Page } from './ui';
import { api, unwrap } from '../lib/api';
import { perMinuteSeries } from '../lib/minutes';
import type { Answer } from '../lib/types';
import { dateTime } from '../lib/format';

type Report = Answer<'/operator/quarantine'>;

/**
 * Rejects per minute and the stored rejected messages: every tenant's for operators, the caller's own for a
 * customer admin (the same answer from /operator/quarantine or /customer/quarantine).
 */
export function QuarantineReport({
  endpoint,
  title,
  from,
}: {
  endpoint: '/operator/quarantine' | '/customer/quarantine';
  title: string;
  /** Where a reject came from, as its row shows it. */
  from: (event: Report['events'][number]) => ReactNode;
}) {
  const [minutes, setMinutes] = useState(60);
  const data = useQuery({
    queryKey: ['quarantine', endpoint, minutes],
    queryFn: () => unwrap(api.GET(endpoint, { params: { query: { minutes, limit: 200 } } })),
    refetchInterval: 15_000,
  });
  const dataUpdatedAt = data.dataUpdatedAt;
  return (
    <Page
      title={title}
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
        {({ events, counts }) => (
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
                  testId="quarantine-table"
                  columns={[
                    { header: 'When', cell: (e) => dateTime(e.ingested_at) },
                    { header: 'Reason', className: 'font-mono text-xs', cell: (e) => e.reason },
                    { header: 'From', cell: from },
                    { header: 'Topic', className: 'max-w-80 truncate font-mono text-xs', cell: (e) => e.topic },
                    { header: 'Payload', cell: (e) => <Payload payload={e.payload} /> },
                  ]}
                />
              )}
            </div>
          </>
        )}
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
