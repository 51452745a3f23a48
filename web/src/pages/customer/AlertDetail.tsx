// One alert and its story: what it is, then its timeline — opened, updated with new values, every
// notification attempt with its result, notifications a silence held, notes, acknowledged and closed by
// whom — with a note form for every customer user and acknowledge / close for admins. Live: any change to
// the tenant's alerts refreshes it.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { useParams } from 'react-router';
import { AlertTitle, DeviceLink, ErrorBox, Loaded, Page, SeverityBadge, StatusBadge } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import { dateTime, severityName, timeAgo } from '../../lib/format';
import { subscribeAlerts } from '../../lib/live';
import { refetchSoon } from '../../lib/live-queries';
import type { Answer } from '../../lib/types';

type Detail = Answer<'/customer/alerts/{alert_id}'>;
type Entry = Detail['timeline'][number];

const noticeText = (notice: unknown) => {
  const [kind, first, second] = String(notice ?? '').split(':');
  if (kind === 'repeat') return ` (repeat ${first})`;
  if (kind === 'escalation') return ` (escalation after ${second} min)`;
  return '';
};

/** What one timeline entry says, in a sentence. */
function describe(entry: Entry): string {
  const d = entry.detail as Record<string, unknown>;
  const who = entry.actor ? ` by ${entry.actor}` : '';
  switch (entry.kind) {
    case 'OPENED':
      return `Opened: ${String(d.summary)} (${severityName(Number(d.severity))})`;
    case 'UPDATED':
      return `Updated: ${String(d.summary)} (${severityName(Number(d.severity))})`;
    case 'ACKNOWLEDGED':
      return `Acknowledged${who}`;
    case 'SILENCED':
      return 'Its notifications are held by a silence';
    case 'CLOSED':
      return entry.actor ? `Closed${who}` : 'Closed: the condition cleared';
    case 'NOTE':
      return `${entry.actor ?? 'someone'}: ${String(d.text)}`;
    case 'NOTIFIED':
    case 'NOTIFY_FAILED': {
      const result =
        entry.kind === 'NOTIFIED'
          ? `sent${d.http_status ? ` (HTTP ${String(d.http_status)})` : ''}`
          : `failed: ${d.http_status ? `HTTP ${String(d.http_status)}` : String(d.error ?? 'error')}`;
      const latency = d.latency_ms === null || d.latency_ms === undefined ? '' : ` in ${String(d.latency_ms)} ms`;
      return `${String(d.event)}${noticeText(d.notice)} to ${String(d.integration_name)}, attempt ${String(d.attempt)}: ${result}${latency}`;
    }
    case 'HELD':
      return `${String(d.event)}${noticeText(d.notice)} to ${String(d.integration_name)} held by a silence`;
  }
}

const TONE: Partial<Record<Entry['kind'], string>> = {
  OPENED: 'bg-rose-500',
  NOTIFY_FAILED: 'bg-rose-500',
  NOTIFIED: 'bg-emerald-500',
  CLOSED: 'bg-emerald-500',
  ACKNOWLEDGED: 'bg-amber-500',
  NOTE: 'bg-indigo-500',
};

export default function AlertDetail() {
  const alertId = useParams().alertId!;
  const path = { alert_id: Number(alertId) };
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const [text, setText] = useState('');
  const detail = useQuery({
    queryKey: ['alert', alertId],
    queryFn: () => unwrap(api.GET('/customer/alerts/{alert_id}', { params: { path } })),
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['alert', alertId] });
  // Its own events only (an UPDATED comes with every evaluation): its timeline is fetched again, debounced.
  useEffect(
    () =>
      subscribeAlerts(
        (frame) => String(frame.alert.alert_id) === alertId && refetchSoon(client, ['alert', alertId]),
        () => void refresh(),
      ),
    [client, alertId],
  );
  const note = useMutation({
    mutationFn: (body: { text: string }) =>
      unwrap(api.POST('/customer/alerts/{alert_id}/notes', { params: { path }, body })),
    onSuccess: async () => {
      setText('');
      await refresh();
    },
  });
  const change = useMutation({
    mutationFn: (action: 'acknowledge' | 'close') =>
      unwrap(api.POST(`/customer/alerts/{alert_id}/${action}`, { params: { path } })),
    onSuccess: refresh,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim()) note.mutate({ text });
  };
  return (
    <Page title={`Alert #${alertId}`}>
      <Loaded query={detail}>
        {({ alert, timeline }) => (
          <>
            <div className="card space-y-2">
              <div className="flex flex-wrap items-center gap-2">
                <SeverityBadge severity={alert.severity} />
                <StatusBadge status={alert.status} />
                <span className="font-medium">
                  <AlertTitle alert={alert} />
                </span>
                {alert.silenced_by && (
                  <span className="rounded bg-slate-200 px-1 text-xs dark:bg-slate-700">silenced</span>
                )}
                {admin && (
                  <span className="ml-auto space-x-1">
                    {alert.status === 'OPEN' && (
                      <button className="btn-ghost" onClick={() => change.mutate('acknowledge')}>
                        Acknowledge
                      </button>
                    )}
                    {alert.status !== 'CLOSED' && (
                      <button className="btn-ghost" onClick={() => change.mutate('close')}>
                        Close
                      </button>
                    )}
                  </span>
                )}
              </div>
              <p className="text-sm">{alert.summary}</p>
              <p className="text-xs text-slate-500">
                Device <DeviceLink deviceId={alert.device_id} /> · site {alert.site_id} · opened{' '}
                {dateTime(alert.created_at)}
                {alert.acknowledged_by && ` · acknowledged by ${alert.acknowledged_by}`}
                {alert.closed_at && ` · closed ${dateTime(alert.closed_at)} by ${alert.closed_by ?? 'Pulse'}`}
              </p>
              {change.error && <ErrorBox error={change.error} />}
            </div>
            <div className="card">
              <h2 className="mb-3 font-medium">Timeline</h2>
              <ol className="space-y-2" data-testid="alert-timeline">
                {timeline.map((entry, index) => (
                  <li key={index} className="flex gap-3 text-sm" data-kind={entry.kind}>
                    <span className={`mt-1.5 h-2 w-2 shrink-0 rounded-full ${TONE[entry.kind] ?? 'bg-slate-400'}`} />
                    <span className="w-40 shrink-0 text-xs text-slate-500" title={dateTime(entry.at)}>
                      {timeAgo(entry.at)}
                    </span>
                    {/* A long note, even one unbroken word, wraps within the card. */}
                    <span className="min-w-0 whitespace-pre-wrap wrap-anywhere">{describe(entry)}</span>
                  </li>
                ))}
              </ol>
              <form onSubmit={submit} className="mt-4 flex gap-2" aria-label="Add a note">
                <input
                  className="input"
                  aria-label="Note"
                  placeholder="Add a note for your team…"
                  maxLength={4000}
                  value={text}
                  onChange={(e) => setText(e.target.value)}
                />
                <button className="btn-primary" disabled={note.isPending || !text.trim()}>
                  Add note
                </button>
              </form>
              {note.error && <ErrorBox error={note.error} />}
            </div>
          </>
        )}
      </Loaded>
    </Page>
  );
}
