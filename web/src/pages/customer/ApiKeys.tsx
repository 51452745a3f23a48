// API keys (customer_admin): keys for scripts and machine clients, used as `Authorization: Bearer <key>`
// on /api/v2 and /customer. The secret is shown once, at creation; the list shows each key's last use.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { QueryTable } from '../../components/table';
import { ErrorBox, Field, Page, StatusBadge } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { commaList } from '../../lib/forms';
import { dateTime, timeAgo } from '../../lib/format';
import type { Answer, Body } from '../../lib/types';
import { Secret } from './DeviceManagement';

type Created = Answer<'/customer/api-keys', 'post'>;
type Key = Answer<'/customer/api-keys'>['keys'][number];

export default function ApiKeys() {
  const client = useQueryClient();
  const keys = useQuery({
    queryKey: ['api-keys'],
    queryFn: () => unwrap(api.GET('/customer/api-keys')),
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['api-keys'] });
  const [created, setCreated] = useState<Created | null>(null);
  const create = useMutation({
    mutationFn: (body: Body<'/customer/api-keys', 'post'>) => unwrap(api.POST('/customer/api-keys', { body })),
    onSuccess: async (key) => {
      setCreated(key);
      await refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: (key: Key) =>
      unwrap(api.DELETE('/customer/api-keys/{key_id}', { params: { path: { key_id: key.key_id } } })),
    onSuccess: refresh,
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const expires = String(form.get('expires_at') ?? '');
    create.mutate({
      name: String(form.get('name')).trim(),
      role: form.get('role') === 'customer_admin' ? 'customer_admin' : 'customer_viewer',
      ...(expires && { expires_at: new Date(expires).toISOString() }),
      allowed_cidrs: commaList(form.get('allowed_cidrs')) ?? [],
    });
    event.currentTarget.reset();
  };
  return (
    <Page title="API keys">
      <p className="text-sm text-slate-500">
        For scripts and machine clients: send <code>Authorization: Bearer &lt;key&gt;</code> to <code>/api/v2</code> and{' '}
        <code>/customer</code>. A key acts with its role, its requests are rate-limited on their own and what it changes
        is in the audit log under its name. Revoking stops it within seconds.
      </p>
      <form className="card grid grid-cols-2 gap-3" aria-label="New API key" onSubmit={submit}>
        <Field label="Name">
          <input className="input" name="name" required maxLength={100} placeholder="ci-export" />
        </Field>
        <Field label="Role">
          <select className="input" name="role" defaultValue="customer_viewer">
            <option value="customer_viewer">Viewer (read only)</option>
            <option value="customer_admin">Admin (read and change)</option>
          </select>
        </Field>
        <Field label="Expires" hint="empty: never">
          <input className="input" name="expires_at" type="datetime-local" />
        </Field>
        <Field label="Allowed networks" hint="comma-separated CIDRs or addresses; empty: anywhere">
          <input className="input" name="allowed_cidrs" placeholder="203.0.113.0/24" />
        </Field>
        <div className="col-span-2 flex justify-end">
          <button className="btn-primary" disabled={create.isPending}>
            Create key
          </button>
        </div>
      </form>
      {created && (
        <div className="card space-y-2" role="status">
          <Secret
            label="API key"
            value={created.secret}
            hint={`Shown once: copy it now. curl -H 'Authorization: Bearer ${created.prefix}…' ${window.location.origin}/api/v2/devices`}
          />
        </div>
      )}
      {(create.error || revoke.error) && <ErrorBox error={create.error ?? revoke.error} />}
      <QueryTable
        query={keys}
        rows={(data) => data.keys}
        rowKey={(key) => key.key_id}
        empty="No API keys yet."
        testId="api-keys-table"
        columns={[
          { header: 'Name', className: 'font-medium', cell: (key) => key.name },
          { header: 'Key', className: 'font-mono text-xs', cell: (key) => `${key.prefix}…` },
          { header: 'Role', cell: (key) => (key.role === 'customer_admin' ? 'admin' : 'viewer') },
          { header: 'Status', cell: (key) => <StatusBadge status={key.status.toUpperCase()} /> },
          {
            header: 'Last used',
            title: (key) => (key.last_used_at ? dateTime(key.last_used_at) : ''),
            cell: (key) =>
              key.last_used_at
                ? `${timeAgo(key.last_used_at)} from ${key.last_used_ip ?? '?'} (${key.use_count})`
                : 'never',
          },
          { header: 'Expires', cell: (key) => (key.expires_at ? dateTime(key.expires_at) : 'never') },
          { header: 'Networks', className: 'text-xs', cell: (key) => key.allowed_cidrs.join(', ') || 'any' },
          {
            header: 'Created',
            title: (key) => dateTime(key.created_at),
            cell: (key) => `${timeAgo(key.created_at)} by ${key.created_by}`,
          },
          {
            header: '',
            cell: (key) =>
              key.status === 'revoked' ? null : (
                <button
                  className="btn-ghost text-rose-600"
                  onClick={() => {
                    if (window.confirm(`Revoke ${key.name}? Clients using it are refused from now on.`))
                      revoke.mutate(key);
                  }}
                >
                  Revoke
                </button>
              ),
          },
        ]}
      />
    </Page>
  );
}
