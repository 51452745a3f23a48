import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { QueryTable } from '../../components/table';
import { Checkboxes, ErrorBox, Field, Modal, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { ALERT_TYPES, commaList } from '../../lib/forms';
import { useAuth } from '../../lib/auth';
import type { Answer } from '../../lib/types';

export default function Routes() {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const [creating, setCreating] = useState(false);
  const routes = useQuery({
    queryKey: ['routes'],
    queryFn: () => api<Answer<'/customer/integration-routes'>>('/customer/integration-routes'),
  });
  const integrations = useQuery({
    queryKey: ['integrations'],
    queryFn: () => api<Answer<'/customer/integrations'>>('/customer/integrations'),
  });
  const create = useMutation({
    mutationFn: (body: Record<string, unknown>) => api('/customer/integration-routes', { method: 'POST', body }),
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: ['routes'] });
      setCreating(false);
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => api(`/customer/integration-routes/${id}`, { method: 'DELETE' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['routes'] }),
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    create.mutate({
      integration_id: form.get('integration_id'),
      name: form.get('name'),
      alert_types: form.getAll('alert_types').length ? form.getAll('alert_types') : null,
      min_severity: form.get('min_severity') ? Number(form.get('min_severity')) : null,
      site_ids: commaList(form.get('site_ids')),
      device_prefixes: commaList(form.get('device_prefixes')),
      deliver_on: form.getAll('deliver_on'),
    });
  };
  return (
    <Page
      title="Routes"
      actions={
        admin && (
          <button className="btn-primary" onClick={() => setCreating(true)}>
            New route
          </button>
        )
      }
    >
      {remove.error && <ErrorBox error={remove.error} />}
      <QueryTable
        query={routes}
        rows={(data) => data.routes}
        rowKey={(route) => route.route_id}
        empty="No routes: add one to send alerts to an integration."
        columns={[
          { header: 'Name', className: 'font-medium', cell: (route) => route.name },
          {
            header: 'To',
            cell: (route) => (
              <>
                {route.integration_name} <span className="text-xs text-slate-500">({route.integration_type})</span>
              </>
            ),
          },
          {
            header: 'Which alerts',
            className: 'text-xs',
            cell: (route) =>
              [
                route.alert_types?.join(', '),
                route.min_severity !== null && `severity ≥ ${route.min_severity}`,
                route.site_ids && `sites ${route.site_ids.join(', ')}`,
                route.device_prefixes && `devices ${route.device_prefixes.join(', ')}*`,
              ]
                .filter(Boolean)
                .join(' · ') || 'all',
          },
          { header: 'On', cell: (route) => route.deliver_on.join(', ') },
          admin && {
            header: '',
            cell: (route) => (
              <button className="btn-ghost" onClick={() => remove.mutate(route.route_id)}>
                Delete
              </button>
            ),
          },
        ]}
      />
      <Modal open={creating} title="New route" onClose={() => setCreating(false)}>
        <form onSubmit={submit} className="grid grid-cols-2 gap-3" aria-label="New route">
          <Field label="Name">
            <input className="input" name="name" required />
          </Field>
          <Field label="Integration">
            <select className="input" name="integration_id" required>
              {integrations.data?.integrations.map((i) => (
                <option key={i.integration_id} value={i.integration_id}>
                  {i.name} ({i.type})
                </option>
              ))}
            </select>
          </Field>
          <Checkboxes legend="Alert types (none = all)" name="alert_types" values={ALERT_TYPES} />
          <Checkboxes legend="Deliver on" name="deliver_on" values={['OPEN', 'CLOSED']} checked={['OPEN']} />
          <Field label="Minimum severity">
            <input className="input" name="min_severity" type="number" min={0} max={5} />
          </Field>
          <Field label="Sites" hint="comma-separated">
            <input className="input" name="site_ids" />
          </Field>
          <Field label="Device id prefixes" hint="comma-separated">
            <input className="input" name="device_prefixes" />
          </Field>
          <div className="col-span-2">{create.error && <ErrorBox error={create.error} />}</div>
          <div className="col-span-2 flex justify-end">
            <button className="btn-primary">Create route</button>
          </div>
        </form>
      </Modal>
    </Page>
  );
}
