import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { EditDeleteCell, Empty, ErrorBox, Field, Loaded, Modal, Page, StatusBadge } from '../../components/ui';
import { api } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import { timeAgo } from '../../lib/format';

interface TenantStats {
  tenant_id: string;
  name: string;
  status: string;
  device_count: number;
  online_count: number;
  open_alerts: number;
  last_activity: string | null;
}

export default function Tenants() {
  const admin = useAuth((s) => s.session?.role === 'operator_admin');
  const client = useQueryClient();
  const [editing, setEditing] = useState<Partial<TenantStats> | null>(null);
  const tenants = useQuery({
    queryKey: ['tenants'],
    queryFn: () => api<{ tenants: TenantStats[] }>('/operator/tenants/stats/summary'),
    refetchInterval: 15_000,
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['tenants'] });
  const save = useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      editing?.tenant_id
        ? api(`/operator/tenants/${editing.tenant_id}`, { method: 'PATCH', body })
        : api('/operator/tenants', { method: 'POST', body }),
    onSuccess: async () => {
      await refresh();
      setEditing(null);
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => api(`/operator/tenants/${id}`, { method: 'DELETE' }),
    onSuccess: refresh,
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body: Record<string, unknown> = { name: form.get('name'), contact_email: form.get('contact_email') || null };
    if (editing?.tenant_id) body.status = form.get('status');
    else body.tenant_id = form.get('tenant_id');
    save.mutate(body);
  };
  return (
    <Page
      title="Tenants"
      actions={
        admin && (
          <button className="btn-primary" onClick={() => setEditing({})}>
            New tenant
          </button>
        )
      }
    >
      {remove.error && <ErrorBox error={remove.error} />}
      <div className="card overflow-x-auto">
        <Loaded query={tenants}>
          {(data) =>
            data.tenants.length === 0 ? (
              <Empty>No tenants.</Empty>
            ) : (
              <table className="table" data-testid="tenants-table">
                <thead>
                  <tr>
                    <th>Tenant</th>
                    <th>Status</th>
                    <th>Devices</th>
                    <th>Online</th>
                    <th>Open alerts</th>
                    <th>Last activity</th>
                    {admin && <th />}
                  </tr>
                </thead>
                <tbody>
                  {data.tenants.map((t) => (
                    <tr key={t.tenant_id}>
                      <td>
                        <Link className="text-indigo-600" to={`/operator/tenants/${t.tenant_id}`}>
                          {t.tenant_id}
                        </Link>
                        <div className="text-xs text-slate-500">{t.name}</div>
                      </td>
                      <td>
                        <StatusBadge status={t.status} />
                      </td>
                      <td>{t.device_count}</td>
                      <td>{t.online_count}</td>
                      <td>{t.open_alerts}</td>
                      <td>{timeAgo(t.last_activity)}</td>
                      {admin && (
                        <EditDeleteCell
                          onEdit={() => setEditing(t)}
                          onDelete={() => remove.mutate(t.tenant_id)}
                          confirmText={`Delete tenant ${t.tenant_id}?`}
                        />
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Loaded>
      </div>
      <Modal
        open={editing !== null}
        title={editing?.tenant_id ? `Edit ${editing.tenant_id}` : 'New tenant'}
        onClose={() => setEditing(null)}
      >
        <form onSubmit={submit} className="space-y-3" aria-label="Tenant">
          {!editing?.tenant_id && (
            <Field label="Tenant id" hint="lowercase letters, digits and hyphens">
              <input className="input" name="tenant_id" required pattern="[a-z0-9]([a-z0-9-]*[a-z0-9])?" />
            </Field>
          )}
          <Field label="Name">
            <input className="input" name="name" required defaultValue={editing?.name} />
          </Field>
          <Field label="Contact email">
            <input className="input" name="contact_email" type="email" />
          </Field>
          {editing?.tenant_id && (
            <Field label="Status">
              <select className="input" name="status" defaultValue={editing.status}>
                <option>ACTIVE</option>
                <option>SUSPENDED</option>
              </select>
            </Field>
          )}
          {save.error && <ErrorBox error={save.error} />}
          <div className="flex justify-end">
            <button className="btn-primary">Save</button>
          </div>
        </form>
      </Modal>
    </Page>
  );
}
