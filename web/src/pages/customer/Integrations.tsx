import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { enabledColumn, QueryTable } from '../../components/table';
import { ErrorBox, Field, Modal, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { commaList } from '../../lib/forms';
import { useAuth } from '../../lib/auth';
import { timeAgo } from '../../lib/format';
import type { Answer, Integration } from '../../lib/types';
import { AlertReaders } from './AlertReaders';

type TestResult = Answer<'/customer/integrations/{integration_id}/test', 'post'>;
type Kind = Integration['type'];

/** The request body of each type's form, as the API expects it. */
function bodyFor(kind: Kind, form: FormData): [string, Record<string, unknown>] {
  const name = form.get('name');
  switch (kind) {
    case 'webhook':
      return ['/customer/integrations', { name, webhook_url: form.get('webhook_url') }];
    case 'snmp': {
      const v3 = form.get('version') === '3';
      return [
        '/customer/integrations/snmp',
        {
          name,
          snmp_host: form.get('snmp_host'),
          snmp_port: Number(form.get('snmp_port') || 162),
          snmp_config: v3
            ? {
                version: '3',
                username: form.get('username'),
                auth_protocol: form.get('auth_protocol'),
                auth_password: form.get('auth_password'),
                priv_protocol: form.get('priv_protocol') || null,
                priv_password: form.get('priv_password') || null,
              }
            : { version: '2c', community: form.get('community') },
        },
      ];
    }
    case 'email':
      return [
        '/customer/integrations/email',
        {
          name,
          smtp_config: {
            smtp_host: form.get('smtp_host'),
            smtp_port: Number(form.get('smtp_port') || 587),
            smtp_user: form.get('smtp_user') || null,
            smtp_password: form.get('smtp_password') || null,
            smtp_tls: form.get('smtp_tls') === 'on',
            from_address: form.get('from_address'),
          },
          recipients: { to: commaList(form.get('to')) ?? [], cc: commaList(form.get('cc')) ?? [], bcc: [] },
        },
      ];
    case 'mqtt':
      return [
        '/customer/integrations/mqtt',
        {
          name,
          mqtt_topic: form.get('mqtt_topic'),
          mqtt_qos: Number(form.get('mqtt_qos')),
          mqtt_retain: form.get('mqtt_retain') === 'on',
        },
      ];
  }
}

function CreateForm({ onDone }: { onDone: (secret?: string) => void }) {
  const client = useQueryClient();
  const [kind, setKind] = useState<Kind>('webhook');
  const [version, setVersion] = useState('2c');
  const create = useMutation({
    mutationFn: ([path, body]: [string, Record<string, unknown>]) =>
      // Only a webhook's answer has a signing secret.
      api<Partial<Answer<'/customer/integrations', 'post'>>>(path, { method: 'POST', body }),
    onSuccess: async (created) => {
      await client.invalidateQueries({ queryKey: ['integrations'] });
      onDone(created.signing_secret);
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    create.mutate(bodyFor(kind, new FormData(event.currentTarget)));
  };
  return (
    <form onSubmit={submit} className="space-y-3" aria-label="New integration">
      <div role="tablist" className="flex gap-1">
        {(['webhook', 'snmp', 'email', 'mqtt'] as const).map((k) => (
          <button
            type="button"
            role="tab"
            aria-selected={kind === k}
            key={k}
            className={kind === k ? 'btn-primary' : 'btn-ghost'}
            onClick={() => setKind(k)}
          >
            {k.toUpperCase()}
          </button>
        ))}
      </div>
      <Field label="Name">
        <input className="input" name="name" required />
      </Field>
      {kind === 'webhook' && (
        <Field label="URL" hint="HTTPS in production; private networks need SSRF_ALLOWLIST">
          <input
            className="input"
            name="webhook_url"
            type="url"
            required
            placeholder="https://hooks.example.com/pulse"
          />
        </Field>
      )}
      {kind === 'snmp' && (
        <div className="grid grid-cols-2 gap-3">
          <Field label="Host">
            <input className="input" name="snmp_host" required />
          </Field>
          <Field label="Port">
            <input className="input" name="snmp_port" type="number" defaultValue={162} />
          </Field>
          <Field label="Version">
            <select className="input" name="version" value={version} onChange={(e) => setVersion(e.target.value)}>
              <option value="2c">v2c</option>
              <option value="3">v3</option>
            </select>
          </Field>
          {version === '2c' ? (
            <Field label="Community">
              <input className="input" name="community" required />
            </Field>
          ) : (
            <>
              <Field label="User">
                <input className="input" name="username" required />
              </Field>
              <Field label="Auth protocol">
                <select className="input" name="auth_protocol" defaultValue="SHA">
                  {['MD5', 'SHA', 'SHA224', 'SHA256', 'SHA384', 'SHA512'].map((p) => (
                    <option key={p}>{p}</option>
                  ))}
                </select>
              </Field>
              <Field label="Auth password">
                <input className="input" name="auth_password" type="password" required minLength={8} />
              </Field>
              <Field label="Privacy protocol">
                <select className="input" name="priv_protocol" defaultValue="AES">
                  <option value="">none</option>
                  {['DES', 'AES', 'AES256'].map((p) => (
                    <option key={p}>{p}</option>
                  ))}
                </select>
              </Field>
              <Field label="Privacy password">
                <input className="input" name="priv_password" type="password" minLength={8} />
              </Field>
            </>
          )}
        </div>
      )}
      {kind === 'email' && (
        <div className="grid grid-cols-2 gap-3">
          <Field label="SMTP host">
            <input className="input" name="smtp_host" required />
          </Field>
          <Field label="SMTP port">
            <input className="input" name="smtp_port" type="number" defaultValue={587} />
          </Field>
          <Field label="User">
            <input className="input" name="smtp_user" autoComplete="off" />
          </Field>
          <Field label="Password">
            <input className="input" name="smtp_password" type="password" autoComplete="new-password" />
          </Field>
          <Field label="From">
            <input className="input" name="from_address" type="email" required />
          </Field>
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" name="smtp_tls" defaultChecked /> TLS
          </label>
          <Field label="To" hint="comma-separated">
            <input className="input" name="to" required />
          </Field>
          <Field label="Cc">
            <input className="input" name="cc" />
          </Field>
        </div>
      )}
      {kind === 'mqtt' && (
        <div className="grid grid-cols-2 gap-3">
          <div className="col-span-2">
            <Field
              label="Topic"
              hint="under alerts/{tenant_id}/; variables {site_id} {device_id} {alert_type} {severity}"
            >
              <input
                className="input"
                name="mqtt_topic"
                required
                defaultValue="alerts/{tenant_id}/{site_id}/{alert_type}"
              />
            </Field>
          </div>
          <Field label="QoS">
            <select className="input" name="mqtt_qos" defaultValue="1">
              <option>0</option>
              <option>1</option>
              <option>2</option>
            </select>
          </Field>
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" name="mqtt_retain" /> Retain
          </label>
        </div>
      )}
      {create.error && <ErrorBox error={create.error} />}
      <div className="flex justify-end">
        <button className="btn-primary" disabled={create.isPending}>
          Create {kind}
        </button>
      </div>
    </form>
  );
}

export default function Integrations() {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string | undefined>();
  const [tested, setTested] = useState<Record<string, TestResult>>({});
  const integrations = useQuery({
    queryKey: ['integrations'],
    queryFn: () => api<Answer<'/customer/integrations'>>('/customer/integrations'),
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['integrations'] });
  const toggle = useMutation({
    mutationFn: (i: Integration) =>
      api(`/customer/integrations/${i.integration_id}`, { method: 'PATCH', body: { enabled: !i.enabled } }),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: (id: string) => api(`/customer/integrations/${id}`, { method: 'DELETE' }),
    onSuccess: refresh,
  });
  const test = useMutation({
    mutationFn: (id: string) => api<TestResult>(`/customer/integrations/${id}/test`, { method: 'POST' }),
    onSuccess: (result, id) => setTested((all) => ({ ...all, [id]: result })),
  });
  return (
    <Page
      title="Integrations"
      actions={
        admin && (
          <button className="btn-primary" onClick={() => setCreating(true)}>
            New integration
          </button>
        )
      }
    >
      {secret && (
        <div role="status" className="card border-indigo-300 text-sm">
          Webhook signing secret (shown once): <code className="font-mono">{secret}</code> — requests carry{' '}
          <code>X-Pulse-Signature: sha256=HMAC(body)</code>.
        </div>
      )}
      {(toggle.error || remove.error || test.error) && <ErrorBox error={toggle.error ?? remove.error ?? test.error} />}
      <QueryTable
        query={integrations}
        rows={(data) => data.integrations}
        rowKey={(i) => i.integration_id}
        empty="No integrations: alerts are only shown here until you add one."
        testId="integrations-table"
        columns={[
          { header: 'Name', className: 'font-medium', cell: (i) => i.name },
          { header: 'Type', cell: (i) => i.type },
          { header: 'Destination', className: 'max-w-64 truncate text-xs', cell: (i) => i.url ?? '—' },
          enabledColumn<Integration>(admin, (row) => toggle.mutate(row)),
          { header: 'Created', cell: (i) => timeAgo(i.created_at) },
          admin && {
            header: '',
            className: 'space-x-1 whitespace-nowrap',
            cell: (i) => (
              <>
                <button className="btn-ghost" onClick={() => test.mutate(i.integration_id)}>
                  Test
                </button>
                {tested[i.integration_id] && (
                  <span
                    className={`text-xs ${tested[i.integration_id]!.success ? 'text-emerald-600' : 'text-rose-600'}`}
                    role="status"
                  >
                    {tested[i.integration_id]!.success
                      ? `sent in ${tested[i.integration_id]!.duration_ms} ms`
                      : tested[i.integration_id]!.error}
                  </span>
                )}
                <button
                  className="btn-ghost"
                  onClick={() => confirm(`Delete ${i.name} and its routes?`) && remove.mutate(i.integration_id)}
                >
                  Delete
                </button>
              </>
            ),
          },
        ]}
      />
      <Modal open={creating} title="New integration" onClose={() => setCreating(false)}>
        <CreateForm
          onDone={(signing) => {
            setCreating(false);
            setSecret(signing);
          }}
        />
      </Modal>
      <AlertReaders />
    </Page>
  );
}
