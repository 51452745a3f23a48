import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { enabledColumn, QueryTable } from '../../components/table';
import { Checkboxes, EditDeleteButtons, ErrorBox, Field, Modal, Page } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { ALERT_TYPES, commaList, isAlertType } from '../../lib/forms';
import { useAuth } from '../../lib/auth';
import type { Answer, Body } from '../../lib/types';
import { severityName, SEVERITY_CHOICES } from '../../lib/format';
import { ScopeFields } from '../../components/device-labels';
import { describeSelector, scopeOf, type DeviceSelector } from '../../lib/selector';

/** A route may also take an integration's own failure, to page through another integration. */

type Route = Answer<'/customer/integration-routes'>['routes'][number];
/** Escalation rows the form offers (the API takes up to five). */
const ESCALATION_ROWS = 3;

function RouteForm({ route, onDone }: { route: Partial<Route>; onDone: () => void }) {
  const client = useQueryClient();
  const integrations = useQuery({
    queryKey: ['integrations'],
    queryFn: () => unwrap(api.GET('/customer/integrations')),
  });
  const [scope, setScope] = useState<DeviceSelector>(route.selector ?? {});
  const save = useMutation({
    mutationFn: (body: Body<'/customer/integration-routes', 'post'>) =>
      unwrap(
        route.route_id
          ? api.PATCH('/customer/integration-routes/{route_id}', {
              params: { path: { route_id: route.route_id } },
              body,
            })
          : api.POST('/customer/integration-routes', { body }),
      ),
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: ['routes'] });
      onDone();
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const escalations = Array.from({ length: ESCALATION_ROWS }, (_, i) => ({
      after_minutes: Number(form.get(`escalate_after_${i}`)),
      integration_id: String(form.get(`escalate_to_${i}`) ?? ''),
    })).filter((step) => step.after_minutes > 0 && step.integration_id);
    save.mutate({
      integration_id: String(form.get('integration_id')),
      name: String(form.get('name')),
      alert_types: form.getAll('alert_types').length
        ? form.getAll('alert_types').map(String).filter(isAlertType)
        : null,
      min_severity: form.get('min_severity') ? Number(form.get('min_severity')) : null,
      site_ids: commaList(form.get('site_ids')),
      device_prefixes: commaList(form.get('device_prefixes')),
      selector: scopeOf(scope),
      deliver_on: form.getAll('deliver_on').map(String),
      renotify_minutes: form.get('renotify_minutes') ? Number(form.get('renotify_minutes')) : null,
      escalations,
    });
  };
  const options = integrations.data?.integrations.map((i) => (
    <option key={i.integration_id} value={i.integration_id}>
      {i.name} ({i.type})
    </option>
  ));
  return (
    <form onSubmit={submit} className="grid grid-cols-2 gap-3" aria-label="Route">
      <Field label="Name">
        <input className="input" name="name" required defaultValue={route.name} />
      </Field>
      <Field label="Integration">
        <select className="input" name="integration_id" required defaultValue={route.integration_id}>
          {options}
        </select>
      </Field>
      <Checkboxes
        legend="Alert types (none = all)"
        name="alert_types"
        values={ALERT_TYPES}
        checked={route.alert_types ?? []}
      />
      <Checkboxes
        legend="Deliver on"
        name="deliver_on"
        values={['OPEN', 'ACKNOWLEDGED', 'CLOSED']}
        checked={route.deliver_on ?? ['OPEN']}
      />
      <Field label="Minimum severity">
        <select className="input" name="min_severity" defaultValue={route.min_severity ?? ''}>
          <option value="">Any</option>
          {SEVERITY_CHOICES.map(([value, name]) => (
            <option key={value} value={value}>
              {name} or more
            </option>
          ))}
        </select>
      </Field>
      <Field label="Sites" hint="comma-separated">
        <input className="input" name="site_ids" defaultValue={route.site_ids?.join(', ')} />
      </Field>
      <Field label="Device id prefixes" hint="comma-separated">
        <input className="input" name="device_prefixes" defaultValue={route.device_prefixes?.join(', ')} />
      </Field>
      <ScopeFields value={scope} onChange={setScope} />
      <Field label="Repeat every (minutes)" hint="while OPEN and unacknowledged; empty: never">
        <input
          className="input"
          name="renotify_minutes"
          type="number"
          min={1}
          max={10080}
          defaultValue={route.renotify_minutes ?? ''}
        />
      </Field>
      <fieldset className="col-span-2 space-y-2 text-sm">
        <legend className="label">Escalation: if still OPEN and unacknowledged after…, also notify</legend>
        {Array.from({ length: ESCALATION_ROWS }, (_, i) => (
          <div key={i} className="flex gap-2">
            <input
              className="input max-w-32"
              name={`escalate_after_${i}`}
              type="number"
              min={1}
              max={10080}
              placeholder="minutes"
              aria-label={`Escalation ${i + 1} after minutes`}
              defaultValue={route.escalations?.[i]?.after_minutes ?? ''}
            />
            <select
              className="input"
              name={`escalate_to_${i}`}
              aria-label={`Escalation ${i + 1} integration`}
              defaultValue={route.escalations?.[i]?.integration_id ?? ''}
            >
              <option value="">—</option>
              {options}
            </select>
          </div>
        ))}
      </fieldset>
      <p className="col-span-2 text-xs text-slate-500">
        Alerts already OPEN (not acknowledged, not silenced) that this route matches once saved are sent to it once,
        marked as already open; a CLOSED goes only where its OPEN went.
      </p>
      <div className="col-span-2">{save.error && <ErrorBox error={save.error} />}</div>
      <div className="col-span-2 flex justify-end">
        <button className="btn-primary" disabled={save.isPending}>
          {route.route_id ? 'Save route' : 'Create route'}
        </button>
      </div>
    </form>
  );
}

export default function Routes() {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const [editing, setEditing] = useState<Partial<Route> | null>(null);
  const routes = useQuery({
    queryKey: ['routes'],
    queryFn: () => unwrap(api.GET('/customer/integration-routes')),
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['routes'] });
  const remove = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE('/customer/integration-routes/{route_id}', { params: { path: { route_id: id } } })),
    onSuccess: refresh,
  });
  const toggle = useMutation({
    mutationFn: (route: Route) =>
      unwrap(
        api.PATCH('/customer/integration-routes/{route_id}', {
          params: { path: { route_id: route.route_id } },
          body: { enabled: !route.enabled },
        }),
      ),
    onSuccess: refresh,
  });
  return (
    <Page
      title="Routes"
      actions={
        admin && (
          <button className="btn-primary" onClick={() => setEditing({})}>
            New route
          </button>
        )
      }
    >
      {(remove.error || toggle.error) && <ErrorBox error={remove.error ?? toggle.error} />}
      <QueryTable
        query={routes}
        rows={(data) => data.routes}
        rowKey={(route) => route.route_id}
        empty="No routes: add one to send alerts to an integration."
        testId="routes-table"
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
                route.min_severity !== null && `${severityName(route.min_severity)} or more`,
                route.site_ids && `sites ${route.site_ids.join(', ')}`,
                route.device_prefixes && `devices ${route.device_prefixes.join(', ')}*`,
                route.selector && describeSelector(route.selector),
              ]
                .filter(Boolean)
                .join(' · ') || 'all',
          },
          { header: 'On', cell: (route) => route.deliver_on.join(', ') },
          {
            header: 'Unacknowledged',
            className: 'text-xs',
            cell: (route) =>
              [
                route.renotify_minutes && `repeat every ${route.renotify_minutes} min`,
                route.escalations.length > 0 &&
                  `escalate after ${route.escalations.map((step) => `${step.after_minutes}`).join(', ')} min`,
              ]
                .filter(Boolean)
                .join(' · ') || '—',
          },
          enabledColumn<Route>(admin, (row) => toggle.mutate(row)),
          admin && {
            header: '',
            className: 'space-x-1 whitespace-nowrap',
            cell: (route) => (
              <EditDeleteButtons
                onEdit={() => setEditing(route)}
                onDelete={() => remove.mutate(route.route_id)}
                confirmText={`Delete route ${route.name}?`}
              />
            ),
          },
        ]}
      />
      <Modal
        open={editing !== null}
        title={editing?.route_id ? 'Edit route' : 'New route'}
        onClose={() => setEditing(null)}
      >
        {editing && <RouteForm route={editing} onDone={() => setEditing(null)} />}
      </Modal>
    </Page>
  );
}
