// Alert readers on the Integrations page: the MQTT logins a tenant's own clients use to subscribe to
// alerts/<tenant>/# on Pulse's broker, where its MQTT integrations publish. Nobody else may read there.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { QueryTable } from '../../components/table';
import { ErrorBox } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import { timeAgo } from '../../lib/format';
import { Secret } from './DeviceManagement';

export function AlertReaders() {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const readers = useQuery({
    queryKey: ['mqtt-readers'],
    queryFn: () => unwrap(api.GET('/customer/mqtt-readers')),
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['mqtt-readers'] });
  const [name, setName] = useState('');
  const create = useMutation({
    mutationFn: (body: { name: string }) => unwrap(api.POST('/customer/mqtt-readers', { body })),
    onSuccess: async () => {
      setName('');
      await refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (reader: string) =>
      unwrap(api.DELETE('/customer/mqtt-readers/{name}', { params: { path: { name: reader } } })),
    onSuccess: refresh,
  });
  return (
    <section className="space-y-2" aria-label="Alert readers">
      <h2 className="text-lg font-semibold">MQTT alert readers</h2>
      <p className="text-sm text-slate-500">
        MQTT integrations publish on Pulse&apos;s broker under <code>alerts/&lt;tenant&gt;/</code>. Only these logins
        may subscribe there, and only to your tenant&apos;s alerts.
      </p>
      {admin && (
        <form
          className="flex flex-wrap items-end gap-2"
          aria-label="New alert reader"
          onSubmit={(event) => {
            event.preventDefault();
            create.mutate({ name: name.trim() });
          }}
        >
          <label>
            <span className="label">Name</span>
            <input
              className="input"
              value={name}
              onChange={(e) => setName(e.target.value)}
              required
              pattern="[A-Za-z0-9_\-]{1,64}"
              placeholder="scada"
            />
          </label>
          <button className="btn-primary" disabled={create.isPending}>
            Add reader
          </button>
        </form>
      )}
      {create.data && (
        <div className="card space-y-2" role="status">
          <Secret label="Reader username" value={create.data.username} />
          <Secret
            label="Reader password"
            value={create.data.password}
            hint={`Shown once. Connect with client id ${create.data.client_id} and subscribe to ${create.data.topic_filter}${create.data.mqtt_url ? ` on ${create.data.mqtt_url}` : ''}.`}
          />
        </div>
      )}
      {(create.error || remove.error) && <ErrorBox error={create.error ?? remove.error} />}
      <QueryTable
        query={readers}
        rows={(data) => data.readers}
        rowKey={(r) => r.name}
        empty="No alert readers: nobody can subscribe to your alert topics."
        testId="alert-readers-table"
        columns={[
          { header: 'Name', className: 'font-medium', cell: (r) => r.name },
          { header: 'Username', className: 'font-mono text-xs', cell: (r) => r.username },
          { header: 'Reads', className: 'font-mono text-xs', cell: (r) => r.topic_filter },
          { header: 'Created', cell: (r) => `${timeAgo(r.created_at)}${r.created_by ? ` by ${r.created_by}` : ''}` },
          admin && {
            header: '',
            cell: (r) => (
              <button
                className="btn-ghost"
                onClick={() => confirm(`Remove ${r.name}? Its connections are closed.`) && remove.mutate(r.name)}
              >
                Remove
              </button>
            ),
          },
        ]}
      />
    </section>
  );
}
