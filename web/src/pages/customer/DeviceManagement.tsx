// What a customer_admin does to its devices and an operator_admin to any tenant's: register one (its
// activation code and connection settings are shown once, with copy buttons), import a CSV (per-row
// errors), edit (site, firmware, metadata, tags and typed attributes), rotate the token, revoke: of the
// caller's own tenant (customers), or of the one `tenantId` names (operators).
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent, type ReactNode } from 'react';
import { AddOnEnter, TagChips } from '../../components/device-labels';
import { CopyButton, ErrorBox, Field, StatusBadge } from '../../components/ui';
import { api, ApiError, unwrap } from '../../lib/api';
import { dateTime, timeAgo } from '../../lib/format';
import { readJson } from '../../lib/forms';
import type { AttributeValue } from '../../lib/selector';
import type { Answer, Body } from '../../lib/types';

type Issued = Answer<'/customer/devices', 'post'>;
type NewDevice = Body<'/customer/devices', 'post'>;

export function Secret({ label, value, hint }: { label: string; value: string; hint?: ReactNode }) {
  return (
    <div>
      <div className="label">{label}</div>
      <div className="flex items-center gap-2">
        <code
          className="block flex-1 overflow-x-auto rounded bg-slate-100 px-2 py-1 text-xs dark:bg-slate-800"
          data-testid={`secret-${label}`}
        >
          {value}
        </code>
        <CopyButton text={value} label={label} />
      </div>
      {hint && <div className="mt-1 text-xs text-slate-500">{hint}</div>}
    </div>
  );
}

/** A new device's one-time code and what to paste into it. */
export function IssuedDevice({ device }: { device: Issued }) {
  const { connection: c } = device;
  const activate = `curl -s -X POST ${c.activate_url} -H 'content-type: application/json' -d '${JSON.stringify({
    tenant_id: device.tenant_id,
    device_id: device.device_id,
    activation_code: device.activation_code,
  })}'`;
  return (
    <div className="space-y-3" data-testid="issued-device">
      <p className="text-sm">
        <strong>{device.device_id}</strong> is registered. The activation code is shown only now; the device trades it
        once for its provision token (it expires {new Date(device.expires_at).toLocaleString()}).
      </p>
      <Secret label="Activation code" value={device.activation_code} />
      <Secret label="Activate" value={activate} hint="The answer holds provision_token." />
      {c.mqtt_url && (
        <Secret
          label="MQTT"
          value={`${c.mqtt_url}  client id ${c.mqtt_client_id}  user ${c.mqtt_username}  password <provision_token>  topic ${c.mqtt_topic}`}
          hint='Payload: {"site_id": "…", "metrics": {"temp_c": 21.5}}; heartbeats go to …/heartbeat.'
        />
      )}
      <Secret label="HTTP" value={c.http_url} hint="POST the payload with the header X-Provision-Token." />
    </div>
  );
}

export function AddDeviceForm({ tenantId }: { tenantId?: string }) {
  const client = useQueryClient();
  const create = useMutation({
    mutationFn: (body: NewDevice) =>
      unwrap(
        tenantId === undefined
          ? api.POST('/customer/devices', { body })
          : api.POST('/operator/tenants/{tenant_id}/devices', { params: { path: { tenant_id: tenantId } }, body }),
      ),
    onSuccess: () => client.invalidateQueries(),
  });
  const [formError, setFormError] = useState('');
  const [labels, setLabels] = useState<Labels>({ tags: [], attributes: [] });
  // What was sent, so a taken id (409) can be registered again with "Replace".
  const [sent, setSent] = useState<NewDevice>();
  if (create.data) return <IssuedDevice device={create.data} />;
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const fields = deviceFields(form, labels);
    if (typeof fields === 'string') return setFormError(fields);
    setFormError('');
    // No metadata, tags or attributes given: a replaced device keeps its own.
    const { metadata, tags, attributes, ...rest } = fields;
    const body = {
      device_id: String(form.get('device_id')).trim(),
      ...rest,
      ...(String(form.get('metadata') ?? '').trim() && { metadata }),
      ...(tags.length > 0 && { tags }),
      ...(Object.keys(attributes).length > 0 && { attributes }),
    };
    setSent(body);
    create.mutate(body);
  };
  const taken = create.error instanceof ApiError && create.error.status === 409;
  return (
    <form onSubmit={submit} className="space-y-3" aria-label="New device">
      <Field label="Device id" hint="No '/', '+', '#' or spaces: it is part of the device's MQTT topics.">
        <input className="input" name="device_id" required pattern="[^\/+#\s]+" />
      </Field>
      <Field label="Site">
        <input className="input" name="site_id" required />
      </Field>
      <Field label="Firmware">
        <input className="input" name="fw_version" />
      </Field>
      <Field label="Metadata (JSON)">
        <textarea className="input font-mono text-xs" name="metadata" rows={3} placeholder='{"model": "P-100"}' />
      </Field>
      <LabelsEditor labels={labels} onChange={setLabels} />
      {formError && <ErrorBox error={new Error(formError)} />}
      {create.error && <ErrorBox error={create.error} />}
      <div className="flex gap-2">
        <button className="btn-primary" disabled={create.isPending}>
          Register
        </button>
        {taken && sent && (
          <button
            type="button"
            className="btn-ghost"
            disabled={create.isPending}
            onClick={() => create.mutate({ ...sent, replace: true })}
          >
            Replace {String(sent.device_id)}
          </button>
        )}
      </div>
    </form>
  );
}

/**
 * What a device reported of itself, read only: an attribute people set under the same key wins (in the
 * selector too), and says so.
 */
function ReportedAttributes({
  reported,
  attributes,
}: {
  reported: Record<string, AttributeValue>;
  attributes: Record<string, AttributeValue>;
}) {
  const entries = Object.entries(reported);
  if (entries.length === 0) return <span className="text-xs">—</span>;
  return (
    <ul className="text-xs" data-testid="device-reported-attributes">
      {entries.map(([key, value]) => (
        <li key={key} className={key in attributes ? 'text-slate-500' : undefined}>
          {key}: {String(value)}
          {key in attributes && ` (set by people: ${String(attributes[key])}, which wins)`}
        </li>
      ))}
    </ul>
  );
}

/** Site, firmware, metadata, tags and attributes as both device forms send them, or what is wrong. */
function deviceFields(form: FormData, labels: Labels) {
  const metadata = readJson(String(form.get('metadata') ?? ''), { blank: {}, object: true });
  if (metadata.error) return 'Metadata must be a JSON object, e.g. {"model": "P-100"}';
  const attributes = attributesOf(labels.attributes);
  if (typeof attributes === 'string') return attributes;
  return {
    site_id: String(form.get('site_id')).trim(),
    fw_version: String(form.get('fw_version') ?? '').trim() || null,
    metadata: metadata.value as Record<string, unknown>,
    tags: labels.tags,
    attributes,
  };
}

const ATTRIBUTE_TYPES = ['text', 'number', 'boolean', 'date'] as const;
type AttributeType = (typeof ATTRIBUTE_TYPES)[number];
/** An attribute as the editor holds it: the value as typed, read by its type when sent. */
interface AttributeRow {
  key: string;
  type: AttributeType;
  value: string;
}
interface Labels {
  tags: string[];
  attributes: AttributeRow[];
}
const DATE = /^\d{4}-\d{2}-\d{2}$/;

const labelsOf = (device: { tags: string[]; attributes: Record<string, AttributeValue> }): Labels => ({
  tags: device.tags,
  attributes: Object.entries(device.attributes).map(([key, value]) => ({
    key,
    type:
      typeof value === 'number'
        ? 'number'
        : typeof value === 'boolean'
          ? 'boolean'
          : DATE.test(value)
            ? 'date'
            : 'text',
    value: String(value),
  })),
});

/** The attributes the rows say (rows without a key left out), or what is wrong with one. */
function attributesOf(rows: AttributeRow[]): Record<string, AttributeValue> | string {
  const attributes: Record<string, AttributeValue> = {};
  for (const { key, type, value } of rows) {
    const name = key.trim();
    if (!name) continue;
    if (type === 'number') {
      if (value.trim() === '' || !Number.isFinite(Number(value))) return `Attribute ${name}: "${value}" is no number`;
      attributes[name] = Number(value);
    } else if (type === 'date' && !DATE.test(value)) return `Attribute ${name}: pick a date`;
    else attributes[name] = type === 'boolean' ? value === 'true' : value;
  }
  return attributes;
}

/** A device's tags (add, remove) and attributes (rows of key, type and value), part of a device form. */
function LabelsEditor({
  labels,
  onChange,
  reported = {},
}: {
  labels: Labels;
  onChange: (labels: Labels) => void;
  reported?: Record<string, AttributeValue>;
}) {
  const rows = labels.attributes;
  const setRows = (attributes: AttributeRow[]) => onChange({ ...labels, attributes });
  const change = (index: number, row: Partial<AttributeRow>) =>
    setRows(rows.map((current, i) => (i === index ? { ...current, ...row } : current)));
  return (
    <div className="space-y-3 md:col-span-3" aria-label="Tags and attributes">
      <Field label="Tags" hint="Lowercase letters, digits and - _ . : (press Enter to add one).">
        <div className="flex flex-wrap items-center gap-2">
          <TagChips
            tags={labels.tags}
            onRemove={(tag) => onChange({ ...labels, tags: labels.tags.filter((t) => t !== tag) })}
          />
          <AddOnEnter
            label="Add tag"
            placeholder="cold-chain"
            onAdd={(tag) => onChange({ ...labels, tags: [...new Set([...labels.tags, tag.toLowerCase()])].sort() })}
          />
        </div>
      </Field>
      <div>
        <div className="label">Attributes</div>
        {rows.map((row, i) => (
          <div key={i} className="mb-2 flex gap-2" data-testid="attribute-row">
            <input
              className="input"
              aria-label="Attribute key"
              placeholder="model"
              value={row.key}
              onChange={(e) => change(i, { key: e.target.value })}
            />
            <select
              className="input max-w-28"
              aria-label="Attribute type"
              value={row.type}
              onChange={(e) =>
                change(i, { type: e.target.value as AttributeType, value: e.target.value === 'boolean' ? 'true' : '' })
              }
            >
              {ATTRIBUTE_TYPES.map((type) => (
                <option key={type}>{type}</option>
              ))}
            </select>
            {row.type === 'boolean' ? (
              <select
                className="input"
                aria-label="Attribute value"
                value={row.value}
                onChange={(e) => change(i, { value: e.target.value })}
              >
                <option>true</option>
                <option>false</option>
              </select>
            ) : (
              <input
                className="input"
                aria-label="Attribute value"
                type={row.type === 'text' ? 'text' : row.type}
                step="any"
                value={row.value}
                onChange={(e) => change(i, { value: e.target.value })}
              />
            )}
            <button
              type="button"
              className="btn-ghost"
              aria-label={`Remove attribute ${row.key}`}
              onClick={() => setRows(rows.filter((_, j) => j !== i))}
            >
              ×
            </button>
          </div>
        ))}
        <button
          type="button"
          className="btn-ghost text-xs"
          onClick={() => setRows([...rows, { key: '', type: 'text', value: '' }])}
        >
          Add attribute
        </button>
      </div>
      {Object.keys(reported).length > 0 && (
        <div>
          <div className="label">Reported by the device (read only)</div>
          <ReportedAttributes
            reported={reported}
            attributes={Object.fromEntries(
              rows.filter((row) => row.key.trim()).map((row) => [row.key.trim(), row.value]),
            )}
          />
        </div>
      )}
    </div>
  );
}

export function ImportDevicesForm({ tenantId }: { tenantId?: string }) {
  const client = useQueryClient();
  const [csv, setCsv] = useState('device_id,site_id,fw_version\n');
  const upload = useMutation({
    mutationFn: (text: string) => {
      const asCsv = { body: text, bodySerializer: String, headers: { 'content-type': 'text/csv' } };
      return unwrap(
        tenantId === undefined
          ? api.POST('/customer/devices/bulk', asCsv)
          : api.POST('/operator/tenants/{tenant_id}/devices/bulk', {
              params: { path: { tenant_id: tenantId } },
              ...asCsv,
            }),
      );
    },
    onSuccess: () => client.invalidateQueries(),
  });
  const result = upload.data;
  return (
    <div className="space-y-3">
      <form
        aria-label="Import devices"
        className="space-y-3"
        onSubmit={(event) => {
          event.preventDefault();
          upload.mutate(csv);
        }}
      >
        <Field
          label="CSV"
          hint="A header line naming device_id, site_id and optionally fw_version, metadata (JSON), tags (separated by ;) and attr.<key> columns (numbers, true/false, dates YYYY-MM-DD, else text)."
        >
          <textarea
            className="input font-mono text-xs"
            rows={8}
            value={csv}
            onChange={(e) => setCsv(e.target.value)}
            aria-label="CSV"
          />
        </Field>
        <input
          type="file"
          accept=".csv,text/csv"
          aria-label="CSV file"
          onChange={(e) => void e.target.files?.[0]?.text().then(setCsv)}
        />
        {upload.error && <ErrorBox error={upload.error} />}
        <button className="btn-primary" disabled={upload.isPending}>
          Import
        </button>
      </form>
      {result && (
        <div className="space-y-2 text-sm" data-testid="import-result">
          <p>
            {result.created} created, {result.updated} updated, {result.failed} failed.
          </p>
          {result.errors.length > 0 && (
            <ul className="list-disc pl-5 text-rose-700 dark:text-rose-400">
              {result.errors.map((error) => (
                <li key={error.row}>
                  Row {error.row}
                  {error.device_id ? ` (${error.device_id})` : ''}: {error.error}
                </li>
              ))}
            </ul>
          )}
          {result.devices.length > 0 && (
            <>
              <p>Activation codes (shown once):</p>
              <textarea
                readOnly
                className="input font-mono text-xs"
                rows={Math.min(10, result.devices.length + 1)}
                aria-label="Activation codes"
                value={[
                  'device_id,activation_code,expires_at',
                  ...result.devices.map((d) => `${d.device_id},${d.activation_code},${d.expires_at}`),
                ].join('\n')}
              />
            </>
          )}
        </div>
      )}
    </div>
  );
}

type DeviceDetail = Answer<'/api/v2/devices/{device_id}'>['device'];

/** What the registry and the device's state say of it: status, site, times, firmware, booleans, tags, attributes, metadata. */
export function DeviceFacts({ device: d }: { device: DeviceDetail }) {
  return (
    <div className="card grid grid-cols-2 gap-2 text-sm md:grid-cols-4">
      <div>
        <div className="label">Status</div>
        <StatusBadge status={d.status} />
      </div>
      <div>
        <div className="label">Site</div>
        <span data-testid="device-site">{d.site_id}</span>
      </div>
      <div>
        <div className="label">Last seen</div>
        <span title={dateTime(d.last_seen_at)}>{timeAgo(d.last_seen_at)}</span>
      </div>
      <div>
        <div className="label">Last heartbeat</div>
        <span title={dateTime(d.last_heartbeat_at)}>{timeAgo(d.last_heartbeat_at)}</span>
      </div>
      <div>
        <div className="label">Firmware</div>
        <span data-testid="device-firmware">{d.fw_version ?? '—'}</span>
      </div>
      {Object.entries(d.state)
        .filter(([, value]) => typeof value === 'boolean')
        .map(([metric, value]) => (
          <div key={metric}>
            <div className="label">{metric}</div>
            <span className={value ? 'text-emerald-600' : 'text-rose-600'}>{value ? 'yes' : 'no'}</span>
          </div>
        ))}
      <div className="col-span-2">
        <div className="label">Tags</div>
        {d.tags.length ? <TagChips tags={d.tags} /> : '—'}
      </div>
      <div className="col-span-2">
        <div className="label">Attributes</div>
        <span className="text-xs" data-testid="device-attributes">
          {Object.entries(d.attributes)
            .map(([key, value]) => `${key}: ${String(value)}`)
            .join(', ') || '—'}
        </span>
      </div>
      <div className="col-span-2">
        <div className="label">Reported by the device</div>
        <ReportedAttributes reported={d.reported_attributes} attributes={d.attributes} />
      </div>
      <div className="col-span-2">
        <div className="label">Metadata</div>
        <code className="text-xs" data-testid="device-metadata">
          {Object.keys(d.metadata).length ? JSON.stringify(d.metadata) : '—'}
        </code>
      </div>
    </div>
  );
}

/** Edit, rotate and revoke on a device's page. */
export function DeviceAdmin({ device, tenantId }: { device: DeviceDetail; tenantId?: string }) {
  const client = useQueryClient();
  const path = { device_id: device.device_id };
  const operatorPath = { ...path, tenant_id: tenantId! };
  const refresh = () => client.invalidateQueries();
  const [editing, setEditing] = useState(false);
  const [formError, setFormError] = useState('');
  const [labels, setLabels] = useState(() => labelsOf(device));
  const save = useMutation({
    mutationFn: (body: Body<'/customer/devices/{device_id}', 'patch'>) =>
      unwrap(
        tenantId === undefined
          ? api.PATCH('/customer/devices/{device_id}', { params: { path }, body })
          : api.PATCH('/operator/tenants/{tenant_id}/devices/{device_id}', { params: { path: operatorPath }, body }),
      ),
    onSuccess: async () => {
      await refresh();
      setEditing(false);
    },
  });
  const rotate = useMutation({
    mutationFn: () =>
      unwrap(
        tenantId === undefined
          ? api.POST('/customer/devices/{device_id}/rotate-token', { params: { path } })
          : api.POST('/operator/tenants/{tenant_id}/devices/{device_id}/rotate-token', {
              params: { path: operatorPath },
            }),
      ),
  });
  const revoke = useMutation({
    mutationFn: () =>
      unwrap(
        tenantId === undefined
          ? api.POST('/customer/devices/{device_id}/revoke', { params: { path } })
          : api.POST('/operator/tenants/{tenant_id}/devices/{device_id}/revoke', { params: { path: operatorPath } }),
      ),
    onSuccess: refresh,
  });
  const revoked = device.status === 'REVOKED';
  return (
    <div className="card space-y-3" aria-label="Manage device">
      <div className="flex flex-wrap gap-2">
        <button
          className="btn-ghost"
          onClick={() => {
            setLabels(labelsOf(device));
            setEditing((open) => !open);
          }}
        >
          Edit
        </button>
        <button
          className="btn-ghost"
          disabled={revoked}
          onClick={() =>
            confirm(`Replace ${device.device_id}'s token? The device stops working until it gets the new one.`) &&
            rotate.mutate()
          }
        >
          Rotate token
        </button>
        <button
          className="btn-danger"
          disabled={revoked}
          onClick={() =>
            confirm(`Revoke ${device.device_id}? Its messages are refused from now on.`) && revoke.mutate()
          }
        >
          Revoke
        </button>
      </div>
      {rotate.data && (
        <Secret
          label="New provision token"
          value={rotate.data.new_provision_token}
          hint="Shown once: put it into the device; the old token is refused from now on."
        />
      )}
      {[save.error, rotate.error, revoke.error].map((error, i) => error && <ErrorBox key={i} error={error} />)}
      {editing && (
        <form
          aria-label="Edit device"
          className="grid gap-3 md:grid-cols-3"
          onSubmit={(event) => {
            event.preventDefault();
            const fields = deviceFields(new FormData(event.currentTarget), labels);
            if (typeof fields === 'string') return setFormError(fields);
            setFormError('');
            save.mutate(fields);
          }}
        >
          <Field label="Site">
            <input className="input" name="site_id" defaultValue={device.site_id} required />
          </Field>
          <Field label="Firmware">
            <input className="input" name="fw_version" defaultValue={device.fw_version ?? ''} />
          </Field>
          <Field label="Metadata (JSON)">
            <textarea
              className="input font-mono text-xs"
              name="metadata"
              rows={3}
              defaultValue={JSON.stringify(device.metadata, null, 2)}
            />
          </Field>
          <LabelsEditor labels={labels} onChange={setLabels} reported={device.reported_attributes} />
          {formError && <ErrorBox error={new Error(formError)} />}
          <div>
            <button className="btn-primary" disabled={save.isPending}>
              Save
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
