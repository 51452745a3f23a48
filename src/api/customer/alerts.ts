// /customer/alerts: the tenant's alerts, each with its timeline; acknowledge and close, one or many at
// once (customer_admin); notes by any customer user. Events about a change are published once its
// transaction has committed, so whoever hears one reads the alert as it now is.
import { Type } from '@sinclair/typebox';
import type { App } from '../../http/server.js';
import type { Bus } from '../../bus/index.js';
import type { TenantTx } from '../../db/database.js';
import { AppError } from '../../errors.js';
import { Obj } from '../../lib/schema.js';
import { AlertPage } from '../../model/views.js';
import * as alertModel from '../../model/alerts.js';
import { addNote } from '../../model/alert-history.js';
import { displayName } from '../auth.js';
import { customerAdminOnly, principalOf, type InTenant } from '../guard.js';
import { timeWindowIfAny } from '../time-window.js';
import { alertStatusFilter, OneAlert, oneAlert, registerAlertDetail, TimelineEntry } from '../common-reads.js';
import { requireBelowCap, type TenantCaps } from '../limits.js';
import { countOf, noteAudit } from '../audit-note.js';

const tags = ['customer/alerts'];
const AlertsQuery = Type.Object({
  status: Type.String({ default: 'OPEN', description: 'OPEN, ACKNOWLEDGED, CLOSED or ALL' }),
  severity: Type.Optional(Type.Integer({ minimum: 0, maximum: 5 })),
  device_id: Type.Optional(Type.String()),
  site_id: Type.Optional(Type.String()),
  alert_type: Type.Optional(Type.String()),
  start: Type.Optional(Type.String({ description: 'created at or after (ISO-8601)' })),
  end: Type.Optional(Type.String({ description: 'created at or before (ISO-8601)' })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
});
const AlertParams = Type.Object({ alert_id: Type.Integer() });
const NoteBody = Type.Object({ text: Type.String({ minLength: 1, maxLength: 4000 }) }, { additionalProperties: false });
const Action = Type.Union([Type.Literal('acknowledge'), Type.Literal('close')]);
const BulkBody = Type.Object(
  {
    action: Action,
    alert_ids: Type.Array(Type.Integer(), { minItems: 1, maxItems: 500, uniqueItems: true }),
  },
  { additionalProperties: false },
);
const BulkResult = Obj({
  action: Action,
  changed: Type.Array(Type.Integer(), { description: 'alerts this request acknowledged or closed' }),
  unchanged: Type.Array(Type.Integer(), {
    description: 'already acknowledged or closed, or not an alert of this tenant',
  }),
});

type Change = 'acknowledge' | 'close';

export function registerAlertRoutes(app: App, deps: { inTenant: InTenant; bus: Bus; caps: TenantCaps }): void {
  const { inTenant, bus, caps } = deps;

  /** Acknowledges or closes the alerts in one transaction; publishes what changed once it committed. */
  const change = async <T>(
    request: Parameters<InTenant>[0],
    action: Change,
    alertIds: number[],
    answer: (tx: TenantTx, changed: number[]) => Promise<T>,
  ): Promise<T> => {
    const by = displayName(principalOf(request));
    const { changed, tenantId, body } = await inTenant(request, async (tx) => {
      const changed =
        action === 'acknowledge'
          ? await alertModel.acknowledgeAlerts(tx, alertIds, by)
          : await alertModel.closeAlertsByHand(tx, alertIds, by);
      const body = await answer(
        tx,
        changed.map((alert) => alert.id),
      );
      return { changed, tenantId: tx.tenantId, body };
    });
    for (const alert of changed) {
      bus.publish('alert.changed', {
        event: action === 'acknowledge' ? 'ACKNOWLEDGED' : 'CLOSED',
        alert_id: alert.id,
        tenant_id: tenantId,
        fingerprint: alert.fingerprint,
      });
    }
    return body;
  };

  app.get(
    '/customer/alerts',
    {
      schema: {
        tags,
        summary: "The tenant's alerts, filtered and paged, newest first",
        querystring: AlertsQuery,
        response: { 200: AlertPage({ total: Type.Integer() }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const { status, severity, device_id, site_id, alert_type, limit, offset } = request.query;
        const window = timeWindowIfAny(request.query);
        const { alerts, total } = await alertModel.searchAlerts(tx, {
          status: alertStatusFilter(status),
          severity,
          deviceId: device_id,
          siteId: site_id,
          alertType: alert_type,
          start: window?.start,
          end: window?.end,
          limit,
          offset,
        });
        return { tenant_id: tx.tenantId, alerts, count: alerts.length, total, status, limit, offset };
      }),
  );

  registerAlertDetail(app, '/customer/alerts/:alert_id', inTenant, tags);

  for (const action of ['acknowledge', 'close'] as const) {
    app.post(
      `/customer/alerts/:alert_id/${action}`,
      {
        preHandler: customerAdminOnly,
        schema: {
          tags,
          summary:
            action === 'acknowledge'
              ? 'Acknowledge an open alert (who and when are stored; repeats and escalations stop)'
              : 'Close an alert by hand',
          ...(action === 'close' && {
            description: 'If its condition still holds, the next evaluation opens a new alert.',
          }),
          params: AlertParams,
          response: { 200: OneAlert },
        },
      },
      (request) =>
        change(request, action, [request.params.alert_id], async (tx, changed) => {
          const answer = await oneAlert(tx, request.params.alert_id);
          if (changed.length === 0 && action === 'acknowledge' && answer.alert.status === 'CLOSED') {
            throw new AppError('CONFLICT', 'Alert is closed; only open alerts can be acknowledged');
          }
          return answer;
        }),
    );
  }

  app.post(
    '/customer/alerts/bulk',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Acknowledge or close many alerts at once',
        description: 'Alerts already in that state, and ids that are not alerts of this tenant, are left unchanged.',
        body: BulkBody,
        response: { 200: BulkResult },
      },
    },
    (request) => {
      const { action, alert_ids } = request.body;
      return change(request, action, alert_ids, async (_tx, changed) => {
        const done = action === 'acknowledge' ? 'acknowledged' : 'closed';
        noteAudit(request, { summary: `${done} ${countOf(changed.length, 'alert')}` });
        return {
          action,
          changed: changed.sort((a, b) => a - b),
          unchanged: alert_ids.filter((id) => !changed.includes(id)),
        };
      });
    },
  );

  app.post(
    '/customer/alerts/:alert_id/notes',
    {
      schema: {
        tags,
        summary: "Add a note to an alert's timeline (any customer user)",
        params: AlertParams,
        body: NoteBody,
        response: { 201: TimelineEntry },
      },
    },
    async (request, reply) => {
      const author = displayName(principalOf(request));
      const note = await inTenant(request, async (tx) => {
        await oneAlert(tx, request.params.alert_id);
        await requireBelowCap(tx, caps, 'notes', request.params.alert_id);
        return addNote(tx, request.params.alert_id, author, request.body.text.trim());
      });
      return reply.status(201).send(note);
    },
  );
}
