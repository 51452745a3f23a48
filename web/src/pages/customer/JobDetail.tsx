// One fleet job: what it sends to which devices and how, how far it got (why it stopped, when aborted), and
// each device's outcome, filtered by state a page at a time; refreshed every 2 s while it moves. Customer
// admins cancel it while it runs and retry its failed devices.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useParams } from 'react-router';
import { describeSelector, type DeviceSelector } from '../../lib/selector';
import { FirmwareProgress } from '../../components/firmware';
import { JobProgress } from '../../components/job-progress';
import { CommandAnswer, JsonDetails } from '../../components/json';
import { QueryTable } from '../../components/table';
import { DeviceLink, ErrorBox, Loaded, Page, Pager, StatusBadge } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import { dateTime, timeAgo } from '../../lib/format';
import { useUrlParams } from '../../lib/url-params';
import type { Execution, Job, Query } from '../../lib/types';
import { jobWhat } from './Jobs';

const EXECUTION_STATES: Execution['state'][] = [
  'PENDING',
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'CANCELED',
];
const PAGE = 50;
const REFRESH_MS = 2000;

/** A stopped job's devices already started may still answer: it moves while any is in progress. */
const isMoving = (job: Job | undefined) => job !== undefined && (job.state === 'RUNNING' || job.counts.IN_PROGRESS > 0);

function Facts({ job }: { job: Job }) {
  const policy = [
    job.rate_per_minute === null ? 'no pace limit' : `${job.rate_per_minute} devices a minute`,
    `at most ${job.max_in_flight} in flight`,
    `${job.timeout_seconds} s per device`,
    job.abort_failure_percent === null
      ? 'never aborted'
      : `aborted when more than ${job.abort_failure_percent} % of at least ${job.abort_min_devices} devices fail`,
  ];
  return (
    <div className="card grid gap-3 text-sm sm:grid-cols-2 lg:grid-cols-4">
      <div>
        <div className="label">State</div>
        <span data-testid="job-state">
          <StatusBadge status={job.state} />
        </span>
      </div>
      <div>
        <div className="label">Sends</div>
        <code>{jobWhat(job)}</code>
        {job.params !== null && (
          <JsonDetails summary={job.kind === 'config' ? 'Patch' : 'Parameters'} value={job.params} />
        )}
      </div>
      <div>
        <div className="label">To</div>
        {describeSelector(job.selector as DeviceSelector)}
      </div>
      <div>
        <div className="label">Started</div>
        <span title={dateTime(job.started_at)}>{timeAgo(job.started_at)}</span> by {job.created_by ?? '—'}
        {job.finished_at && (
          <div className="text-xs text-slate-500">
            ended <span title={dateTime(job.finished_at)}>{timeAgo(job.finished_at)}</span>
          </div>
        )}
      </div>
      <div className="sm:col-span-2 lg:col-span-4">
        <div className="label">Rollout</div>
        {policy.join(' · ')}
      </div>
      {job.reason && (
        <div
          className="rounded border border-amber-400 p-2 sm:col-span-2 lg:col-span-4"
          role={job.state === 'ABORTED' ? 'alert' : undefined}
          data-testid="job-reason"
        >
          {job.reason}
        </div>
      )}
    </div>
  );
}

export default function JobDetail() {
  const jobId = useParams().jobId!;
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const [filters, setFilters] = useUrlParams({ state: '', page: '0' });
  const page = Number(filters.page) || 0;
  const path = { job_id: jobId };
  const job = useQuery({
    queryKey: ['job', jobId],
    queryFn: () => unwrap(api.GET('/customer/jobs/{job_id}', { params: { path } })),
    refetchInterval: (query) => (isMoving(query.state.data) ? REFRESH_MS : false),
  });
  const query: Query<'/customer/jobs/{job_id}/executions'> = {
    limit: PAGE,
    offset: page * PAGE,
    state: EXECUTION_STATES.find((state) => state === filters.state),
  };
  // Asked again whenever the job's counts change (the last change too, as the job stops moving), and every
  // 2 s while it moves, for the progress its devices report.
  const executions = useQuery({
    queryKey: ['job', jobId, 'executions', query, JSON.stringify(job.data?.counts)],
    queryFn: () => unwrap(api.GET('/customer/jobs/{job_id}/executions', { params: { path, query } })),
    placeholderData: keepPreviousData,
    refetchInterval: isMoving(job.data) ? REFRESH_MS : false,
  });
  const act = useMutation({
    mutationFn: (action: 'cancel' | 'retry') =>
      unwrap(api.POST(`/customer/jobs/{job_id}/${action}`, { params: { path } })),
    onSettled: () => client.invalidateQueries({ queryKey: ['job', jobId] }),
  });
  const counts = job.data?.counts;
  const failed = counts ? counts.FAILED + counts.TIMED_OUT : 0;
  return (
    <Page
      title={job.data ? `Job ${job.data.name}` : 'Job'}
      actions={
        admin &&
        job.data && (
          <>
            {job.data.state === 'RUNNING' && (
              <button
                className="btn-danger"
                disabled={act.isPending}
                onClick={() =>
                  confirm('Cancel this job? Devices not started are withdrawn, and so are unconfirmed commands.') &&
                  act.mutate('cancel')
                }
              >
                Cancel job
              </button>
            )}
            {failed > 0 && (
              <button className="btn-ghost" disabled={act.isPending} onClick={() => act.mutate('retry')}>
                Retry {failed} failed
              </button>
            )}
          </>
        )
      }
    >
      {act.error && <ErrorBox error={act.error} />}
      <Loaded query={job}>
        {(data) => (
          <>
            <Facts job={data} />
            <div className="card">
              <h2 className="mb-2 text-sm font-semibold">Progress</h2>
              <JobProgress counts={data.counts} legend />
            </div>
          </>
        )}
      </Loaded>
      <div className="card flex flex-wrap items-center gap-2">
        <select
          className="input max-w-48"
          aria-label="Device state"
          value={filters.state}
          onChange={(e) => setFilters({ state: e.target.value, page: '0' })}
        >
          <option value="">All devices</option>
          {EXECUTION_STATES.map((state) => (
            <option key={state} value={state}>
              {state} ({counts?.[state] ?? 0})
            </option>
          ))}
        </select>
      </div>
      <QueryTable
        query={executions}
        rows={(data) => data.executions}
        rowKey={(e) => e.device_id}
        empty="No device in this state."
        testId="executions-table"
        columns={[
          { header: 'Device', className: 'whitespace-nowrap', cell: (e) => <DeviceLink deviceId={e.device_id} /> },
          { header: 'State', cell: (e) => <StatusBadge status={e.state} /> },
          {
            header: 'Started',
            className: 'whitespace-nowrap',
            title: (e) => dateTime(e.started_at),
            cell: (e) => (e.started_at ? timeAgo(e.started_at) : '—'),
          },
          {
            header: 'Finished',
            className: 'whitespace-nowrap',
            title: (e) => dateTime(e.finished_at),
            cell: (e) => (e.finished_at ? timeAgo(e.finished_at) : '—'),
          },
          {
            header: 'Progress',
            cell: (e) =>
              job.data?.kind === 'firmware' ? (
                <FirmwareProgress progress={e.progress} state={e.state} />
              ) : (
                (e.progress ?? '—')
              ),
          },
          {
            header: 'Answer',
            cell: (e) => <CommandAnswer error={e.error} result={e.result} />,
          },
        ]}
      >
        <Pager
          page={page}
          size={PAGE}
          total={counts ? (filters.state ? counts[filters.state as Execution['state']] : counts.total) : 0}
          onPage={(next) => setFilters({ page: String(next) })}
          noun="devices"
        />
      </QueryTable>
    </Page>
  );
}
