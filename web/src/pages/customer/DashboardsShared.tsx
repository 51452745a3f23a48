// A dashboard opened by its share link (/app/shared/<token>), with no login: that one dashboard, read only,
// with its range, variables, refresh and live mode (the link's own event stream, which carries no data);
// nothing leads elsewhere in the app. A link expired or revoked says so, also while it is open.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useParams } from 'react-router';
import { DashboardBoard } from '../../components/widgets/DashboardBoard';
import {
  DashboardToolbar,
  useDashboardData,
  useDashboardState,
  type DashboardDataQuery,
  type DashboardState,
  type LiveSource,
} from '../../components/widgets/DashboardToolbar';
import { ErrorBox, Loaded } from '../../components/ui';
import { sharedDashboardData, sharedDashboardQuery } from '../../lib/shared-dashboard';
import type { Answer } from '../../lib/types';

type Shared = Answer<'/api/shared-dashboards/{token}'>;

/** Live mode on a share link: its event stream says when to read again, and when the link stopped working. */
function linkEvents(token: string, device: string | undefined, gone: () => void): LiveSource {
  const path = `/api/shared-dashboards/${encodeURIComponent(token)}/live${device ? `?device=${encodeURIComponent(device)}` : ''}`;
  return {
    key: path,
    follow: (again) => {
      const events = new EventSource(path);
      events.addEventListener('changed', again);
      events.addEventListener('gone', () => {
        events.close();
        gone();
      });
      return () => events.close();
    },
  };
}

function SharedBoard({ shared, state, data }: { shared: Shared; state: DashboardState; data: DashboardDataQuery }) {
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">{shared.definition.name}</h1>
      <DashboardToolbar state={state} declared={shared.definition.variables} choices={shared.choices} />
      {data.error && <ErrorBox error={data.error} />}
      <DashboardBoard widgets={shared.definition.widgets} data={data.data} fetching={data.isFetching} shared />
    </div>
  );
}

export default function DashboardsShared() {
  const { token = '' } = useParams();
  const client = useQueryClient();
  const shared = useQuery(sharedDashboardQuery(token));
  const state = useDashboardState(shared.data?.definition);
  // Asked for beside the definition, not after it (and started as the app starts: prefetchSharedDashboard).
  const data = useDashboardData(
    ['shared', token],
    state,
    sharedDashboardData(token),
    linkEvents(token, state.variables.device, () => {
      void client.invalidateQueries({ queryKey: ['shared-dashboard', token] });
    }),
    !shared.isError,
  );
  return (
    <main className="min-h-screen p-3" data-testid="shared-dashboard">
      <Loaded query={shared}>{(answer) => <SharedBoard shared={answer} state={state} data={data} />}</Loaded>
    </main>
  );
}
