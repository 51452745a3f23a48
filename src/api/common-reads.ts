// What /api/v2 and /customer answer alike — a page of devices, one alert with its timeline — and the paging
// and alert-status parameters their lists (and /operator's) take. Route modules import these from here, never
// from one another.
import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../http/server.js';
import { AppError } from '../errors.js';
import type { TenantTx } from '../db/database.js';
import type { InTenant } from './guard.js';
import { JsonObject, Nullable, Obj, Timestamp } from '../lib/schema.js';
import { Alert as AlertView } from '../model/views.js';
import { listDevices, SelectorQuery } from '../model/device-selection.js';
import { selectorFromQuery } from '../model/selector-input.js';
import * as alertModel from '../model/alerts.js';
import type { Alert } from '../model/alerts.js';
import { alertTimeline, type TimelineCursor, type TimelineEntry as TimelineRow } from '../model/alert-history.js';

export const Limit = (max: number, fallback: number) => Type.Integer({ minimum: 1, maximum: max, default: fallback });
export const Offset = Type.Integer({ minimum: 0, default: 0 });

export const DevicesQuery = Type.Object({
  limit: Limit(500, 100),
  offset: Offset,
  ...SelectorQuery.properties,
  site_q: Type.Optional(Type.String({ description: 'part of the site id, any case' })),
  q: Type.Optional(Type.String({ description: 'part of the device id' })),
  sort: Type.Union(
    [Type.Literal('site_id'), Type.Literal('device_id'), Type.Literal('status'), Type.Literal('last_seen_at')],
    {
      default: 'site_id',
    },
  ),
  order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' }),
});
const AlertParams = Type.Object({ alert_id: Type.Integer() });
const TimelineQuery = Type.Object({
  limit: Limit(1000, 200),
  cursor: Type.Optional(Type.String({ description: "the previous answer's next_cursor: the timeline's next page" })),
});

/** One page of the tenant's devices with the total (shared by /api/v2 and /customer). */
export async function devicesPage(tx: TenantTx, query: Static<typeof DevicesQuery>) {
  const { limit, offset, site_q, q, sort, order } = query;
  const { devices, total } = await listDevices(tx, {
    limit,
    offset,
    selector: selectorFromQuery(query),
    siteSearch: site_q,
    search: q,
    sort,
    order,
  });
  return { tenant_id: tx.tenantId, devices, count: devices.length, total, limit, offset };
}

/** One alert of the tenant, as /api/v2 and /customer answer it; with a page of its timeline when asked. */
export async function oneAlert(tx: TenantTx, alertId: number): Promise<{ tenant_id: string; alert: Alert }>;
export async function oneAlert(
  tx: TenantTx,
  alertId: number,
  timeline: Static<typeof TimelineQuery>,
): Promise<{ tenant_id: string; alert: Alert; timeline: TimelineRow[]; next_cursor: string | null }>;
export async function oneAlert(tx: TenantTx, alertId: number, timeline?: Static<typeof TimelineQuery>) {
  const alert = await alertModel.findAlert(tx, alertId);
  if (!alert) throw new AppError('NOT_FOUND', 'Alert not found');
  if (!timeline) return { tenant_id: tx.tenantId, alert };
  const page = await alertTimeline(tx, alertId, { limit: timeline.limit, after: readCursor(timeline.cursor) });
  return {
    tenant_id: tx.tenantId,
    alert,
    timeline: page.entries,
    next_cursor: page.next && Buffer.from(JSON.stringify(page.next)).toString('base64url'),
  };
}

/** A next_cursor as given out; anything else is a request to fix. */
function readCursor(cursor: string | undefined): TimelineCursor | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      ['at', 'kind', 'key'].every((field) => typeof (parsed as Record<string, unknown>)[field] === 'string') &&
      !Number.isNaN(Date.parse((parsed as TimelineCursor).at))
    )
      return parsed as TimelineCursor;
  } catch {
    // not base64url JSON: refused below
  }
  throw new AppError('INVALID_REQUEST', "cursor is not a timeline cursor: pass a previous answer's next_cursor");
}

const ALERT_STATUSES = ['OPEN', 'ACKNOWLEDGED', 'CLOSED'];

/** ALL (any case) means every status; the original matched it literally and returned nothing. */
export function alertStatusFilter(status: string): string | undefined {
  const upper = status.toUpperCase();
  if (upper === 'ALL') return undefined;
  if (!ALERT_STATUSES.includes(upper)) {
    throw new AppError('INVALID_REQUEST', `status must be one of ${[...ALERT_STATUSES, 'ALL'].join(', ')}`);
  }
  return upper;
}

export const OneAlert = Obj({ tenant_id: Type.String(), alert: AlertView });

/** One entry of an alert's timeline. */
export const TimelineEntry = Obj({
  at: Timestamp,
  kind: Type.Union(
    ['OPENED', 'UPDATED', 'ACKNOWLEDGED', 'SILENCED', 'CLOSED', 'NOTE', 'NOTIFIED', 'NOTIFY_FAILED', 'HELD'].map((k) =>
      Type.Literal(k),
    ),
    {
      description:
        'NOTIFIED / NOTIFY_FAILED: one delivery attempt (detail: integration, event, notice, attempt, http_status, error, latency_ms); HELD: a notification a silence held; NOTE: detail.text',
    },
  ),
  actor: Nullable(Type.String({ description: 'the user who did it; null when Pulse did' })),
  detail: JsonObject,
});
const AlertWithTimeline = Obj({
  tenant_id: Type.String(),
  alert: AlertView,
  timeline: Type.Array(TimelineEntry, { description: 'the first `limit` entries from `cursor` on, in time order' }),
  next_cursor: Nullable(Type.String({ description: "the timeline's next page (pass as cursor); null on the last" })),
});

/** One alert with its timeline, at `path` (/api/v2 and /customer answer the same). */
export function registerAlertDetail(app: App, path: string, inTenant: InTenant, routeTags: string[]): void {
  app.get(
    path,
    {
      schema: {
        tags: routeTags,
        summary: 'One alert with its timeline, a page at a time',
        params: AlertParams,
        querystring: TimelineQuery,
        response: { 200: AlertWithTimeline },
      },
    },
    (request) => inTenant(request, (tx) => oneAlert(tx, request.params.alert_id, request.query)),
  );
}
