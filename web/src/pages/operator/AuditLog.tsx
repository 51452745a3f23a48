import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Empty, Loaded, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { dateTime } from '../../lib/format';

interface Entry {
  id: number;
  user_id: string;
  username: string | null;
  action: string;
  tenant_filter: string | null;
  resource_type: string | null;
  resource_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  created_at: string;
}

export default function AuditLog() {
  const [user, setUser] = useState('');
  const [action, setAction] = useState('');
  const [since, setSince] = useState('');
  const params = new URLSearchParams({
    limit: '200',
    ...(user && { user_id: user }),
    ...(action && { action }),
    ...(since && { since: new Date(since).toISOString() }),
  });
  const log = useQuery({
    queryKey: ['audit', params.toString()],
    queryFn: () => api<{ entries: Entry[] }>(`/operator/audit-log?${params}`),
  });
  return (
    <Page title="Audit log">
      <div className="card flex flex-wrap gap-2">
        <input
          className="input max-w-48"
          placeholder="User"
          aria-label="User"
          value={user}
          onChange={(e) => setUser(e.target.value)}
        />
        <input
          className="input max-w-48"
          placeholder="Action"
          aria-label="Action"
          value={action}
          onChange={(e) => setAction(e.target.value)}
        />
        <input
          className="input max-w-56"
          type="datetime-local"
          aria-label="Since"
          value={since}
          onChange={(e) => setSince(e.target.value)}
        />
      </div>
      <div className="card overflow-x-auto">
        <Loaded query={log}>
          {(data) =>
            data.entries.length === 0 ? (
              <Empty>No entries.</Empty>
            ) : (
              <table className="table" data-testid="audit-table">
                <thead>
                  <tr>
                    <th>When</th>
                    <th>Who</th>
                    <th>Action</th>
                    <th>Tenant</th>
                    <th>Resource</th>
                    <th>From</th>
                  </tr>
                </thead>
                <tbody>
                  {data.entries.map((e) => (
                    <tr key={e.id}>
                      <td>{dateTime(e.created_at)}</td>
                      <td>{e.username ?? e.user_id}</td>
                      <td className="font-mono text-xs">{e.action}</td>
                      <td>{e.tenant_filter ?? '—'}</td>
                      <td>{e.resource_id ? `${e.resource_type}: ${e.resource_id}` : '—'}</td>
                      <td className="text-xs" title={e.user_agent ?? ''}>
                        {e.ip_address}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Loaded>
      </div>
    </Page>
  );
}
