// A device's configuration: what it should run (desired, replaced here by customer admins) beside what it
// says it runs (reported), the keys that differ highlighted, since when they differ, and whether the device
// is connected to receive it.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { JsonField, JsonKeys, useJsonText } from '../../components/json';
import { ErrorBox, Loaded } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import { dateTime, timeAgo } from '../../lib/format';
import type { DeviceConfig } from '../../lib/types';

/** Waiting for a connected device's report is quick; otherwise a slow look notices it connecting. */
const REPORT_REFRESH_MS = 2000;
const IDLE_REFRESH_MS = 30_000;

function When({ at }: { at: string | null }) {
  return <span title={dateTime(at)}>{timeAgo(at)}</span>;
}

function SyncState({ config: c }: { config: DeviceConfig }) {
  return (
    <div className="card flex flex-wrap items-center gap-x-6 gap-y-2 text-sm" data-testid="config-state">
      {c.in_sync ? (
        <span className="font-medium text-emerald-600" data-testid="sync">
          In sync
        </span>
      ) : (
        <span className="font-medium text-amber-600" data-testid="sync">
          Out of sync since <When at={c.out_of_sync_since} />
        </span>
      )}
      {c.delta.length > 0 && (
        <span>
          Differs: <code data-testid="delta">{c.delta.join(', ')}</code>
        </span>
      )}
      <span data-testid="online">
        {c.online ? (
          <span className="text-emerald-600">Connected for commands</span>
        ) : (
          <span className="text-slate-500">Not connected for commands</span>
        )}
        {c.online_changed_at && (
          <span className="text-slate-500">
            {' '}
            since <When at={c.online_changed_at} />
          </span>
        )}
      </span>
    </div>
  );
}

function DesiredEditor({ config, onDone }: { config: DeviceConfig; onDone: () => void }) {
  const client = useQueryClient();
  const desired = useJsonText(JSON.stringify(config.desired, null, 2), { object: true });
  const save = useMutation({
    mutationFn: (value: Record<string, unknown>) =>
      unwrap(
        api.PUT('/customer/devices/{device_id}/config', {
          params: { path: { device_id: config.device_id } },
          body: { desired: value },
        }),
      ),
    onSuccess: (saved) => {
      client.setQueryData(['config', config.device_id], saved);
      onDone();
    },
  });
  return (
    <form
      aria-label="Desired configuration"
      className="space-y-2"
      onSubmit={(event) => {
        event.preventDefault();
        // A JSON object: the field is read with `object: true`.
        if (desired.error === undefined) save.mutate(desired.value as Record<string, unknown>);
      }}
    >
      <JsonField
        label="Desired (JSON object)"
        json={desired}
        rows={8}
        hint="Saving replaces the whole configuration and sends it to the device."
      />
      {save.error && <ErrorBox error={save.error} />}
      <div className="flex gap-2">
        <button className="btn-primary" disabled={save.isPending || desired.error !== undefined}>
          Save desired configuration
        </button>
        <button type="button" className="btn-ghost" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function DeviceConfiguration({ deviceId }: { deviceId: string }) {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const [editing, setEditing] = useState(false);
  const config = useQuery({
    queryKey: ['config', deviceId],
    queryFn: () =>
      unwrap(api.GET('/customer/devices/{device_id}/config', { params: { path: { device_id: deviceId } } })),
    refetchInterval: (query) =>
      query.state.data?.online && !query.state.data.in_sync ? REPORT_REFRESH_MS : IDLE_REFRESH_MS,
  });
  return (
    <Loaded query={config}>
      {(c) => (
        <div className="space-y-4">
          <SyncState config={c} />
          <div className="grid gap-4 lg:grid-cols-2">
            <div className="card space-y-2">
              <div className="flex items-center justify-between gap-2">
                <h2 className="text-sm font-semibold">Desired · version {c.desired_version}</h2>
                {admin && !editing && (
                  <button className="btn-ghost" onClick={() => setEditing(true)}>
                    Edit desired configuration
                  </button>
                )}
              </div>
              <p className="text-xs text-slate-500">
                {c.desired_version === 0 ? (
                  'Never set.'
                ) : (
                  <>
                    Set <When at={c.desired_at} /> by {c.desired_by ?? '—'}
                  </>
                )}
              </p>
              {editing ? (
                <DesiredEditor config={c} onDone={() => setEditing(false)} />
              ) : (
                <JsonKeys value={c.desired} marked={c.delta} testId="desired" />
              )}
            </div>
            <div className="card space-y-2">
              <h2 className="text-sm font-semibold">
                Reported{c.reported_version !== null && ` · version ${c.reported_version}`}
              </h2>
              {c.reported ? (
                <>
                  <p className="text-xs text-slate-500">
                    Reported <When at={c.reported_at} />
                  </p>
                  <JsonKeys value={c.reported} marked={c.delta} testId="reported" />
                </>
              ) : (
                <p className="text-sm text-slate-500">The device has not reported a configuration yet.</p>
              )}
            </div>
          </div>
        </div>
      )}
    </Loaded>
  );
}
