// Live alert events applied to the alert lists and counts already in the query cache, so a page follows
// the WebSocket without asking the API again (ADR 013). Each frame carries the whole alert as it is now, so a
// list on its first page can be patched exactly; what cannot be known from the frame (a later page whose
// rows shift, an alert closed from an unknown status) is answered with 'refetch', which callers debounce.
import type { LiveFrame } from './types';

/** The fields of an alert a list filters and sorts by. */
export interface ListedAlert {
  alert_id: number;
  status: string;
  severity: number;
  device_id: string;
  created_at: string;
}

export interface AlertListPage<A extends ListedAlert> {
  alerts: A[];
  total: number;
}

export type AlertEventName = Extract<LiveFrame, { type: 'alert' }>['event'];

/** The filter and page a list was asked for, as GET /customer/alerts takes them. */
export interface AlertListQuery {
  status?: string;
  severity?: number;
  device_id?: string;
  limit?: number;
  offset?: number;
}

/** Whether `alert` belongs in a list asked for with `query` (status, severity, device_id: exact, as the API). */
function listShows(query: AlertListQuery, alert: ListedAlert): boolean {
  const status = query.status ?? 'OPEN';
  return (
    (status === 'ALL' || status === alert.status) &&
    (query.severity === undefined || query.severity === alert.severity) &&
    (query.device_id === undefined || query.device_id === alert.device_id)
  );
}

/** Newest first, as the API orders lists (created_at, then id). */
const newerFirst = (a: ListedAlert, b: ListedAlert) =>
  b.created_at.localeCompare(a.created_at) || b.alert_id - a.alert_id;

/**
 * The page with `alert` as it is now: replaced in place, dropped when it no longer matches, or put in its
 * place on a first page. 'refetch' when the page cannot be right without the server: a later page (its rows
 * shift by one), or a full first page that lost a row the next page would fill.
 */
export function patchAlertPage<A extends ListedAlert>(
  page: AlertListPage<A>,
  query: AlertListQuery,
  alert: A,
): AlertListPage<A> | 'refetch' {
  const index = page.alerts.findIndex((shown) => shown.alert_id === alert.alert_id);
  const shows = listShows(query, alert);
  if (index >= 0 && shows) return { ...page, alerts: page.alerts.map((shown, i) => (i === index ? alert : shown)) };
  const limit = query.limit ?? page.alerts.length;
  const firstPage = (query.offset ?? 0) === 0;
  if (index >= 0) {
    if (!firstPage || page.total > limit) return 'refetch';
    return { alerts: page.alerts.filter((_, i) => i !== index), total: page.total - 1 };
  }
  if (!shows) return page;
  if (!firstPage) return 'refetch';
  const alerts = [...page.alerts, alert].sort(newerFirst);
  // Past the end of a full page: it is on a later one, only the total changes.
  return { alerts: alerts.length > limit ? alerts.slice(0, limit) : alerts, total: page.total + 1 };
}

export interface AlertCounts {
  OPEN: number;
  ACKNOWLEDGED: number;
}

/**
 * Open and acknowledged counts after an event: an OPENED alert is new, an ACKNOWLEDGED one was OPEN.
 * UPDATED changes no count. A CLOSED one was OPEN or ACKNOWLEDGED, which the frame does not say: 'refetch'.
 */
export function patchAlertCounts(counts: AlertCounts, event: AlertEventName): AlertCounts | 'refetch' {
  switch (event) {
    case 'OPENED':
      return { ...counts, OPEN: counts.OPEN + 1 };
    case 'ACKNOWLEDGED':
      return { OPEN: Math.max(0, counts.OPEN - 1), ACKNOWLEDGED: counts.ACKNOWLEDGED + 1 };
    case 'UPDATED':
      return counts;
    default:
      return 'refetch';
  }
}
