// What a customer_admin does to its devices and an operator_admin to any tenant's: register one (its
// activation code and connection settings are shown once, with copy buttons), import a CSV (per-row
// errors), edit, rotate the token, revoke. `base` is where the API has them (devicesBase()).
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent, type ReactNode } from 'react';
import { CopyButton, ErrorBox, Field, StatusBadge } from '../../components/ui';
import { api, ApiError } from '../../lib/api';
import { dateTime, timeAgo } from '../../lib/format';
import { readJson } from '../../lib/forms';
import type { Answer } from '../../lib/types';

type Issued = Answer<'/customer/devices', 'post'>;

/** The API's device-management routes: the caller's own tenant, or (operators) the one named. */
export const devicesBase = (tenantId?: string) =>
  tenantId ? `/operator/tenants/${encodeURIComponent(tenantId)}/devices` : '/customer/devices';
type Imported = Answer<'/customer/devices/bulk', 'post'>;

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

export function AddDeviceForm({ base = devicesBase() }: { base?: string }) {
  const client = useQueryClient();
  const create = useMutation({
    mutationFn: (body: Record<string, unknown>) => api<Issued>(base, { method: 'POST', body }),
    onSuccess: () => client.invalidateQueries(),
  });
  const [metadataError, setMetadataError] = useState('');
  // What was sent, so a taken id (409) can be registered again with "Replace".
  const [sent, setSent] = useState<Record<string, unknown>>();
  if (create.data) return <IssuedDevice device={create.data} />;
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const fields = deviceFields(form);
    if (typeof fields === 'string') return setMetadataError(fields);
    setMetadataError('');
    // No metadata typed: a replaced device keeps its own.
    const { metadata, ...rest } = fields;
    const body = {
      device_id: String(form.get('device_id')).trim(),
      ...rest,
      ...(String(form.get('metadata') ?? '').trim() && { metadata }),
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
      {metadataError && <ErrorBox error={new Error(metadataError)} />}
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

/** Site, firmware and metadata as both device forms send them, or what is wrong with the metadata. */
function deviceFields(form: FormData) {
  const metadata = readJson(String(form.get('metadata') ?? ''), { blank: {}, object: true });
  if (metadata.error) return 'Metadata must be a JSON object, e.g. {"model": "P-100"}';
  return {
    site_id: String(form.get('site_id')).trim(),
    fw_version: String(form.get('fw_version') ?? '').trim() || null,
    metadata: metadata.value as Record<string, unknown>,
  };
}

export function ImportDevicesForm({ base = devicesBase() }: { base?: string }) {
  const client = useQueryClient();
  const [csv, setCsv] = useState('device_id,site_id,fw_version\n');
  const upload = useMutation({
    mutationFn: (text: string) => api<Imported>(`${base}/bulk`, { method: 'POST', csv: text }),
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
        <Field label="CSV" hint="A header line naming device_id, site_id and optionally fw_version, metadata (JSON).">
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

/** What the registry and the device's state say of it: status, site, times, firmware, booleans, metadata. */
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
        <div className="label">Metadata</div>
        <code className="text-xs" data-testid="device-metadata">
          {Object.keys(d.metadata).length ? JSON.stringify(d.metadata) : '—'}
        </code>
      </div>
    </div>
  );
}

/** Edit, rotate and revoke on a device's page. */
export function DeviceAdmin({ device, base = devicesBase() }: { device: DeviceDetail; base?: string }) {
  const client = useQueryClient();
  const path = `${base}/${encodeURIComponent(device.device_id)}`;
  const refresh = () => client.invalidateQueries();
  const [editing, setEditing] = useState(false);
  const [metadataError, setMetadataError] = useState('');
  const save = useMutation({
    mutationFn: (body: Record<string, unknown>) => api(path, { method: 'PATCH', body }),
    onSuccess: async () => {
      await refresh();
      setEditing(false);
    },
  });
  const rotate = useMutation({
    mutationFn: () =>
      api<Answer<'/customer/devices/{device_id}/rotate-token', 'post'>>(`${path}/rotate-token`, { method: 'POST' }),
  });
  const revoke = useMutation({ mutationFn: () => api(`${path}/revoke`, { method: 'POST' }), onSuccess: refresh });
  const revoked = device.status === 'REVOKED';
  return (
    <div className="card space-y-3" aria-label="Manage device">
      <div className="flex flex-wrap gap-2">
        <button className="btn-ghost" onClick={() => setEditing((open) => !open)}>
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
            const fields = deviceFields(new FormData(event.currentTarget));
            if (typeof fields === 'string') return setMetadataError(fields);
            setMetadataError('');
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
          {metadataError && <ErrorBox error={new Error(metadataError)} />}
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
