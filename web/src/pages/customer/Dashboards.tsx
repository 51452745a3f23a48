// The tenant's dashboards (issue 32): every customer role opens them; a customer admin creates one, or
// imports an exported JSON document (the API's 422 names what is wrong in it). The built-in dashboard is
// listed while the tenant has none of its own.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { ErrorBox, Field, Loaded, Modal, Page } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import { timeAgo } from '../../lib/format';
import type { Body } from '../../lib/types';

type NewDashboard = Body<'/customer/dashboards', 'post'>;

export default function Dashboards() {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  const [fileError, setFileError] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ['dashboards'],
    queryFn: () => unwrap(api.GET('/customer/dashboards')),
  });
  const create = useMutation({
    mutationFn: (body: NewDashboard) => unwrap(api.POST('/customer/dashboards', { body })),
    onSuccess: async (created) => {
      await client.invalidateQueries({ queryKey: ['dashboards'] });
      void navigate(`/dashboards/${created.dashboard_id}`);
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget).get('name'));
    create.mutate({ version: 1, name, widgets: [] });
  };
  const importFile = async (file: File | undefined) => {
    if (!file) return;
    let document: unknown;
    try {
      document = JSON.parse(await file.text());
    } catch {
      setFileError(`${file.name} is not JSON: export a dashboard to get a file to import`);
      return;
    }
    setFileError(null);
    // Whatever the file holds: the API checks it, and its 422 names what is wrong.
    create.mutate(document as NewDashboard);
  };
  return (
    <Page
      title="Dashboards"
      actions={
        admin && (
          <div className="flex gap-2">
            <label className="btn-ghost cursor-pointer">
              Import JSON
              <input
                type="file"
                accept="application/json,.json"
                className="sr-only"
                data-testid="import-dashboard"
                onChange={(event) => {
                  void importFile(event.target.files?.[0]);
                  // The same file chosen again (after fixing it) is a change too.
                  event.target.value = '';
                }}
              />
            </label>
            <button className="btn-primary" onClick={() => setCreating(true)}>
              New dashboard
            </button>
          </div>
        )
      }
    >
      {fileError && <ErrorBox error={new Error(fileError)} />}
      {create.error && !creating && <ErrorBox error={create.error} />}
      <Loaded query={list}>
        {({ dashboards, built_in }) => (
          <ul className="card divide-y divide-slate-100 !p-0 dark:divide-slate-800" data-testid="dashboard-list">
            {dashboards.length === 0 && (
              <li className="flex items-center gap-2 p-3">
                <Link className="font-medium text-indigo-600 hover:underline" to="/dashboards/default">
                  {built_in.name}
                </Link>
                <span className="text-xs text-slate-500">built in — {built_in.description}</span>
              </li>
            )}
            {dashboards.map((dashboard) => (
              <li key={dashboard.dashboard_id} className="flex items-center gap-2 p-3">
                <Link
                  className="font-medium text-indigo-600 hover:underline"
                  to={`/dashboards/${dashboard.dashboard_id}`}
                >
                  {dashboard.name}
                </Link>
                <span className="ml-auto text-xs text-slate-500">changed {timeAgo(dashboard.updated_at)}</span>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
      <Modal open={creating} title="New dashboard" onClose={() => setCreating(false)}>
        <form onSubmit={submit} className="space-y-3">
          <Field label="Name">
            <input name="name" className="input w-full" required maxLength={100} autoFocus />
          </Field>
          {create.error && <ErrorBox error={create.error} />}
          <button className="btn-primary" disabled={create.isPending}>
            Create
          </button>
        </form>
      </Modal>
    </Page>
  );
}
