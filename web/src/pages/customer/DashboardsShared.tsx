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
  type LiveSource,
} from '../../components/widgets/DashboardToolbar';
import { ErrorBox, Loaded } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
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

function SharedBoard({ token, shared }: { token: string; shared: Shared }) {
  const client = useQueryClient();
  const state = useDashboardState(shared.definition);
  const data = useDashboardData(
    ['shared', token],
    state,
    (body) => unwrap(api.POST('/api/shared-dashboards/{token}/data', { params: { path: { token } }, body })),
    linkEvents(token, state.variables.device, () => {
      void client.invalidateQueries({ queryKey: ['shared-dashboard', token] });
    }),
  );
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
  const shared = useQuery({
    queryKey: ['shared-dashboard', token],
    queryFn: () => unwrap(api.GET('/api/shared-dashboards/{token}', { params: { path: { token } } })),
    retry: false,
  });
  return (
    <main className="min-h-screen p-3" data-testid="shared-dashboard">
      <Loaded query={shared}>{(answer) => <SharedBoard token={token} shared={answer} />}</Loaded>
    </main>
  );
}
