// Pages follow live alert events through the query cache: each frame is applied to the cached alert lists
// and counts (./alert-cache.ts); what a frame cannot settle is refetched, at most once per LIVE_REFETCH_GAP_MS
// per query, however many events arrive (ADR 013).
import { useQueryClient, type QueryClient, type QueryKey } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import {
  patchAlertCounts,
  patchAlertPage,
  type AlertListPage,
  type AlertListQuery,
  type ListedAlert,
} from './alert-cache';
import { subscribeAlerts, type AlertFrame } from './live';

export const LIVE_REFETCH_GAP_MS = 10_000;
/** The key of the dashboard's counts (GET /api/v2/fleet/summary). */
export const FLEET_SUMMARY_KEY = ['fleet-summary'] as const;
/** Alert lists are cached under ['alerts', <their query (AlertListQuery)>]. */
export const ALERT_LISTS_KEY = ['alerts'] as const;

const scheduled = new Map<string, ReturnType<typeof setTimeout>>();

/** Refetches `queryKey` once its answer is LIVE_REFETCH_GAP_MS old; calls meanwhile add nothing. */
export function refetchSoon(client: QueryClient, queryKey: QueryKey): void {
  const id = JSON.stringify(queryKey);
  if (scheduled.has(id)) return;
  const answeredAt = Math.max(
    0,
    ...client
      .getQueryCache()
      .findAll({ queryKey })
      .map((q) => q.state.dataUpdatedAt),
  );
  const timer = setTimeout(
    () => {
      scheduled.delete(id);
      void client.invalidateQueries({ queryKey });
    },
    Math.max(0, answeredAt + LIVE_REFETCH_GAP_MS - Date.now()),
  );
  scheduled.set(id, timer);
}

type Counted = { alerts: { OPEN: number; ACKNOWLEDGED: number } };

/** Frames already applied: every listener gets the same frame, and a count must move once. */
const applied = new WeakSet<AlertFrame>();

/** Applies one alert event to every cached alert list and to the fleet counts. */
export function applyAlertEvent(client: QueryClient, frame: AlertFrame): void {
  if (applied.has(frame)) return;
  applied.add(frame);
  for (const query of client.getQueryCache().findAll({ queryKey: ALERT_LISTS_KEY })) {
    const [, listQuery] = query.queryKey;
    const page = query.state.data as AlertListPage<ListedAlert> | undefined;
    if (typeof listQuery !== 'object' || listQuery === null || !page) continue;
    const patched = patchAlertPage(page, listQuery as AlertListQuery, frame.alert);
    if (patched === 'refetch') refetchSoon(client, query.queryKey);
    else if (patched !== page) client.setQueryData(query.queryKey, patched);
  }
  const summary = client.getQueryData<Counted>(FLEET_SUMMARY_KEY);
  if (!summary) return;
  const counts = patchAlertCounts(summary.alerts, frame.event);
  if (counts === 'refetch') refetchSoon(client, FLEET_SUMMARY_KEY);
  else if (counts !== summary.alerts) client.setQueryData(FLEET_SUMMARY_KEY, { ...summary, alerts: counts });
}

/**
 * Keeps this page's alert lists and counts current from the live socket; `onFrame` sees each event too.
 * After a reconnect (events may have been missed) they are fetched again.
 */
export function useLiveAlerts(onFrame?: (frame: AlertFrame) => void): void {
  const client = useQueryClient();
  const latest = useRef(onFrame);
  latest.current = onFrame;
  useEffect(
    () =>
      subscribeAlerts(
        (frame) => {
          applyAlertEvent(client, frame);
          latest.current?.(frame);
        },
        () => {
          void client.invalidateQueries({ queryKey: ALERT_LISTS_KEY });
          void client.invalidateQueries({ queryKey: FLEET_SUMMARY_KEY });
        },
      ),
    [client],
  );
}
