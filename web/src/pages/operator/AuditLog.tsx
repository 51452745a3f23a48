import { useQuery } from '@tanstack/react-query';
import { QueryTable } from '../../components/table';
import { DeviceLink, Outcome, Page, TenantLink } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import type { Query } from '../../lib/types';
import { dateTime } from '../../lib/format';
import { useUrlParams } from '../../lib/url-params';

export default function AuditLog() {
  // Every page an operator opens is audited too; what changed is what people look for first.
  const [filters, setFilters] = useUrlParams({ user: '', action: '', tenant: '', since: '', changes: 'only' });
  const { user, action, tenant, since } = filters;
  const changesOnly = filters.changes === 'only';
  const query: Query<'/operator/audit-log'> = {
    limit: 200,
    ...(changesOnly && { changes_only: true }),
    ...(user && { user_id: user }),
    ...(action && { action }),
    ...(tenant && { tenant_filter: tenant }),
    ...(since && { since: new Date(since).toISOString() }),
  };
  const log = useQuery({
    queryKey: ['audit', query],
    queryFn: () => unwrap(api.GET('/operator/audit-log', { params: { query } })),
  });
  return (
    <Page title="Audit log">
      <div className="card flex flex-wrap gap-2">
        <input
          className="input max-w-48"
          placeholder="User"
          aria-label="User"
          value={user}
          onChange={(e) => setFilters({ user: e.target.value })}
        />
        <input
          className="input max-w-48"
          placeholder="Action"
          aria-label="Action"
          value={action}
          onChange={(e) => setFilters({ action: e.target.value })}
        />
        <input
          className="input max-w-48"
          placeholder="Tenant"
          aria-label="Tenant"
          value={tenant}
          onChange={(e) => setFilters({ tenant: e.target.value })}
        />
        <input
          className="input max-w-56"
          type="datetime-local"
          aria-label="Since"
          value={since}
          onChange={(e) => setFilters({ since: e.target.value })}
        />
        <label className="flex items-center gap-1 text-sm">
          <input
            type="checkbox"
            checked={changesOnly}
            onChange={(e) => setFilters({ changes: e.target.checked ? 'only' : 'all' })}
          />
          Changes only
        </label>
      </div>
      <QueryTable
        query={log}
        rows={(data) => data.entries}
        rowKey={(e) => e.id}
        empty="No entries."
        testId="audit-table"
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
          { header: 'Outcome', cell: (e) => <Outcome status={e.status_code} /> },
          { header: 'Tenant', cell: (e) => (e.tenant_filter ? <TenantLink tenantId={e.tenant_filter} /> : '—') },
          {
            header: 'Resource',
            cell: (e) =>
              e.resource_type === 'device' && e.resource_id && e.tenant_filter ? (
                <>
                  device: <DeviceLink deviceId={e.resource_id} tenantId={e.tenant_filter} />
                </>
              ) : e.resource_id ? (
                `${e.resource_type}: ${e.resource_id}`
              ) : (
                '—'
              ),
          },
          { header: 'From', className: 'text-xs', title: (e) => e.user_agent ?? '', cell: (e) => e.ip_address },
        ]}
      />
    </Page>
  );
}
