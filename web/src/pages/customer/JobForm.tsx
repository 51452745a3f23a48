// A new fleet job: a command (name and parameters), a configuration change (a JSON merge patch) or a
// firmware update (one of the uploaded images) for a selection of devices, at a pace, stopped early when
// too many fail.
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { DeviceSelection, toSelector, type SelectionInput } from '../../components/device-selector';
import { imageLabel, useFirmwareImages } from '../../components/firmware';
import { JsonField, useJsonText } from '../../components/json';
import { ErrorBox, Field } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { byteSize } from '../../lib/format';
import { COMMAND_NAME_PATTERN } from '../../lib/forms';
import type { Body, Job } from '../../lib/types';

type Kind = 'command' | 'config' | 'firmware';

/** A number field: its value, or null when left empty. */
const optionalNumber = (form: FormData, name: string) => {
  const text = String(form.get(name) ?? '').trim();
  return text === '' ? null : Number(text);
};

/** One of the tenant's uploaded images, or where to upload one when there is none. */
function FirmwarePicker({ value, onChange }: { value: string; onChange: (imageId: string) => void }) {
  const images = useFirmwareImages();
  const list = images.data?.images ?? [];
  return (
    <>
      <Field label="Firmware image" hint="Each device downloads it, checks its SHA-256 and installs it.">
        <select className="input" value={value} required onChange={(event) => onChange(event.target.value)}>
          <option value="">{images.isPending ? 'Loading…' : '— choose an image —'}</option>
          {list.map((image) => (
            <option key={image.image_id} value={image.image_id}>
              {imageLabel(image)} · {byteSize(image.size_bytes)}
              {image.filename && ` · ${image.filename}`}
            </option>
          ))}
        </select>
      </Field>
      {images.error && <ErrorBox error={images.error} />}
      {images.data && list.length === 0 && (
        <p className="mt-1 text-xs text-slate-500">
          No images yet:{' '}
          <Link className="text-indigo-600 hover:underline" to="/firmware">
            upload one on the Firmware page
          </Link>
          .
        </p>
      )}
    </>
  );
}

export function JobForm({ onCreated }: { onCreated: (job: Job) => void }) {
  const [kind, setKind] = useState<Kind>('command');
  const commandParams = useJsonText('{}', { blank: {} });
  const patch = useJsonText('', { object: true });
  const [imageId, setImageId] = useState('');
  const params: { value?: unknown; error?: string } =
    kind === 'command'
      ? commandParams
      : kind === 'config'
        ? patch
        : imageId
          ? { value: { image_id: imageId } }
          : { error: 'Choose an image' };
  const [selection, setSelection] = useState<SelectionInput>({ mode: 'prefix', text: '' });
  const selector = toSelector(selection);
  const create = useMutation({
    mutationFn: (body: Body<'/customer/jobs', 'post'>) => unwrap(api.POST('/customer/jobs', { body })),
    onSuccess: onCreated,
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (params.error !== undefined || !selector) return;
    const form = new FormData(event.currentTarget);
    const rate = optionalNumber(form, 'rate_per_minute');
    const failurePercent = optionalNumber(form, 'abort_failure_percent');
    // Empty fields are left out, not sent as null: the API's defaults are no limit and never abort, and its
    // type coercion reads a null abort percent as 0.
    create.mutate({
      name: String(form.get('name')).trim(),
      kind,
      ...(kind === 'command' && { command_name: String(form.get('command_name')).trim() }),
      params: params.value,
      selector,
      ...(rate !== null && { rate_per_minute: rate }),
      max_in_flight: Number(form.get('max_in_flight')),
      timeout_seconds: Number(form.get('timeout_seconds')),
      ...(failurePercent !== null && {
        abort_failure_percent: failurePercent,
        abort_min_devices: Number(form.get('abort_min_devices')),
      }),
    });
  };
  return (
    <form aria-label="New job" className="grid gap-3 md:grid-cols-2" onSubmit={submit}>
      <Field label="Name">
        <input className="input" name="name" required maxLength={200} placeholder="Reboot plant 1" />
      </Field>
      <Field label="Kind">
        <select className="input" value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
          <option value="command">Command</option>
          <option value="config">Configuration change</option>
          <option value="firmware">Firmware update</option>
        </select>
      </Field>
      {kind === 'firmware' ? (
        <div className="md:col-span-2">
          <FirmwarePicker value={imageId} onChange={setImageId} />
        </div>
      ) : kind === 'command' ? (
        <>
          <Field label="Command">
            <input className="input font-mono" name="command_name" required pattern={COMMAND_NAME_PATTERN} />
          </Field>
          <JsonField label="Parameters (JSON)" json={commandParams} rows={3} hint="Empty sends {}." />
        </>
      ) : (
        <div className="md:col-span-2">
          <JsonField
            label="Configuration patch (JSON merge patch)"
            json={patch}
            rows={4}
            hint={`Merged into each device's desired configuration: {"interval": 30} sets a key, {"mode": null} removes one.`}
          />
        </div>
      )}
      <div className="md:col-span-2">
        <DeviceSelection value={selection} onChange={setSelection} />
      </div>
      <Field label="Devices started per minute" hint="Empty: no limit">
        <input className="input" name="rate_per_minute" type="number" min={1} max={1_000_000} />
      </Field>
      <Field label="At most in flight" hint="Devices started and not yet finished">
        <input className="input" name="max_in_flight" type="number" min={1} max={100_000} defaultValue={100} required />
      </Field>
      <Field label="Timeout per device (s)">
        <input
          className="input"
          name="timeout_seconds"
          type="number"
          min={10}
          max={2_592_000}
          defaultValue={3600}
          required
        />
      </Field>
      <fieldset className="grid grid-cols-2 gap-3">
        <legend className="label">Abort when failed</legend>
        <Field label="More than (%)" hint="Empty: never">
          <input className="input" name="abort_failure_percent" type="number" min={0} max={100} />
        </Field>
        <Field label="Of at least (devices)">
          <input className="input" name="abort_min_devices" type="number" min={1} max={100_000} defaultValue={10} />
        </Field>
      </fieldset>
      {create.error && (
        <div className="md:col-span-2">
          <ErrorBox error={create.error} />
        </div>
      )}
      <div className="md:col-span-2">
        <button className="btn-primary" disabled={create.isPending || params.error !== undefined || !selector}>
          Start job
        </button>
      </div>
    </form>
  );
}
