// Which routes an alert event goes to. Every matching route gets its own job (priority only orders them).

import type { DeliveryEvent } from './payload.js';

export const ALERT_TYPES = ['NO_HEARTBEAT', 'THRESHOLD'] as const;
/** Route severity names and the numeric severities they stand for. */
export const SEVERITY_NAMES: Record<string, number[]> = {
  CRITICAL: [5],
  HIGH: [4],
  WARNING: [3],
  MEDIUM: [3],
  LOW: [2],
  INFO: [1],
};

export interface RouteFilter {
  deliver_on: string[];
  min_severity: number | null;
  severities: string[] | null;
  alert_types: string[] | null;
  site_ids: string[] | null;
  device_prefixes: string[] | null;
}

export interface RoutedAlert {
  alert_type: string;
  severity: number;
  site_id: string;
  device_id: string;
}

const empty = (list: unknown[] | null) => !list || list.length === 0;

export function routeMatches(route: RouteFilter, alert: RoutedAlert, event: DeliveryEvent): boolean {
  if (!route.deliver_on.includes(event)) return false;
  if (route.min_severity !== null && alert.severity < route.min_severity) return false;
  if (!empty(route.severities) && !route.severities!.some((name) => SEVERITY_NAMES[name]?.includes(alert.severity)))
    return false;
  if (!empty(route.alert_types) && !route.alert_types!.includes(alert.alert_type)) return false;
  if (!empty(route.site_ids) && !route.site_ids!.includes(alert.site_id)) return false;
  if (!empty(route.device_prefixes) && !route.device_prefixes!.some((prefix) => alert.device_id.startsWith(prefix)))
    return false;
  return true;
}

/**
 * Seconds before retry `attempt` + 1: base × 2^(attempt−1), capped, then ±20 % jitter so that jobs that
 * failed together do not retry together.
 */
export function backoffSeconds(attempt: number, baseSeconds: number, maxSeconds: number, random = Math.random): number {
  const delay = Math.min(baseSeconds * 2 ** Math.max(0, attempt - 1), maxSeconds);
  return Math.max(1, Math.round(delay * (0.8 + 0.4 * random())));
}
