// Fleet jobs: a command, a configuration change or a firmware update rolled out over a selection of
// devices. Every customer role follows them; customer admins start them.
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { sentImageName } from '../../components/firmware';
import { JobProgress } from '../../components/job-progress';
import { QueryTable } from '../../components/table';
import { Modal, Page, StatusBadge } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import { dateTime, timeAgo } from '../../lib/format';
import type { Job } from '../../lib/types';
import { JobForm } from './JobForm';

/** Quick while a job runs (its bar moves), slow otherwise (a colleague may start one). */
const RUNNING_REFRESH_MS = 5000;
const IDLE_REFRESH_MS = 30_000;

/** What a job sends: the command's name, that it changes configuration, or which firmware. */
export const jobWhat = (job: Job) =>
  job.kind === 'config'
    ? 'configuration change'
    : job.kind === 'firmware'
      ? `firmware ${sentImageName(job.params)}`
      : (job.command_name ?? job.kind);

export default function Jobs() {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  const jobs = useQuery({
    queryKey: ['jobs'],
    queryFn: () => unwrap(api.GET('/customer/jobs', { params: { query: { limit: 100 } } })),
    refetchInterval: (query) =>
      query.state.data?.jobs.some((job) => job.state === 'RUNNING') ? RUNNING_REFRESH_MS : IDLE_REFRESH_MS,
  });
  return (
    <Page
      title="Jobs"
      actions={
        admin && (
          <button className="btn-primary" onClick={() => setCreating(true)}>
            New job
          </button>
        )
      }
    >
      <p className="text-sm text-slate-500">
        A job sends a command, a configuration change or a firmware update to many devices at a pace you choose, and
        stops by itself when too many fail.
      </p>
      <QueryTable
        query={jobs}
        rows={(data) => data.jobs}
        rowKey={(job) => job.job_id}
        empty="No jobs yet."
        testId="jobs-table"
        columns={[
          {
            header: 'Job',
            cell: (job) => (
              <Link className="text-indigo-600 hover:underline" to={`/jobs/${job.job_id}`}>
                {job.name}
              </Link>
            ),
          },
          { header: 'Sends', cell: (job) => <code className="text-xs">{jobWhat(job)}</code> },
          { header: 'State', cell: (job) => <StatusBadge status={job.state} /> },
          { header: 'Progress', className: 'w-1/4 min-w-40', cell: (job) => <JobProgress counts={job.counts} /> },
          { header: 'Devices', className: 'tabular-nums', cell: (job) => job.counts.total },
          {
            header: 'Started',
            className: 'whitespace-nowrap',
            title: (job) => dateTime(job.started_at),
            cell: (job) => timeAgo(job.started_at),
          },
          { header: 'By', className: 'text-xs', cell: (job) => job.created_by ?? '—' },
        ]}
      />
      <Modal open={creating} title="New job" onClose={() => setCreating(false)}>
        <JobForm onCreated={(job) => navigate(`/jobs/${job.job_id}`)} />
      </Modal>
    </Page>
  );
}
