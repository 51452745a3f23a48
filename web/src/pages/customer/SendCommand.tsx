// Sending a device a command: a name and JSON parameters, typed or taken from the tenant's saved templates
// (which are saved and removed here too), an optional expiry, and optionally waiting for the answer.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { JsonDetails, JsonField, useJsonText } from '../../components/json';
import { ErrorBox, Field } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { COMMAND_NAME_PATTERN } from '../../lib/forms';
import type { Body, Command } from '../../lib/types';

const TEMPLATES_KEY = ['command-templates'];
const MAX_WAIT_SECONDS = 60;

/** What became of the command just sent: waiting, answered, or no answer in the time waited. */
function Outcome({ command, waited }: { command: Command; waited: number }) {
  const finished = command.finished_at !== null;
  return (
    <div role="status" className="space-y-1 text-sm" data-testid="command-outcome">
      <p>
        <code>{command.name}</code>{' '}
        {waited === 0
          ? `is ${command.state}: its row below follows it.`
          : finished
            ? `answered ${command.state}${command.error ? `: ${command.error}` : ''}.`
            : `has no answer after ${waited} s: it is ${command.state}, and its row below follows it.`}
      </p>
      {finished && command.result !== null && <JsonDetails summary="Result" value={command.result} />}
    </div>
  );
}

/** `onSent` refreshes what lists the device's commands. */
export function SendCommand({ deviceId, onSent }: { deviceId: string; onSent: () => unknown }) {
  const client = useQueryClient();
  const [name, setName] = useState('');
  const params = useJsonText('{}', { blank: {} });
  const [templateId, setTemplateId] = useState('');
  const [label, setLabel] = useState('');
  const templates = useQuery({
    queryKey: TEMPLATES_KEY,
    queryFn: () => unwrap(api.GET('/customer/command-templates')),
  });
  const send = useMutation({
    mutationFn: ({ body, wait }: { body: Body<'/customer/devices/{device_id}/commands', 'post'>; wait: number }) =>
      unwrap(
        api.POST('/customer/devices/{device_id}/commands', {
          params: { path: { device_id: deviceId }, query: wait > 0 ? { wait } : {} },
          body,
        }),
      ).then((command) => ({ command, wait })),
    onSettled: onSent,
  });
  const saveTemplate = useMutation({
    mutationFn: () =>
      unwrap(api.POST('/customer/command-templates', { body: { label: label.trim(), name, params: params.value } })),
    onSuccess: async (saved) => {
      await client.invalidateQueries({ queryKey: TEMPLATES_KEY });
      setTemplateId(saved.template_id);
      setLabel('');
    },
  });
  const deleteTemplate = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE('/customer/command-templates/{template_id}', { params: { path: { template_id: id } } })),
    onSuccess: async () => {
      setTemplateId('');
      await client.invalidateQueries({ queryKey: TEMPLATES_KEY });
    },
  });
  const choose = (id: string) => {
    setTemplateId(id);
    const template = templates.data?.templates.find((t) => t.template_id === id);
    if (!template) return;
    setName(template.name);
    params.setText(JSON.stringify(template.params, null, 2));
  };
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (params.error !== undefined) return;
    const form = new FormData(event.currentTarget);
    const expiresMinutes = Number(form.get('expires_minutes'));
    send.mutate({
      body: { name, params: params.value, ...(expiresMinutes > 0 && { expires_in_seconds: expiresMinutes * 60 }) },
      wait: Number(form.get('wait_seconds')) || 0,
    });
  };
  const waiting = send.isPending ? send.variables.wait : 0;
  const chosen = templates.data?.templates.find((t) => t.template_id === templateId);
  return (
    <form className="card grid gap-3 md:grid-cols-2" aria-label="Send a command" onSubmit={submit}>
      <h2 className="text-sm font-semibold md:col-span-2">Send a command</h2>
      <div className="flex items-end gap-2">
        <div className="min-w-0 flex-1">
          <Field label="Template">
            <select className="input" aria-label="Template" value={templateId} onChange={(e) => choose(e.target.value)}>
              <option value="">— type one —</option>
              {templates.data?.templates.map((t) => (
                <option key={t.template_id} value={t.template_id}>
                  {t.label}
                </option>
              ))}
            </select>
          </Field>
        </div>
        {chosen && (
          <button
            type="button"
            className="btn-ghost"
            disabled={deleteTemplate.isPending}
            onClick={() =>
              confirm(`Delete the template "${chosen.label}"?`) && deleteTemplate.mutate(chosen.template_id)
            }
          >
            Delete template
          </button>
        )}
      </div>
      <Field label="Command" hint="What the device switches on: reboot, set_interval…">
        <input
          className="input font-mono"
          name="name"
          required
          pattern={COMMAND_NAME_PATTERN}
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
      </Field>
      <div className="md:row-span-2">
        <JsonField label="Parameters (JSON)" json={params} rows={5} hint="Any JSON; empty sends {}." />
      </div>
      <div className="grid grid-cols-2 gap-3">
        <Field label="Expires in (minutes)" hint="Empty: one day">
          <input className="input" name="expires_minutes" type="number" min={1} max={43_200} />
        </Field>
        <Field label="Wait for the answer (s)" hint={`Up to ${MAX_WAIT_SECONDS}; empty: no`}>
          <input className="input" name="wait_seconds" type="number" min={0} max={MAX_WAIT_SECONDS} />
        </Field>
      </div>
      <div className="flex flex-wrap items-end gap-2 md:col-span-2">
        <button className="btn-primary" disabled={send.isPending || params.error !== undefined}>
          {waiting > 0 ? `Waiting up to ${waiting} s…` : 'Send'}
        </button>
        <span className="ml-auto flex flex-wrap items-end gap-2">
          <input
            className="input w-48"
            aria-label="Template label"
            placeholder="Label for a template"
            value={label}
            onChange={(e) => setLabel(e.target.value)}
          />
          <button
            type="button"
            className="btn-ghost"
            disabled={!label.trim() || !name || params.error !== undefined || saveTemplate.isPending}
            onClick={() => saveTemplate.mutate()}
          >
            Save as template
          </button>
        </span>
      </div>
      {[send.error, saveTemplate.error, deleteTemplate.error].map(
        (error, i) =>
          error && (
            <div key={i} className="md:col-span-2">
              <ErrorBox error={error} />
            </div>
          ),
      )}
      {send.data && (
        <div className="md:col-span-2">
          <Outcome command={send.data.command} waited={send.data.wait} />
        </div>
      )}
    </form>
  );
}
