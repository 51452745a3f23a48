// A device's commands: how far each got, when, and what the device answered, refreshed every 2 s while one
// is on its way. Customer admins send one (typed, or from the tenant's saved templates) and cancel one the
// device has not confirmed yet; viewers read.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { FIRMWARE_COMMAND, FirmwareProgress, sentImageName } from '../../components/firmware';
import { CommandAnswer } from '../../components/json';
import { QueryTable } from '../../components/table';
import { ErrorBox, StatusBadge } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import { dateTime, timeAgo } from '../../lib/format';
import type { Command } from '../../lib/types';
import { SendCommand } from './SendCommand';

/** Every end state sets finished_at: until then a command moves on by itself, and the list is refreshed. */
const isOpen = (command: Command) => command.finished_at === null;
const CANCELABLE: readonly Command['state'][] = ['QUEUED', 'SENT'];
const REFRESH_MS = 2000;

function Transitions({ command: c }: { command: Command }) {
  const steps = [
    ['created', c.created_at],
    ['sent', c.sent_at],
    ['delivered', c.delivered_at],
    [isOpen(c) ? 'expires' : c.state.toLowerCase(), c.finished_at ?? c.expires_at],
  ] as const;
  return (
    <ul className="text-xs whitespace-nowrap">
      {steps
        .filter(([, at]) => at !== null)
        .map(([step, at]) => (
          <li key={step} title={dateTime(at)}>
            <span className="text-slate-500">{step}</span> {timeAgo(at)}
          </li>
        ))}
    </ul>
  );
}

export function DeviceCommands({ deviceId }: { deviceId: string }) {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const queryKey = ['commands', deviceId];
  const refresh = () => client.invalidateQueries({ queryKey });
  const commands = useQuery({
    queryKey,
    queryFn: () =>
      unwrap(
        api.GET('/customer/devices/{device_id}/commands', {
          params: { path: { device_id: deviceId }, query: { limit: 50 } },
        }),
      ),
    refetchInterval: (query) => (query.state.data?.commands.some(isOpen) ? REFRESH_MS : false),
  });
  const cancel = useMutation({
    mutationFn: (commandId: string) =>
      unwrap(api.POST('/customer/commands/{command_id}/cancel', { params: { path: { command_id: commandId } } })),
    onSettled: refresh,
  });
  return (
    <div className="space-y-4">
      {admin && <SendCommand deviceId={deviceId} onSent={refresh} />}
      {cancel.error && <ErrorBox error={cancel.error} />}
      <QueryTable
        query={commands}
        rows={(data) => data.commands}
        rowKey={(c) => c.command_id}
        empty="No commands sent to this device yet."
        testId="commands-table"
        columns={[
          {
            header: 'Command',
            cell: (c) => (
              <>
                <code className="font-semibold">{c.name}</code>
                <div className="max-w-56 truncate text-xs text-slate-500" title={JSON.stringify(c.params)}>
                  {c.name === FIRMWARE_COMMAND ? sentImageName(c.params) : JSON.stringify(c.params)}
                </div>
                {c.job_id && (
                  <Link className="text-xs text-indigo-600 hover:underline" to={`/jobs/${c.job_id}`}>
                    from a job
                  </Link>
                )}
              </>
            ),
          },
          {
            header: 'State',
            cell: (c) => (
              <>
                <StatusBadge status={c.state} />
                {c.send_count > 1 && <div className="text-xs text-slate-500">sent {c.send_count}×</div>}
              </>
            ),
          },
          { header: 'Times', cell: (c) => <Transitions command={c} /> },
          {
            header: 'Progress',
            cell: (c) =>
              c.name === FIRMWARE_COMMAND ? (
                <FirmwareProgress progress={c.progress} state={c.state} at={c.progress_at} />
              ) : c.progress ? (
                <span title={dateTime(c.progress_at)}>{c.progress}</span>
              ) : (
                '—'
              ),
          },
          {
            header: 'Answer',
            cell: (c) => <CommandAnswer error={c.error} result={c.result} />,
          },
          { header: 'By', className: 'text-xs', cell: (c) => c.created_by ?? '—' },
          admin && {
            header: '',
            cell: (c) =>
              CANCELABLE.includes(c.state) && (
                <button
                  className="btn-ghost"
                  disabled={cancel.isPending}
                  onClick={() => cancel.mutate(c.command_id)}
                  aria-label={`Cancel ${c.name}`}
                >
                  Cancel
                </button>
              ),
          },
        ]}
      />
    </div>
  );
}
