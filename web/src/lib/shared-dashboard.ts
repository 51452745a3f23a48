// A dashboard's share link (/app/shared/<token>): its queries, read by the page and started by the app as
// it starts — before the page's own code (charts, grid) has loaded, so the data is read meanwhile.
import type { QueryClient } from '@tanstack/react-query';
import { api, unwrap } from './api';
import { dashboardDataQuery, requestedRange, variablesOf, VIEW_PARAMS, type ViewParams } from './dashboards';

export const sharedDashboardQuery = (token: string) => ({
  queryKey: ['shared-dashboard', token],
  queryFn: () => unwrap(api.GET('/api/shared-dashboards/{token}', { params: { path: { token } } })),
  retry: false,
});

/** The link's data call; `key` of its data query is ['shared', token]. */
export const sharedDashboardData =
  (token: string): Parameters<typeof dashboardDataQuery>[3] =>
  (body) =>
    unwrap(api.POST('/api/shared-dashboards/{token}/data', { params: { path: { token } }, body }));

/** Starts both reads of the share link the app opened on, when the URL alone says what to ask for. */
export function prefetchSharedDashboard(client: QueryClient, token: string, search: URLSearchParams): void {
  void client.prefetchQuery(sharedDashboardQuery(token));
  const params = Object.fromEntries(
    Object.keys(VIEW_PARAMS).map((name) => [name, search.get(name) ?? '']),
  ) as ViewParams;
  const time = requestedRange(params, undefined);
  if (time !== undefined)
    void client.prefetchQuery(
      dashboardDataQuery(['shared', token], time, variablesOf(params), sharedDashboardData(token)),
    );
}
