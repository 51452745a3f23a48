// A dashboard's range, variables and refresh, kept in the URL (a link, a bookmark or a reload shows the same
// view), and the one query that reads every widget's data: refreshed on its interval, and in live mode
// again soon after any live event of what it shows (at most every LIVE_REFETCH_GAP_MS): the live socket's
// for a signed-in user, a share link's own event stream on a shared page.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import {
  dashboardDataQuery,
  isoToLocal,
  localToIso,
  RELATIVE_RANGES,
  requestedRange,
  variablesOf,
  VIEW_PARAMS,
  type Choices,
  type DashboardDocument,
  type DataFetch,
} from '../../lib/dashboards';
import { refetchSoon } from '../../lib/live-queries';
import { useUrlParams } from '../../lib/url-params';

const REFRESH_CHOICES = [
  ['0', 'Off'],
  ['10', '10 s'],
  ['30', '30 s'],
  ['60', '1 min'],
  ['300', '5 min'],
] as const;

/** The view's state from the URL, with the dashboard's own range and refresh as defaults. */
export function useDashboardState(definition: DashboardDocument | undefined) {
  const [params, setParams] = useUrlParams(VIEW_PARAMS);
  const time = {
    from: params.from || definition?.time.from || 'now-24h',
    to: params.to || definition?.time.to || 'now',
  };
  const variables = variablesOf(params);
  const refreshSeconds = Number(params.refresh || definition?.refresh_seconds || 0);
  const requestTime = requestedRange(params, definition?.time);
  return { params, setParams, time, requestTime, variables, refreshSeconds, live: params.live === '1' };
}
export type DashboardState = ReturnType<typeof useDashboardState>;

/**
 * What live mode listens to: `follow` calls `again` whenever what the widgets show may have changed, and
 * returns how to stop; `key` changes when what it follows does.
 */
export interface LiveSource {
  key: string;
  follow: (again: () => void) => () => void;
}

/** Every widget's data in one request; `key` names the dashboard (and the draft being edited). */
export function useDashboardData(
  key: unknown[],
  state: DashboardState,
  fetchData: DataFetch,
  live: LiveSource,
  /** False stops reading (a share link found gone): no refresh keeps asking. */
  enabled = true,
) {
  const client = useQueryClient();
  const { requestTime } = state;
  const { queryKey, queryFn } = dashboardDataQuery(key, requestTime ?? null, state.variables, fetchData);
  const query = useQuery({
    queryKey,
    queryFn,
    enabled: enabled && requestTime !== undefined,
    refetchInterval: state.refreshSeconds > 0 ? state.refreshSeconds * 1000 : false,
    placeholderData: (previous) => previous,
  });
  const queryKeyText = JSON.stringify(queryKey);
  useEffect(() => {
    if (!state.live || !enabled) return;
    return live.follow(() => refetchSoon(client, queryKey));
    // queryKey changes identity every render; its text says when it really changed.
  }, [state.live, enabled, live.key, queryKeyText, client]);
  return query;
}
export type DashboardDataQuery = ReturnType<typeof useDashboardData>;

/** One end of an absolute range: a local date and time, kept as an ISO instant. */
function InstantInput({ label, value, onChange }: { label: string; value: string; onChange: (iso: string) => void }) {
  return (
    <label className="flex flex-col gap-0.5">
      <span className="text-xs text-slate-500">{label}</span>
      <input
        className="input"
        type="datetime-local"
        aria-label={label}
        value={value.startsWith('now') ? '' : isoToLocal(value)}
        onChange={(event) => event.target.value && onChange(localToIso(event.target.value))}
      />
    </label>
  );
}

export function DashboardToolbar({
  state,
  declared,
  choices,
}: {
  state: DashboardState;
  declared: DashboardDocument['variables'];
  choices: Choices | undefined;
}) {
  const { params, setParams, time } = state;
  const relative = RELATIVE_RANGES.some(([from]) => from === time.from) && time.to === 'now';
  const lists: Record<(typeof declared)[number], string[]> = {
    site: choices?.sites ?? [],
    tag: choices?.tags ?? [],
    device: choices?.devices ?? [],
  };
  return (
    <div className="flex flex-wrap items-end gap-2 text-sm" data-testid="dashboard-toolbar">
      <label className="flex flex-col gap-0.5">
        <span className="text-xs text-slate-500">Range</span>
        <select
          className="input"
          aria-label="Range"
          value={relative ? time.from : 'custom'}
          onChange={(event) =>
            event.target.value === 'custom'
              ? setParams({
                  from: new Date(Date.now() - 86_400_000).toISOString(),
                  to: new Date().toISOString(),
                })
              : setParams({ from: event.target.value, to: 'now' })
          }
        >
          {RELATIVE_RANGES.map(([from, label]) => (
            <option key={from} value={from}>
              {label}
            </option>
          ))}
          <option value="custom">From … to …</option>
        </select>
      </label>
      {!relative && (
        <>
          <InstantInput label="From" value={time.from} onChange={(from) => setParams({ from })} />
          <InstantInput label="To" value={time.to} onChange={(to) => setParams({ to })} />
        </>
      )}
      {declared.map((kind) => (
        <label key={kind} className="flex flex-col gap-0.5">
          <span className="text-xs text-slate-500 capitalize">{kind}</span>
          <select
            className="input"
            aria-label={`Variable ${kind}`}
            value={params[kind]}
            onChange={(event) => setParams({ [kind]: event.target.value })}
          >
            <option value="">{kind === 'device' ? 'Choose…' : 'All'}</option>
            {lists[kind].map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </label>
      ))}
      <label className="flex flex-col gap-0.5">
        <span className="text-xs text-slate-500">Refresh</span>
        <select
          className="input"
          aria-label="Refresh"
          value={String(state.refreshSeconds)}
          onChange={(event) => setParams({ refresh: event.target.value })}
        >
          {REFRESH_CHOICES.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <label className="flex items-center gap-1 pb-2">
        <input
          type="checkbox"
          checked={state.live}
          onChange={(event) => setParams({ live: event.target.checked ? '1' : '' })}
        />
        Live
      </label>
    </div>
  );
}
