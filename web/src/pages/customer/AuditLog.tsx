// The tenant's audit log for its admins: every change made (or refused) through the API — who, what,
// on which resource, which fields, how it ended, when and from where.
import { useQuery } from '@tanstack/react-query';
import { QueryTable } from '../../components/table';
import { Outcome, Page } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { dateTime } from '../../lib/format';
import { useUrlParams } from '../../lib/url-params';
import type { Query } from '../../lib/types';

export default function CustomerAuditLog() {
  const [filters, setFilters] = useUrlParams({ user: '', since: '' });
  const query: Query<'/customer/audit'> = {
    limit: 200,
    ...(filters.user && { user: filters.user }),
    ...(filters.since && { start: new Date(filters.since).toISOString() }),
  };
  const log = useQuery({
    queryKey: ['customer-audit', query],
    queryFn: () => unwrap(api.GET('/customer/audit', { params: { query } })),
  });
  return (
    <Page title="Audit log">
      <div className="card flex flex-wrap gap-2">
        <input
          className="input max-w-48"
          placeholder="User"
          aria-label="User"
          value={filters.user}
          onChange={(e) => setFilters({ user: e.target.value })}
        />
        <input
          className="input max-w-56"
          type="datetime-local"
          aria-label="Since"
          value={filters.since}
          onChange={(e) => setFilters({ since: e.target.value })}
        />
      </div>
      <QueryTable
        query={log}
        rows={(data) => data.entries}
        rowKey={(e) => e.id}
        empty="No changes recorded."
        testId="customer-audit-table"
        columns={[
          { header: 'When', cell: (e) => dateTime(e.created_at) },
          { header: 'Who', cell: (e) => e.username ?? e.user_id },
          {
            header: 'What',
            cell: (e) => (
              <>
                {e.summary && <div>{e.summary}</div>}
                <div className="font-mono text-xs text-slate-500">{e.action}</div>
              </>
            ),
          },
          { header: 'Resource', className: 'font-mono text-xs', cell: (e) => e.resource_id ?? '—' },
          { header: 'Fields', className: 'text-xs', cell: (e) => e.fields?.join(', ') ?? '—' },
          { header: 'Outcome', cell: (e) => <Outcome status={e.status_code} /> },
          { header: 'From', className: 'text-xs', title: (e) => e.user_agent ?? '', cell: (e) => e.ip_address },
        ]}
      />
    </Page>
  );
}
