import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { QueryTable } from '../../components/table';
import { EditDeleteButtons, ErrorBox, Field, Modal, Page, StatusBadge } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import type { Answer, Body } from '../../lib/types';
import { useAuth } from '../../lib/auth';
import { timeAgo } from '../../lib/format';

type TenantStats = Answer<'/operator/tenants/stats/summary'>['tenants'][number];
/** What the form's status select offers (DELETED comes by deleting). */
type TenantStatus = NonNullable<Body<'/operator/tenants/{tenant_id}', 'patch'>['status']>;

export default function Tenants() {
  const admin = useAuth((s) => s.session?.role === 'operator_admin');
  const client = useQueryClient();
  const [editing, setEditing] = useState<Partial<TenantStats> | null>(null);
  const tenants = useQuery({
    queryKey: ['tenants'],
    queryFn: () => unwrap(api.GET('/operator/tenants/stats/summary')),
    refetchInterval: 15_000,
  });
  // The list does not carry contact details: an edit starts from the tenant itself, or it would blank them.
  const detail = useQuery({
    queryKey: ['tenant', editing?.tenant_id],
    queryFn: () =>
      unwrap(api.GET('/operator/tenants/{tenant_id}', { params: { path: { tenant_id: editing!.tenant_id! } } })),
    enabled: Boolean(editing?.tenant_id),
  });
  const loadingDetail = Boolean(editing?.tenant_id) && !detail.data;
  const refresh = () => client.invalidateQueries({ queryKey: ['tenants'] });
  const save = useMutation({
    mutationFn: (form: FormData) => {
      const fields = { name: String(form.get('name')), contact_email: String(form.get('contact_email')) || null };
      return unwrap(
        editing?.tenant_id
          ? api.PATCH('/operator/tenants/{tenant_id}', {
              params: { path: { tenant_id: editing.tenant_id } },
              body: { ...fields, status: form.get('status') as TenantStatus },
            })
          : api.POST('/operator/tenants', { body: { ...fields, tenant_id: String(form.get('tenant_id')) } }),
      );
    },
    onSuccess: async () => {
      await refresh();
      setEditing(null);
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE('/operator/tenants/{tenant_id}', { params: { path: { tenant_id: id } } })),
    onSuccess: refresh,
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    save.mutate(new FormData(event.currentTarget));
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
      <QueryTable
        query={tenants}
        rows={(data) => data.tenants}
        rowKey={(t) => t.tenant_id}
        empty="No tenants."
        testId="tenants-table"
        columns={[
          {
            header: 'Tenant',
            cell: (t) => (
              <>
                <Link className="text-indigo-600" to={`/operator/tenants/${t.tenant_id}`}>
                  {t.tenant_id}
                </Link>
                <div className="text-xs text-slate-500">{t.name}</div>
              </>
            ),
          },
          { header: 'Status', cell: (t) => <StatusBadge status={t.status} /> },
          { header: 'Devices', cell: (t) => t.device_count },
          { header: 'Online', cell: (t) => t.online_count },
          { header: 'Open alerts', cell: (t) => t.open_alerts },
          { header: 'Last activity', cell: (t) => timeAgo(t.last_activity) },
          admin && {
            header: '',
            className: 'space-x-1 whitespace-nowrap',
            cell: (t) => (
              <EditDeleteButtons
                onEdit={() => setEditing(t)}
                onDelete={() => remove.mutate(t.tenant_id)}
                confirmText={
                  t.device_count > 0
                    ? `Delete tenant ${t.tenant_id}? Its ${t.device_count} devices are revoked: their messages are refused from now on.`
                    : `Delete tenant ${t.tenant_id}?`
                }
              />
            ),
          },
        ]}
      />
      <Modal
        open={editing !== null}
        title={editing?.tenant_id ? `Edit ${editing.tenant_id}` : 'New tenant'}
        onClose={() => setEditing(null)}
      >
        <form onSubmit={submit} className="space-y-3" aria-label="Tenant">
          {!editing?.tenant_id && (
            <Field label="Tenant id" hint="lowercase letters, digits and hyphens">
              <input className="input" name="tenant_id" required pattern="[a-z0-9]([a-z0-9\-]*[a-z0-9])?" />
            </Field>
          )}
          <Field label="Name">
            <input className="input" name="name" required defaultValue={editing?.name} />
          </Field>
          <Field label="Contact email">
            <input
              className="input"
              name="contact_email"
              type="email"
              key={detail.data ? 'loaded' : 'empty'}
              defaultValue={editing?.tenant_id ? (detail.data?.contact_email ?? '') : ''}
            />
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
            <button className="btn-primary" disabled={loadingDetail}>
              Save
            </button>
          </div>
        </form>
      </Modal>
    </Page>
  );
}
