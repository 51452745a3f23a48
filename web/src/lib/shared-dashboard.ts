// A dashboard's share link (/app/shared/<token>): its queries, read by the page and started by the app as
// it starts — before the page's own code (charts, grid) has loaded, so the data is read meanwhile.
import type { QueryClient } from '@tanstack/react-query';
import { api, unwrap } from './api';
import { prefetchDashboardData, type DataFetch } from './dashboards';

export const sharedDashboardQuery = (token: string) => ({
  queryKey: ['shared-dashboard', token],
  queryFn: () => unwrap(api.GET('/api/shared-dashboards/{token}', { params: { path: { token } } })),
  retry: false,
});

/** The link's data call; `key` of its data query is ['shared', token]. */
export const sharedDashboardData =
  (token: string): DataFetch =>
  (body) =>
    unwrap(api.POST('/api/shared-dashboards/{token}/data', { params: { path: { token } }, body }));

/** Starts both reads of the share link the app opened on (the data when the URL alone says what to ask for). */
export function prefetchSharedDashboard(client: QueryClient, token: string, search: URLSearchParams): void {
  void client.prefetchQuery(sharedDashboardQuery(token));
  prefetchDashboardData(client, ['shared', token], search, sharedDashboardData(token));
}
