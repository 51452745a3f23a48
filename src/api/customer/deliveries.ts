// /customer/deliveries: the tenant's notifications — each delivery job with how it went, filtered by
// integration, status and time — with "retry now" for a FAILED one (customer_admin); and
// /customer/delivery-status, the latest attempts (of one integration when asked).
import { Type } from '@sinclair/typebox';
import type { Bus } from '../../bus/index.js';
import { AppError } from '../../errors.js';
import type { App } from '../../http/server.js';
import { Nullable, Obj, OneOf, Timestamp } from '../../lib/schema.js';
import { isUuid } from '../../lib/uuid.js';
import * as deliveries from '../../model/deliveries.js';
import { DeliveryAttempt } from '../../model/views.js';
import { customerAdminOnly, type InTenant } from '../guard.js';
import { requireRateSlot } from '../limits.js';
import { parseInstant } from '../time-window.js';

const tags = ['customer/deliveries'];
const JobStatus = OneOf(['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'SILENCED', 'SUPERSEDED']);
const IntegrationFilter = Type.Optional(Type.String({ description: 'only this integration (a UUID)' }));

const DeliveryJob = Obj({
  job_id: Type.Integer(),
  tenant_id: Type.String(),
  alert_id: Type.Integer(),
  device_id: Type.String(),
  alert_type: Type.String(),
  integration_id: Type.String(),
  integration_name: Type.String(),
  integration_type: Type.String(),
  route_id: Type.String(),
  event: Type.String({ description: 'OPEN or CLOSED' }),
  notice: Type.String({ description: "'' for the event itself; repeat:<n> or escalation:… for a follow-up" }),
  status: JobStatus,
  attempts: Type.Integer(),
  last_error: Nullable(Type.String()),
  next_run_at: Timestamp,
  created_at: Timestamp,
  updated_at: Timestamp,
  last_http_status: Nullable(Type.Integer()),
  last_latency_ms: Nullable(Type.Number()),
});

const checkIntegration = (id: string | undefined) => {
  if (id !== undefined && !isUuid(id)) throw new AppError('INVALID_REQUEST', 'integration_id must be a UUID');
  return id;
};

export function registerDeliveryRoutes(
  app: App,
  deps: { inTenant: InTenant; bus: Bus; retriesPerMinute: number },
): void {
  const { inTenant, bus } = deps;
  // Each retry is one more send to the customer's receiver: besides "only a FAILED job", a budget per tenant.
  const retryRate = {
    action: 'delivery_retry',
    limit: deps.retriesPerMinute,
    windowSeconds: 60,
    what: 'delivery retries (DELIVERY_RETRIES_PER_MINUTE)',
  };

  app.get(
    '/customer/delivery-status',
    {
      schema: {
        tags,
        summary: 'Latest delivery attempts of the tenant',
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          integration_id: IntegrationFilter,
        }),
        response: { 200: Obj({ tenant_id: Type.String(), attempts: Type.Array(DeliveryAttempt) }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => ({
        tenant_id: tx.tenantId,
        attempts: await deliveries.deliveryStatus(tx, {
          limit: request.query.limit,
          integrationId: checkIntegration(request.query.integration_id),
        }),
      })),
  );

  app.get(
    '/customer/deliveries',
    {
      schema: {
        tags,
        summary: "The tenant's notifications, newest first, with how each went",
        querystring: Type.Object({
          integration_id: IntegrationFilter,
          status: Type.Optional(JobStatus),
          start: Type.Optional(Type.String({ description: 'queued at or after (ISO-8601)' })),
          end: Type.Optional(Type.String({ description: 'queued before (ISO-8601)' })),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          offset: Type.Integer({ minimum: 0, default: 0 }),
        }),
        response: {
          200: Obj({ tenant_id: Type.String(), jobs: Type.Array(DeliveryJob), total: Type.Integer() }),
        },
      },
    },
    (request) => {
      const { integration_id, status, start, end, limit, offset } = request.query;
      const filter = {
        integrationId: checkIntegration(integration_id),
        status: status as deliveries.JobStatus | undefined,
        since: start === undefined ? undefined : parseInstant('start', start),
        until: end === undefined ? undefined : parseInstant('end', end),
        limit,
        offset,
      };
      return inTenant(request, async (tx) => ({ tenant_id: tx.tenantId, ...(await deliveries.listJobs(tx, filter)) }));
    },
  );

  app.post(
    '/customer/deliveries/:job_id/retry',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Retry a FAILED notification now (one more attempt; DELIVERY_RETRIES_PER_MINUTE per tenant)',
        params: Type.Object({ job_id: Type.Integer() }),
        response: { 202: Obj({ job_id: Type.Integer(), status: Type.Literal('PENDING') }) },
      },
    },
    async (request, reply) => {
      const { job_id } = request.params;
      const outcome = await inTenant(request, async (tx) => {
        const found = await deliveries.retryJob(tx, job_id);
        // Counted only for a retry that happens; the slot is taken before the transaction commits.
        if (found === 'retried') await requireRateSlot(tx, retryRate);
        return found;
      });
      if (!outcome) throw new AppError('NOT_FOUND', 'Delivery not found');
      if (outcome === 'not_failed')
        throw new AppError('CONFLICT', 'Only a FAILED delivery can be retried; this one is queued, in flight or done');
      if (typeof outcome === 'object') {
        throw new AppError(
          'CONFLICT',
          `The alert is ${outcome.supersededBy} now: this notification would be superseded, not sent (set deliver_superseded on its route to send such notifications anyway)`,
        );
      }
      // Committed: wake the delivery workers rather than wait for their next poll.
      bus.publish('delivery.queued', { jobs: 1 });
      return reply.status(202).send({ job_id, status: 'PENDING' as const });
    },
  );
}
