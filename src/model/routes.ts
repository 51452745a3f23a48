// Routes: which alert events go to which integration. The vocabulary of a route's filter, the rule that
// matches an alert against it (every matching route gets its own job; priority only orders them), and
// the routes' SQL.
import type { DeliveryEvent } from '../channels/payload.js';
import type { ServiceTx, TenantScope, TenantTx } from '../db/database.js';
import { eventHappenedAt } from './alerts.js';
import type { DeviceSelector } from './device-selection.js';

/** What a route may filter on: device alerts, and an integration's own failure (integration-health.ts). */
export const ALERT_TYPES = ['NO_HEARTBEAT', 'THRESHOLD', 'INTEGRATION_FAILING'] as const;
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
  /** Devices by tags, attributes…: matched by the dispatcher (scopeMatcher), as the alert's device is now. */
  selector: DeviceSelector | null;
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

/** After `after_minutes` OPEN and unacknowledged, an alert is also notified to this integration. */
export interface EscalationStep {
  after_minutes: number;
  integration_id: string;
}

/** What a route does for an alert nobody acknowledges. */
export interface FollowUpPolicy {
  renotify_minutes: number | null;
  escalations: EscalationStep[];
}

export interface RouteColumns {
  integration_id?: string;
  name?: string;
  enabled?: boolean;
  min_severity?: number | null;
  alert_types?: string[] | null;
  severities?: string[] | null;
  site_ids?: string[] | null;
  device_prefixes?: string[] | null;
  selector?: DeviceSelector | null;
  deliver_on?: string[];
  priority?: number;
  renotify_minutes?: number | null;
  escalations?: EscalationStep[];
  deliver_superseded?: boolean;
}

const ROUTE_WRITABLE = [
  'integration_id',
  'name',
  'enabled',
  'min_severity',
  'alert_types',
  'severities',
  'site_ids',
  'device_prefixes',
  'selector',
  'deliver_on',
  'priority',
  'renotify_minutes',
  'escalations',
  'deliver_superseded',
] as const;

/** A column's value as a query parameter (the escalation steps and the selector are JSONB). */
const param = (columns: RouteColumns, name: (typeof ROUTE_WRITABLE)[number]) =>
  (name === 'escalations' || name === 'selector') && columns[name] ? JSON.stringify(columns[name]) : columns[name];

const ROUTE_SELECT = `SELECT r.tenant_id, r.route_id, r.integration_id, i.name AS integration_name, i.type AS integration_type,
  r.name, r.enabled, r.min_severity, r.alert_types, r.severities, r.site_ids, r.device_prefixes, r.selector, r.deliver_on, r.priority,
  r.renotify_minutes, r.escalations, r.deliver_superseded, r.created_at, r.updated_at
  FROM integration_routes r JOIN integrations i ON i.tenant_id = r.tenant_id AND i.integration_id = r.integration_id`;

export interface RouteQuery {
  tenantId?: string | undefined;
  routeId?: string | undefined;
  integrationId?: string | undefined;
  enabled?: boolean | undefined;
}

/** A route with its integration's name and type. */
export interface Route extends RouteFilter, FollowUpPolicy {
  tenant_id: string;
  route_id: string;
  integration_id: string;
  integration_name: string;
  integration_type: string;
  name: string;
  enabled: boolean;
  priority: number;
  deliver_superseded: boolean;
  created_at: Date;
  updated_at: Date;
}

/** Routes with their integration's name and type, cheapest priority first. */
export async function listRoutes(tx: TenantTx | ServiceTx, filter: RouteQuery, limit: number) {
  const { rows } = await tx.query<Route>(
    `${ROUTE_SELECT}
     WHERE ($1::text IS NULL OR r.tenant_id = $1) AND ($2::text IS NULL OR r.route_id::text = $2)
       AND ($3::text IS NULL OR r.integration_id::text = $3) AND ($4::boolean IS NULL OR r.enabled = $4)
     ORDER BY r.priority, r.created_at DESC LIMIT $5`,
    [filter.tenantId ?? null, filter.routeId ?? null, filter.integrationId ?? null, filter.enabled ?? null, limit],
  );
  return rows;
}

export async function findRoute(tx: TenantTx, routeId: string) {
  return (await listRoutes(tx, { tenantId: tx.tenantId, routeId }, 1))[0];
}

export async function insertRoute(tx: TenantScope, columns: RouteColumns): Promise<string> {
  const names = ROUTE_WRITABLE.filter((name) => columns[name] !== undefined);
  const { rows } = await tx.query<{ route_id: string }>(
    `INSERT INTO integration_routes (tenant_id, ${names.join(', ')}) VALUES ($1, ${names.map((_, i) => `$${i + 2}`).join(', ')})
     RETURNING route_id`,
    [tx.tenantId, ...names.map((name) => param(columns, name))],
  );
  return rows[0]!.route_id;
}

/** A changed route may match OPEN alerts it never notified: the dispatcher looks again (backfill_pending). */
export async function updateRoute(tx: TenantTx, routeId: string, columns: RouteColumns): Promise<boolean> {
  const names = ROUTE_WRITABLE.filter((name) => columns[name] !== undefined);
  const { rowCount } = await tx.query(
    `UPDATE integration_routes SET ${[...names.map((name, i) => `${name} = $${i + 3}`), 'updated_at = now()', 'backfill_pending = true'].join(', ')}
     WHERE tenant_id = $1 AND route_id::text = $2`,
    [tx.tenantId, routeId, ...names.map((name) => param(columns, name))],
  );
  return (rowCount ?? 0) > 0;
}

export async function deleteRoute(tx: TenantTx, routeId: string): Promise<boolean> {
  const { rowCount } = await tx.query(`DELETE FROM integration_routes WHERE tenant_id = $1 AND route_id::text = $2`, [
    tx.tenantId,
    routeId,
  ]);
  return (rowCount ?? 0) > 0;
}

/** A route as the dispatcher matches it. */
export interface DispatchRoute extends RouteFilter, FollowUpPolicy {
  tenant_id: string;
  route_id: string;
  integration_id: string;
  created_at: Date;
}

/**
 * Whether an alert event is still worth a notification on this route (ADR 012): it is still true — an OPEN
 * or ACKNOWLEDGED whose alert has closed since is not — and it happened once the route existed: a new route does not page
 * for the past, and a restart's catch-up never sends what happened before a route was made.
 */
export function eventStillDue(
  route: { created_at: Date },
  alert: { status: string; created_at: Date; closed_at: Date | null; acknowledged_at?: Date | null | undefined },
  event: DeliveryEvent,
): boolean {
  if (event !== 'CLOSED' && alert.status === 'CLOSED') return false;
  const happenedAt = eventHappenedAt(alert, event);
  return happenedAt !== null && happenedAt.getTime() >= route.created_at.getTime();
}

/**
 * Routes created or changed since the dispatcher last looked (ADR 025), taken once: the flag is cleared in
 * the caller's transaction, which queues their backfill.
 */
export async function takeBackfillRoutes(tx: ServiceTx): Promise<{ tenant_id: string; route_id: string }[]> {
  const { rows } = await tx.query<{ tenant_id: string; route_id: string }>(
    `UPDATE integration_routes SET backfill_pending = false WHERE backfill_pending RETURNING tenant_id, route_id`,
  );
  return rows;
}

/**
 * Enabled routes whose integration is enabled, in priority order: of these tenants, or of every tenant
 * with `followUpsOnly` (routes that re-notify or escalate). Escalation steps to a disabled or deleted
 * integration are left out.
 */
export async function activeRoutes(
  tx: ServiceTx,
  scope: { tenantIds: string[] } | { followUpsOnly: true },
): Promise<DispatchRoute[]> {
  const { rows } = await tx.query<DispatchRoute>(
    `SELECT r.tenant_id, r.route_id, r.integration_id, r.min_severity, r.alert_types, r.severities, r.site_ids,
            r.device_prefixes, r.selector, r.deliver_on, r.renotify_minutes, r.created_at,
            (SELECT COALESCE(jsonb_agg(step), '[]'::jsonb) FROM jsonb_array_elements(r.escalations) AS step
             JOIN integrations e ON e.tenant_id = r.tenant_id AND e.integration_id::text = step->>'integration_id'
             WHERE e.enabled) AS escalations
     FROM integration_routes r
     JOIN integrations i ON i.tenant_id = r.tenant_id AND i.integration_id = r.integration_id
     WHERE r.enabled AND i.enabled AND ($1::text[] IS NULL OR r.tenant_id = ANY($1::text[]))
       AND ($1::text[] IS NOT NULL OR r.renotify_minutes IS NOT NULL OR r.escalations <> '[]'::jsonb)
     ORDER BY r.priority, r.created_at`,
    ['tenantIds' in scope ? scope.tenantIds : null],
  );
  return rows;
}
