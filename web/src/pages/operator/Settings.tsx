import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { FormEvent } from 'react';
import { ErrorBox, Field, Loaded, Page } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import type { Answer, Body } from '../../lib/types';

type Settings = Answer<'/operator/settings'>['settings'];

export default function SettingsPage() {
  const client = useQueryClient();
  const settings = useQuery({
    queryKey: ['settings'],
    queryFn: () => unwrap(api.GET('/operator/settings')),
  });
  const save = useMutation({
    mutationFn: (body: Body<'/operator/settings', 'post'>) => unwrap(api.POST('/operator/settings', { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['settings'] }),
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    save.mutate({
      mode: form.get('mode') as Settings['mode'],
      store_rejects: form.get('store_rejects') === 'on',
      max_payload_bytes: Number(form.get('max_payload_bytes')),
      rate_limit_rps: Number(form.get('rate_limit_rps')),
      rate_limit_burst: Number(form.get('rate_limit_burst')),
    });
  };
  return (
    <Page title="Settings">
      <Loaded query={settings}>
        {({ settings: s, defaults }) => (
          <form
            key={JSON.stringify(s)}
            onSubmit={submit}
            className="card grid max-w-2xl grid-cols-2 gap-3"
            aria-label="Ingest settings"
          >
            <Field label="Mode" hint="DEV stores rejected payloads (tokens redacted); PROD never does">
              <select className="input" name="mode" defaultValue={s.mode}>
                <option>DEV</option>
                <option>PROD</option>
              </select>
            </Field>
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" name="store_rejects" defaultChecked={s.store_rejects} /> Store reject events in
              PROD (without payloads)
            </label>
            <Field label="Largest message (bytes)" hint={`default ${defaults.max_payload_bytes}`}>
              <input
                className="input"
                name="max_payload_bytes"
                type="number"
                min={256}
                defaultValue={s.max_payload_bytes}
              />
            </Field>
            <Field label="Messages per second per device" hint={`default ${defaults.rate_limit_rps}`}>
              <input
                className="input"
                name="rate_limit_rps"
                type="number"
                step="any"
                min={0.1}
                defaultValue={s.rate_limit_rps}
              />
            </Field>
            <Field label="Burst per device" hint={`default ${defaults.rate_limit_burst}`}>
              <input
                className="input"
                name="rate_limit_burst"
                type="number"
                min={1}
                defaultValue={s.rate_limit_burst}
              />
            </Field>
            <div className="col-span-2">
              {save.error && <ErrorBox error={save.error} />}
              {save.isSuccess && (
                <p role="status" className="text-sm text-emerald-600">
                  Saved; ingest applies it within a few seconds.
                </p>
              )}
            </div>
            <div className="col-span-2 flex justify-end">
              <button className="btn-primary" disabled={save.isPending}>
                Save settings
              </button>
            </div>
          </form>
        )}
      </Loaded>
    </Page>
  );
}
