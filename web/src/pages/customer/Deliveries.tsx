// Every notification of the tenant: where it went, for which alert, how it went (status, attempts, the
// last HTTP status or error, latency), filtered by integration, status and time, with "Retry now" for a
// FAILED one. The filters live in the URL, so an integration's "All its deliveries" link lands here.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { QueryTable } from '../../components/table';
import { ErrorBox, Page, Pager, StatusBadge } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import { dateTime, timeAgo } from '../../lib/format';
import { useUrlParams } from '../../lib/url-params';
import type { Query } from '../../lib/types';

const STATUSES: NonNullable<Query<'/customer/deliveries'>['status']>[] = [
  'FAILED',
  'PENDING',
  'PROCESSING',
  'COMPLETED',
  'SILENCED',
  'SUPERSEDED',
];
const PAGE = 50;
/** How far back the "since" choices reach, in hours ('' = all). */
const SINCE = [
  ['', 'any time'],
  ['1', 'last hour'],
  ['24', 'last 24 h'],
  ['168', 'last 7 days'],
] as const;

/** "repeat 2", "escalation after 30 min" for a follow-up's notice key; '' for the event itself. */
const noticeText = (notice: string) => {
  const [kind, first, second] = notice.split(':');
  if (kind === 'repeat') return `repeat ${first}`;
  if (kind === 'escalation') return `escalation after ${second} min`;
  return '';
};

export default function Deliveries() {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const [filters, setFilters] = useUrlParams({ integration: '', status: '', since: '', page: '0' });
  const page = Number(filters.page) || 0;
  const integrations = useQuery({
    queryKey: ['integrations'],
    queryFn: () => unwrap(api.GET('/customer/integrations')),
  });
  // Relative to now at each fetch; the query is keyed by the filters (and refreshed every 5 s).
  const since = () => new Date(Date.now() - Number(filters.since) * 3_600_000).toISOString();
  const jobs = useQuery({
    queryKey: ['deliveries', filters],
    queryFn: () =>
      unwrap(
        api.GET('/customer/deliveries', {
          params: {
            query: {
              limit: PAGE,
              offset: page * PAGE,
              ...(filters.integration && { integration_id: filters.integration }),
              status: STATUSES.find((status) => status === filters.status),
              ...(filters.since && { start: since() }),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: 5000,
  });
  const retry = useMutation({
    mutationFn: (jobId: number) =>
      unwrap(api.POST('/customer/deliveries/{job_id}/retry', { params: { path: { job_id: jobId } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['deliveries'] }),
  });
  return (
    <Page title="Deliveries">
      <div className="card flex flex-wrap items-center gap-2">
        <select
          className="input max-w-56"
          aria-label="Integration"
          value={filters.integration}
          onChange={(e) => setFilters({ integration: e.target.value, page: '0' })}
        >
          <option value="">All integrations</option>
          {integrations.data?.integrations.map((i) => (
            <option key={i.integration_id} value={i.integration_id}>
              {i.name} ({i.type})
            </option>
          ))}
        </select>
        <select
          className="input max-w-40"
          aria-label="Status"
          value={filters.status}
          onChange={(e) => setFilters({ status: e.target.value, page: '0' })}
        >
          {['', ...STATUSES].map((s) => (
            <option key={s} value={s}>
              {s || 'Any status'}
            </option>
          ))}
        </select>
        <select
          className="input max-w-40"
          aria-label="Since"
          value={filters.since}
          onChange={(e) => setFilters({ since: e.target.value, page: '0' })}
        >
          {SINCE.map(([hours, label]) => (
            <option key={hours} value={hours}>
              {label}
            </option>
          ))}
        </select>
      </div>
      {retry.error && <ErrorBox error={retry.error} />}
      <QueryTable
        query={jobs}
        rows={(data) => data.jobs}
        rowKey={(job) => job.job_id}
        empty="No notifications match."
        testId="deliveries-table"
        columns={[
          {
            header: 'Queued',
            title: (job) => dateTime(job.created_at),
            cell: (job) => timeAgo(job.created_at),
          },
          {
            header: 'Alert',
            cell: (job) => (
              <>
                <Link className="text-indigo-600 hover:underline" to={`/alerts/${job.alert_id}`}>
                  #{job.alert_id} {job.alert_type}
                </Link>
                <div className="text-xs text-slate-500">{job.device_id}</div>
              </>
            ),
          },
          {
            header: 'To',
            cell: (job) => (
              <>
                {job.integration_name} <span className="text-xs text-slate-500">({job.integration_type})</span>
              </>
            ),
          },
          {
            header: 'Event',
            cell: (job) => (
              <>
                {job.event}
                {job.notice && <div className="text-xs text-slate-500">{noticeText(job.notice)}</div>}
              </>
            ),
          },
          { header: 'Status', cell: (job) => <StatusBadge status={job.status} /> },
          { header: 'Attempts', cell: (job) => job.attempts },
          {
            header: 'Last result',
            className: 'max-w-64 truncate text-xs',
            title: (job) => job.last_error ?? undefined,
            cell: (job) =>
              [
                job.last_http_status && `HTTP ${job.last_http_status}`,
                job.last_error,
                job.last_latency_ms !== null && `${job.last_latency_ms} ms`,
              ]
                .filter(Boolean)
                .join(' · ') || '—',
          },
          admin && {
            header: '',
            cell: (job) =>
              job.status === 'FAILED' && (
                <button className="btn-ghost" disabled={retry.isPending} onClick={() => retry.mutate(job.job_id)}>
                  Retry now
                </button>
              ),
          },
        ]}
      >
        <Pager
          page={page}
          size={PAGE}
          total={jobs.data?.total ?? 0}
          onPage={(next) => setFilters({ page: String(next) })}
          noun="notifications"
        />
      </QueryTable>
    </Page>
  );
}
