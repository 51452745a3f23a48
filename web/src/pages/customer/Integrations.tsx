import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { HealthBadge } from '../../components/integration-health';
import { enabledColumn, QueryTable, Table } from '../../components/table';
import { EditDeleteButtons, Empty, ErrorBox, Field, Loaded, Modal, Page, StatusBadge } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { commaList } from '../../lib/forms';
import { useAuth } from '../../lib/auth';
import { dateTime, timeAgo } from '../../lib/format';
import type { Answer, Body, Integration } from '../../lib/types';
import { AlertReaders } from './AlertReaders';

type TestResult = Answer<'/customer/integrations/{integration_id}/test', 'post'>;
type IntegrationDetail = Answer<'/customer/integrations/{integration_id}'>;
type Kind = Integration['type'];
type SnmpV3 = Extract<Body<'/customer/integrations/snmp', 'post'>['snmp_config'], { version: '3' }>;
type Opsgenie = Body<'/customer/integrations/opsgenie', 'post'>;

const KIND_LABELS: Record<Kind, string> = {
  webhook: 'Webhook',
  snmp: 'SNMP',
  email: 'Email',
  mqtt: 'MQTT',
  slack: 'Slack',
  teams: 'Teams',
  pagerduty: 'PagerDuty',
  opsgenie: 'Opsgenie',
};
const KINDS = Object.keys(KIND_LABELS) as Kind[];

/** A form's request: the integration's type and the body its POST takes (Slack and Teams take the same). */
type FormRequest =
  | { kind: 'webhook'; body: Body<'/customer/integrations', 'post'> }
  | { kind: 'snmp'; body: Body<'/customer/integrations/snmp', 'post'> }
  | { kind: 'email'; body: Body<'/customer/integrations/email', 'post'> }
  | { kind: 'slack' | 'teams'; body: Body<'/customer/integrations/slack', 'post'> }
  | { kind: 'pagerduty'; body: Body<'/customer/integrations/pagerduty', 'post'> }
  | { kind: 'opsgenie'; body: Body<'/customer/integrations/opsgenie', 'post'> }
  | { kind: 'mqtt'; body: Body<'/customer/integrations/mqtt', 'post'> };

/** The request of each type's form, as the API expects it. */
function requestFor(kind: Kind, form: FormData): FormRequest {
  const text = (field: string) => String(form.get(field) ?? '');
  const name = text('name');
  switch (kind) {
    case 'webhook':
      return { kind, body: { name, webhook_url: text('webhook_url') } };
    case 'snmp': {
      const v3 = form.get('version') === '3';
      return {
        kind,
        body: {
          name,
          snmp_host: text('snmp_host'),
          snmp_port: Number(form.get('snmp_port') || 162),
          snmp_config: v3
            ? {
                version: '3',
                username: text('username'),
                auth_protocol: text('auth_protocol') as SnmpV3['auth_protocol'],
                auth_password: text('auth_password'),
                priv_protocol: (text('priv_protocol') || null) as SnmpV3['priv_protocol'],
                priv_password: text('priv_password') || null,
              }
            : { version: '2c', community: text('community') },
        },
      };
    }
    case 'email':
      return {
        kind,
        body: {
          name,
          smtp_config: {
            smtp_host: text('smtp_host'),
            smtp_port: Number(form.get('smtp_port') || 587),
            smtp_user: text('smtp_user') || null,
            smtp_password: text('smtp_password') || null,
            smtp_tls: form.get('smtp_tls') === 'on',
            from_address: text('from_address'),
          },
          recipients: { to: commaList(form.get('to')) ?? [], cc: commaList(form.get('cc')) ?? [], bcc: [] },
        },
      };
    case 'slack':
    case 'teams':
      return { kind, body: { name, webhook_url: text('webhook_url') } };
    case 'pagerduty':
      return { kind, body: { name, routing_key: text('routing_key') } };
    case 'opsgenie':
      return { kind, body: { name, api_key: text('api_key'), region: text('region') as Opsgenie['region'] } };
    case 'mqtt':
      return {
        kind,
        body: {
          name,
          mqtt_topic: text('mqtt_topic'),
          mqtt_qos: Number(form.get('mqtt_qos')),
          mqtt_retain: form.get('mqtt_retain') === 'on',
        },
      };
  }
}

/**
 * A change of an integration as its PATCH takes it: secrets left empty are kept (an SNMP integration's
 * settings are then left out: they travel with their secret; a Slack or Teams URL is itself the secret).
 */
function changeOf<R extends FormRequest>({ kind, body }: R): Partial<R['body']> {
  const changes: Record<string, unknown> = { ...body };
  if (kind === 'snmp') {
    const config = body.snmp_config;
    if (!('community' in config ? config.community : config.auth_password)) delete changes.snmp_config;
  }
  if (kind === 'email') {
    const { smtp_password, ...smtp } = body.smtp_config;
    changes.smtp_config = smtp_password ? body.smtp_config : smtp;
  }
  // A credential left empty is kept (a changed Opsgenie region needs its key again: the API says so).
  for (const credential of ['webhook_url', 'routing_key', 'api_key'] as const) {
    if (kind !== 'webhook' && changes[credential] === '') delete changes[credential];
  }
  return changes as Partial<R['body']>;
}

/** Where each type's integrations are created; `…/{integration_id}` below it changes one. */
const COLLECTIONS = {
  webhook: '/customer/integrations',
  snmp: '/customer/integrations/snmp',
  email: '/customer/integrations/email',
  slack: '/customer/integrations/slack',
  teams: '/customer/integrations/teams',
  pagerduty: '/customer/integrations/pagerduty',
  opsgenie: '/customer/integrations/opsgenie',
  mqtt: '/customer/integrations/mqtt',
} as const;

/** Creates the integration a form describes, or with `id` changes that one. */
function saveIntegration(request: FormRequest, id?: string) {
  const collection = COLLECTIONS[request.kind];
  return id
    ? unwrap(
        api.PATCH(`${collection}/{integration_id}`, {
          params: { path: { integration_id: id } },
          body: changeOf(request),
        }),
      )
    : unwrap(api.POST(collection, { body: request.body }));
}

/** A sealed credential's input: required for a new integration, kept when left empty on an edit. */
function CredentialInput({ name, type, existing }: { name: string; type: 'url' | 'password'; existing: boolean }) {
  return (
    <input
      className="input"
      name={name}
      type={type}
      required={!existing}
      autoComplete="off"
      placeholder={existing ? 'empty: keep' : undefined}
    />
  );
}

/** Creates an integration of any type, or changes `existing` (its type fixed, its values filled in). */
function IntegrationForm({ existing, onDone }: { existing?: IntegrationDetail; onDone: (secret?: string) => void }) {
  const client = useQueryClient();
  const [kind, setKind] = useState<Kind>(existing?.type ?? 'webhook');
  const [version, setVersion] = useState(existing?.type === 'snmp' && existing.snmp_version === '3' ? '3' : '2c');
  const value = (field: string) => {
    const found = (existing as Record<string, unknown> | undefined)?.[field];
    return found === null || found === undefined ? undefined : String(found);
  };
  const save = useMutation({
    mutationFn: (request: FormRequest) => saveIntegration(request, existing?.integration_id),
    onSuccess: async (saved) => {
      await client.invalidateQueries({ queryKey: ['integrations'] });
      // Only a new webhook's answer has a signing secret.
      onDone('signing_secret' in saved && typeof saved.signing_secret === 'string' ? saved.signing_secret : undefined);
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    save.mutate(requestFor(kind, new FormData(event.currentTarget)));
  };
  const recipients = existing?.type === 'email' ? existing.recipients : null;
  return (
    <form onSubmit={submit} className="space-y-3" aria-label={existing ? 'Edit integration' : 'New integration'}>
      <div role="tablist" className={existing ? 'hidden' : 'flex gap-1'}>
        {KINDS.map((k) => (
          <button
            type="button"
            role="tab"
            aria-selected={kind === k}
            key={k}
            className={kind === k ? 'btn-primary' : 'btn-ghost'}
            onClick={() => setKind(k)}
          >
            {KIND_LABELS[k]}
          </button>
        ))}
      </div>
      <Field label="Name">
        <input className="input" name="name" required defaultValue={value('name')} />
      </Field>
      {kind === 'webhook' && (
        <Field label="URL" hint="HTTPS in production; private networks need SSRF_ALLOWLIST">
          <input
            className="input"
            name="webhook_url"
            type="url"
            required
            placeholder="https://hooks.example.com/pulse"
            defaultValue={value('url')}
          />
        </Field>
      )}
      {(kind === 'slack' || kind === 'teams') && (
        <Field
          label={kind === 'slack' ? 'Incoming webhook URL' : 'Workflow webhook URL'}
          hint={
            kind === 'slack'
              ? 'from a Slack app with Incoming Webhooks (https://hooks.slack.com/services/…); stored sealed'
              : 'from the Workflows app: "Post to a channel when a webhook request is received"; stored sealed'
          }
        >
          <CredentialInput name="webhook_url" type="url" existing={!!existing} />
        </Field>
      )}
      {kind === 'pagerduty' && (
        <Field
          label="Routing key"
          hint="the Integration Key of an Events API v2 integration on the PagerDuty service; stored sealed"
        >
          <CredentialInput name="routing_key" type="password" existing={!!existing} />
        </Field>
      )}
      {kind === 'opsgenie' && (
        <div className="grid grid-cols-2 gap-3">
          <Field label="API key" hint="of an Opsgenie API integration; stored sealed">
            <CredentialInput name="api_key" type="password" existing={!!existing} />
          </Field>
          <Field label="Region">
            <select className="input" name="region" defaultValue={value('region') ?? 'us'}>
              <option value="us">US (api.opsgenie.com)</option>
              <option value="eu">EU (api.eu.opsgenie.com)</option>
            </select>
          </Field>
        </div>
      )}
      {kind === 'snmp' && (
        <div className="grid grid-cols-2 gap-3">
          <Field label="Host">
            <input className="input" name="snmp_host" required defaultValue={value('snmp_host')} />
          </Field>
          <Field label="Port">
            <input className="input" name="snmp_port" type="number" defaultValue={value('snmp_port') ?? 162} />
          </Field>
          <Field label="Version">
            <select className="input" name="version" value={version} onChange={(e) => setVersion(e.target.value)}>
              <option value="2c">v2c</option>
              <option value="3">v3</option>
            </select>
          </Field>
          {version === '2c' ? (
            <Field label="Community" hint={existing ? 'empty: keep the SNMP settings as they are' : undefined}>
              <input className="input" name="community" required={!existing} />
            </Field>
          ) : (
            <>
              <Field label="User">
                <input className="input" name="username" required defaultValue={value('snmp_username')} />
              </Field>
              <Field label="Auth protocol">
                <select className="input" name="auth_protocol" defaultValue="SHA">
                  {['MD5', 'SHA', 'SHA224', 'SHA256', 'SHA384', 'SHA512'].map((p) => (
                    <option key={p}>{p}</option>
                  ))}
                </select>
              </Field>
              <Field label="Auth password">
                <input
                  className="input"
                  name="auth_password"
                  type="password"
                  required={!existing}
                  minLength={8}
                  placeholder={existing ? 'empty: keep' : undefined}
                />
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
            <input className="input" name="smtp_host" required defaultValue={value('smtp_host')} />
          </Field>
          <Field label="SMTP port">
            <input className="input" name="smtp_port" type="number" defaultValue={value('smtp_port') ?? 587} />
          </Field>
          <Field label="User">
            <input className="input" name="smtp_user" autoComplete="off" defaultValue={value('smtp_user')} />
          </Field>
          <Field label="Password">
            <input
              className="input"
              name="smtp_password"
              type="password"
              autoComplete="new-password"
              placeholder={existing ? 'empty: keep' : undefined}
            />
          </Field>
          <Field label="From">
            <input className="input" name="from_address" type="email" required defaultValue={value('from_address')} />
          </Field>
          <label className="flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              name="smtp_tls"
              defaultChecked={existing?.type === 'email' ? existing.smtp_tls : true}
            />{' '}
            TLS
          </label>
          <Field label="To" hint="comma-separated">
            <input className="input" name="to" required defaultValue={recipients?.to.join(', ')} />
          </Field>
          <Field label="Cc">
            <input className="input" name="cc" defaultValue={recipients?.cc.join(', ')} />
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
                defaultValue={value('mqtt_topic') ?? 'alerts/{tenant_id}/{site_id}/{alert_type}'}
              />
            </Field>
          </div>
          <Field label="QoS">
            <select className="input" name="mqtt_qos" defaultValue={value('mqtt_qos') ?? '1'}>
              <option>0</option>
              <option>1</option>
              <option>2</option>
            </select>
          </Field>
          <label className="flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              name="mqtt_retain"
              defaultChecked={existing?.type === 'mqtt' && existing.mqtt_retain === true}
            />{' '}
            Retain
          </label>
        </div>
      )}
      {save.error && <ErrorBox error={save.error} />}
      <div className="flex justify-end">
        <button className="btn-primary" disabled={save.isPending}>
          {existing ? 'Save' : `Create ${KIND_LABELS[kind]}`}
        </button>
      </div>
    </form>
  );
}

/** The latest delivery attempts of one integration: when, for which alert, the outcome and how long it took. */
function LastAttempts({ integration }: { integration: Integration }) {
  const attempts = useQuery({
    queryKey: ['attempts', integration.integration_id],
    queryFn: () =>
      unwrap(
        api.GET('/customer/delivery-status', {
          params: { query: { integration_id: integration.integration_id, limit: 10 } },
        }),
      ),
  });
  return (
    <div className="card text-sm" aria-label={`Last attempts of ${integration.name}`} role="region">
      <div className="mb-2 flex items-center justify-between">
        <span className="font-medium">Last attempts of {integration.name}</span>
        <Link className="text-indigo-600 hover:underline" to={`/deliveries?integration=${integration.integration_id}`}>
          All its deliveries →
        </Link>
      </div>
      <Loaded query={attempts}>
        {(data) =>
          data.attempts.length === 0 ? (
            <Empty>Nothing sent through it yet.</Empty>
          ) : (
            <Table
              rows={data.attempts}
              rowKey={(a) => `${a.job_id}-${a.attempt_no}`}
              testId="attempts-table"
              columns={[
                { header: 'When', title: (a) => dateTime(a.started_at), cell: (a) => timeAgo(a.started_at) },
                {
                  header: 'Alert',
                  cell: (a) => (
                    <Link className="text-indigo-600 hover:underline" to={`/alerts/${a.alert_id}`}>
                      #{a.alert_id}
                    </Link>
                  ),
                },
                { header: 'Attempt', cell: (a) => a.attempt_no },
                { header: 'Result', cell: (a) => <StatusBadge status={a.ok ? 'SENT' : 'FAILED'} /> },
                { header: 'HTTP / error', className: 'text-xs', cell: (a) => a.http_status ?? a.error ?? '—' },
                { header: 'Latency', cell: (a) => (a.latency_ms === null ? '—' : `${a.latency_ms} ms`) },
              ]}
            />
          )
        }
      </Loaded>
    </div>
  );
}

export default function Integrations() {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<IntegrationDetail | null>(null);
  const [inspected, setInspected] = useState<Integration | null>(null);
  const [secret, setSecret] = useState<string | undefined>();
  const [tested, setTested] = useState<Record<string, TestResult>>({});
  const integrations = useQuery({
    queryKey: ['integrations'],
    queryFn: () => unwrap(api.GET('/customer/integrations')),
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['integrations'] });
  const toggle = useMutation({
    mutationFn: (i: Integration) =>
      unwrap(
        api.PATCH('/customer/integrations/{integration_id}', {
          params: { path: { integration_id: i.integration_id } },
          body: { enabled: !i.enabled },
        }),
      ),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE('/customer/integrations/{integration_id}', { params: { path: { integration_id: id } } })),
    onSuccess: refresh,
  });
  const test = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST('/customer/integrations/{integration_id}/test', { params: { path: { integration_id: id } } })),
    onSuccess: (result, id) => setTested((all) => ({ ...all, [id]: result })),
  });
  // Edited with every setting it has now (the list shows only a few).
  const edit = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.GET('/customer/integrations/{integration_id}', { params: { path: { integration_id: id } } })),
    onSuccess: setEditing,
  });
  const failure = toggle.error ?? remove.error ?? test.error ?? edit.error;
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
      {failure && <ErrorBox error={failure} />}
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
          { header: 'Health', cell: (i) => <HealthBadge health={i.health} /> },
          enabledColumn<Integration>(admin, (row) => toggle.mutate(row)),
          { header: 'Created', cell: (i) => timeAgo(i.created_at) },
          {
            header: '',
            className: 'space-x-1 whitespace-nowrap',
            cell: (i) => (
              <>
                <button
                  className="btn-ghost"
                  aria-expanded={inspected?.integration_id === i.integration_id}
                  onClick={() => setInspected(inspected?.integration_id === i.integration_id ? null : i)}
                >
                  Attempts
                </button>
                {admin && (
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
                    <EditDeleteButtons
                      onEdit={() => edit.mutate(i.integration_id)}
                      onDelete={() => remove.mutate(i.integration_id)}
                      confirmText={`Delete ${i.name} and its routes?`}
                    />
                  </>
                )}
              </>
            ),
          },
        ]}
      />
      {inspected && <LastAttempts integration={inspected} />}
      <Modal open={creating} title="New integration" onClose={() => setCreating(false)}>
        <IntegrationForm
          onDone={(signing) => {
            setCreating(false);
            setSecret(signing);
          }}
        />
      </Modal>
      <Modal open={editing !== null} title={`Edit ${editing?.name ?? ''}`} onClose={() => setEditing(null)}>
        {editing && <IntegrationForm key={editing.integration_id} existing={editing} onDone={() => setEditing(null)} />}
      </Modal>
      <AlertReaders />
    </Page>
  );
}
