import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { QueryTable } from '../../components/table';
import { AlertTitle, DeviceLink, ErrorBox, Page, Pager, SeverityBadge, StatusBadge } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { useUrlParams } from '../../lib/url-params';
import { useAuth } from '../../lib/auth';
import { dateTime, SEVERITY_CHOICES, timeAgo } from '../../lib/format';
import { useLiveAlerts } from '../../lib/live-queries';
import type { Query } from '../../lib/types';

const STATUSES = ['OPEN', 'ACKNOWLEDGED', 'CLOSED', 'ALL'];
const PAGE = 50;

export default function Alerts() {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const [filters, setFilters] = useUrlParams({ status: 'OPEN', severity: '', device: '', page: '0' });
  const { status, severity, device } = filters;
  const page = Number(filters.page) || 0;
  const query: Query<'/customer/alerts'> = {
    status,
    limit: PAGE,
    offset: page * PAGE,
    ...(severity && { severity: Number(severity) }),
    ...(device && { device_id: device }),
  };
  const alerts = useQuery({
    queryKey: ['alerts', query],
    queryFn: () => unwrap(api.GET('/customer/alerts', { params: { query } })),
    placeholderData: keepPreviousData,
  });
  useLiveAlerts();
  const change = useMutation({
    mutationFn: ({ id, action }: { id: number; action: 'acknowledge' | 'close' }) =>
      unwrap(api.POST(`/customer/alerts/{alert_id}/${action}`, { params: { path: { alert_id: id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['alerts'] }),
  });
  // Alerts ticked for a bulk acknowledge or close (on this page).
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const shown = alerts.data?.alerts ?? [];
  const tick = (id: number, on: boolean) =>
    setSelected((current) => {
      const next = new Set(current);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  const bulk = useMutation({
    mutationFn: (action: 'acknowledge' | 'close') =>
      unwrap(api.POST('/customer/alerts/bulk', { body: { action, alert_ids: [...selected] } })),
    onSuccess: async () => {
      setSelected(new Set());
      await client.invalidateQueries({ queryKey: ['alerts'] });
    },
  });
  return (
    <Page title="Alerts">
      <div className="card flex flex-wrap items-center gap-2">
        <div role="tablist" aria-label="Status" className="flex gap-1">
          {STATUSES.map((s) => (
            <button
              key={s}
              role="tab"
              aria-selected={status === s}
              className={status === s ? 'btn-primary' : 'btn-ghost'}
              onClick={() => setFilters({ status: s, page: '0' })}
            >
              {s}
            </button>
          ))}
        </div>
        <select
          className="input max-w-40"
          aria-label="Severity"
          value={severity}
          onChange={(e) => setFilters({ severity: e.target.value, page: '0' })}
        >
          <option value="">All severities</option>
          {SEVERITY_CHOICES.map(([value, name]) => (
            <option key={value} value={value}>
              {name}
            </option>
          ))}
        </select>
        <input
          className="input max-w-48"
          placeholder="Device"
          aria-label="Device"
          value={device}
          onChange={(e) => setFilters({ device: e.target.value, page: '0' })}
        />
      </div>
      {admin && selected.size > 0 && (
        <div className="card flex items-center gap-2 text-sm" role="region" aria-label="Selected alerts">
          <span>{selected.size} selected</span>
          <button className="btn-primary" disabled={bulk.isPending} onClick={() => bulk.mutate('acknowledge')}>
            Acknowledge selected
          </button>
          <button className="btn-ghost" disabled={bulk.isPending} onClick={() => bulk.mutate('close')}>
            Close selected
          </button>
          <button className="btn-ghost" onClick={() => setSelected(new Set())}>
            Clear
          </button>
        </div>
      )}
      {(change.error || bulk.error) && <ErrorBox error={change.error ?? bulk.error} />}
      <QueryTable
        query={alerts}
        rows={(data) => data.alerts}
        rowKey={(alert) => alert.alert_id}
        empty={`No ${status === 'ALL' ? '' : status.toLowerCase()} alerts.`}
        skeletonRows={6}
        testId="alerts-table"
        columns={[
          admin && {
            header: (
              <input
                type="checkbox"
                aria-label="Select all shown"
                checked={shown.length > 0 && shown.every((alert) => selected.has(alert.alert_id))}
                onChange={(e) => setSelected(e.target.checked ? new Set(shown.map((a) => a.alert_id)) : new Set())}
              />
            ),
            cell: (alert) => (
              <input
                type="checkbox"
                aria-label={`Select alert ${alert.alert_id}`}
                checked={selected.has(alert.alert_id)}
                onChange={(e) => tick(alert.alert_id, e.target.checked)}
              />
            ),
          },
          { header: 'Severity', cell: (alert) => <SeverityBadge severity={alert.severity} /> },
          {
            header: 'Status',
            cell: (alert) => (
              <>
                <StatusBadge status={alert.status} />
                <div className="text-xs text-slate-500">{statusActor(alert)}</div>
              </>
            ),
          },
          {
            header: 'Alert',
            cell: (alert) => (
              <>
                <div className="font-medium">
                  <Link className="text-indigo-600 hover:underline" to={`/alerts/${alert.alert_id}`}>
                    <AlertTitle alert={alert} />
                  </Link>
                  {alert.silenced_by && (
                    <span
                      className="ml-2 rounded bg-slate-200 px-1 text-xs dark:bg-slate-700"
                      title="A silence held its notifications"
                    >
                      silenced
                    </span>
                  )}
                </div>
                <div className="text-xs text-slate-500">{alert.summary}</div>
              </>
            ),
          },
          { header: 'Device', cell: (alert) => <DeviceLink deviceId={alert.device_id} /> },
          {
            header: 'Opened',
            title: (alert) => dateTime(alert.created_at),
            cell: (alert) => timeAgo(alert.created_at),
          },
          admin && {
            header: '',
            className: 'space-x-1 whitespace-nowrap',
            cell: (alert) => (
              <>
                {alert.status === 'OPEN' && (
                  <button
                    className="btn-ghost"
                    onClick={() => change.mutate({ id: alert.alert_id, action: 'acknowledge' })}
                  >
                    Acknowledge
                  </button>
                )}
                {alert.status !== 'CLOSED' && (
                  <button className="btn-ghost" onClick={() => change.mutate({ id: alert.alert_id, action: 'close' })}>
                    Close
                  </button>
                )}
              </>
            ),
          },
        ]}
      >
        <Pager
          page={page}
          size={PAGE}
          total={alerts.data?.total ?? 0}
          onPage={(next) => setFilters({ page: String(next) })}
          noun="alerts"
        />
      </QueryTable>
    </Page>
  );
}

/** Who put the alert in its status: a closed one by whoever closed it (null: Pulse, when it cleared). */
function statusActor(alert: { status: string; acknowledged_by?: string | null; closed_by?: string | null }) {
  if (alert.status === 'CLOSED') return `closed by ${alert.closed_by ?? 'Pulse'}`;
  return alert.acknowledged_by ? `acknowledged by ${alert.acknowledged_by}` : '';
}
