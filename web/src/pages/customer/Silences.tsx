// Silences: maintenance windows in which matching alerts still open and close but send nothing. Every
// customer role sees them; customer admins create and end them.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { QueryTable } from '../../components/table';
import { Checkboxes, ErrorBox, Field, Modal, Page, TenantLink } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { ALERT_TYPES, commaList, isAlertType } from '../../lib/forms';
import { useAuth } from '../../lib/auth';
import { dateTime } from '../../lib/format';
import type { Answer, Body } from '../../lib/types';
import { ScopeFields } from '../../components/device-labels';
import { describeSelector, scopeOf, type DeviceSelector } from '../../lib/selector';

type Silence = Answer<'/customer/silences'>['silences'][number];
type NewSilence = Body<'/customer/silences', 'post'>;

/** What a silence covers, in words. */
const scope = (s: Silence) =>
  [
    s.site_ids && `sites ${s.site_ids.join(', ')}`,
    s.device_ids && `devices ${s.device_ids.join(', ')}`,
    s.device_prefixes && `devices starting ${s.device_prefixes.join(', ')}`,
    s.selector && describeSelector(s.selector),
    s.alert_types && s.alert_types.join(', '),
  ]
    .filter(Boolean)
    .join('; ') || 'every alert';

const state = (s: Silence, now = Date.now()) =>
  Date.parse(s.ends_at) <= now ? 'ended' : Date.parse(s.starts_at) > now ? 'coming' : 'active';

/** The customer's page (its tenant; admins create and end), or with `operator` every tenant's, read only. */
export default function Silences({ operator = false }: { operator?: boolean }) {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [deviceScope, setDeviceScope] = useState<DeviceSelector>({});
  // A silence without sites, devices, prefixes, tags or attributes covers the whole fleet: asked once more before it starts.
  const [wholeFleet, setWholeFleet] = useState<NewSilence | null>(null);
  const silences = useQuery({
    queryKey: ['silences', operator],
    queryFn: (): Promise<{ silences: Silence[] }> =>
      operator
        ? unwrap(api.GET('/operator/silences', { params: { query: { include_ended: true } } }))
        : unwrap(api.GET('/customer/silences', { params: { query: { include_ended: true } } })),
    refetchInterval: 30_000,
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['silences'] });
  const create = useMutation({
    mutationFn: (body: NewSilence) => unwrap(api.POST('/customer/silences', { body })),
    onSuccess: async () => {
      await refresh();
      setCreating(false);
      setWholeFleet(null);
    },
  });
  const end = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE('/customer/silences/{silence_id}', { params: { path: { silence_id: id } } })),
    onSuccess: refresh,
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const types = form.getAll('alert_types').map(String).filter(isAlertType);
    const body = {
      site_ids: commaList(form.get('site_ids')),
      device_ids: commaList(form.get('device_ids')),
      device_prefixes: commaList(form.get('device_prefixes')),
      selector: scopeOf(deviceScope),
      alert_types: types.length ? types : null,
      duration_minutes: Number(form.get('duration_minutes')),
      comment: String(form.get('comment')),
    };
    const scoped =
      body.selector !== null ||
      [body.site_ids, body.device_ids, body.device_prefixes].some((list) => list && list.length > 0);
    if (scoped) create.mutate(body);
    else setWholeFleet(body);
  };
  return (
    <Page
      title="Silences"
      actions={
        admin && (
          <button
            className="btn-primary"
            onClick={() => {
              setDeviceScope({});
              setCreating(true);
            }}
          >
            New silence
          </button>
        )
      }
    >
      <p className="text-sm text-slate-500">
        During a silence, matching alerts still open and close and show here as silenced, but nothing is sent — not even
        after it ends.
      </p>
      {end.error && <ErrorBox error={end.error} />}
      <QueryTable
        query={silences}
        rows={(data) => data.silences}
        rowKey={(s) => s.silence_id}
        empty="No silences: every matching alert is sent."
        testId="silences-table"
        columns={[
          operator && { header: 'Tenant', cell: (s) => <TenantLink tenantId={s.tenant_id} /> },
          { header: 'State', cell: (s) => state(s) },
          { header: 'Covers', cell: (s) => scope(s) },
          { header: 'From', cell: (s) => dateTime(s.starts_at) },
          { header: 'Until', cell: (s) => dateTime(s.ends_at) },
          { header: 'Why', className: 'max-w-64 truncate', cell: (s) => s.comment },
          { header: 'By', cell: (s) => s.created_by ?? '—' },
          admin && {
            header: '',
            cell: (s) =>
              state(s) !== 'ended' && (
                <button className="btn-ghost" onClick={() => end.mutate(s.silence_id)}>
                  End now
                </button>
              ),
          },
        ]}
      />
      <Modal
        open={creating}
        title="New silence"
        onClose={() => {
          setCreating(false);
          setWholeFleet(null);
        }}
      >
        <form onSubmit={submit} className="grid gap-3 md:grid-cols-2" aria-label="New silence">
          <Field label="Sites" hint="comma-separated; empty = any">
            <input className="input" name="site_ids" />
          </Field>
          <Field label="Device ids" hint="comma-separated; empty = any">
            <input className="input" name="device_ids" />
          </Field>
          <Field label="Device id prefixes" hint="e.g. pump-">
            <input className="input" name="device_prefixes" />
          </Field>
          <ScopeFields value={deviceScope} onChange={setDeviceScope} />
          <Checkboxes legend="Alert types (none = any)" name="alert_types" values={ALERT_TYPES} />
          <Field label="For (minutes)">
            <input
              className="input"
              name="duration_minutes"
              type="number"
              min={1}
              max={129600}
              defaultValue={60}
              required
            />
          </Field>
          <Field label="Why">
            <input className="input" name="comment" required placeholder="pump replacement, hall B" />
          </Field>
          {create.error && <ErrorBox error={create.error} />}
          {wholeFleet ? (
            <div role="alert" className="space-y-2 rounded border border-amber-400 p-3 text-sm md:col-span-2">
              <p>
                No sites, devices, prefixes, tags or attributes: this silences{' '}
                {wholeFleet.alert_types ? 'these alert types on every device' : 'every alert of every device'} of the
                tenant. Nothing will be sent for them until it ends.
              </p>
              <button type="button" className="btn-primary" onClick={() => create.mutate(wholeFleet)}>
                Silence the whole fleet
              </button>{' '}
              <button type="button" className="btn-ghost" onClick={() => setWholeFleet(null)}>
                Cancel
              </button>
            </div>
          ) : (
            <div className="md:col-span-2">
              <button className="btn-primary" disabled={create.isPending}>
                Start silence
              </button>
            </div>
          )}
        </form>
      </Modal>
    </Page>
  );
}
