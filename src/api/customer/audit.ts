// Every /customer request that changes something leaves a row in customer_audit_log: who (user, role),
// what (method and route, the resource, the body's field names — never values, which can be secrets),
// how it ended (its status, so a refused change is on record too), when and from where. Written once the
// answer is sent, in the caller's tenant (ADR 023: a change whose audit row then fails to write is
// logged as an error, not undone). GET /customer/audit shows them to the tenant's admins.
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Database } from '../../db/database.js';
import type { App } from '../../http/server.js';
import { Nullable, Obj, Timestamp } from '../../lib/schema.js';
import { customerAuditLog, recordCustomerAudit } from '../../model/customer-audit.js';
import { auditNoteOf } from '../audit-note.js';
import { displayName } from '../auth.js';
import { customerAdminOnly, type InTenant } from '../guard.js';
import { parseInstant } from '../time-window.js';

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The resource a request names: its path parameters' values. */
const resourceOf = (request: FastifyRequest) => {
  const values = Object.values((request.params ?? {}) as Record<string, unknown>).map(String);
  return values.length > 0 ? values.join('/') : null;
};

/** The body's field names; none of a streamed body (a firmware image). */
const fieldsOf = (request: FastifyRequest) =>
  request.body &&
  typeof request.body === 'object' &&
  !Array.isArray(request.body) &&
  !(request.body instanceof Readable)
    ? Object.keys(request.body as object).sort()
    : null;

export function auditCustomerChanges(app: App, deps: { db: Pick<Database, 'withTenant'>; log: Logger }): void {
  // The fields as sent, before validation fills in defaults.
  const sentFields = new WeakMap<FastifyRequest, string[] | null>();
  app.addHook('preValidation', async (request) => {
    if (CHANGES.has(request.method)) sentFields.set(request, fieldsOf(request));
  });
  app.addHook('onResponse', async (request, reply) => {
    const principal = request.principal;
    if (!CHANGES.has(request.method) || !principal?.tenantId) return;
    // A route notes what it did once it succeeded; a refused request keeps only its route and status.
    const note = reply.statusCode < 400 ? auditNoteOf(request) : undefined;
    try {
      await deps.db.withTenant(principal.tenantId, (tx) =>
        recordCustomerAudit(tx, {
          userId: principal.sub,
          username: displayName(principal),
          role: principal.role,
          action: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
          resourceId: note?.resourceId ?? resourceOf(request),
          fields: sentFields.get(request) ?? null,
          summary: note?.summary ?? null,
          statusCode: reply.statusCode,
          ipAddress: request.ip,
          userAgent: request.headers['user-agent'] ?? null,
        }),
      );
    } catch (error) {
      deps.log.error({ err: error, url: request.url }, 'could not write the customer audit log');
    }
  });
}

const AuditEntry = Obj({
  id: Type.Integer(),
  tenant_id: Type.String(),
  user_id: Type.String(),
  username: Nullable(Type.String()),
  role: Type.String(),
  action: Type.String({ description: 'method and route, e.g. PATCH /customer/alert-rules/:rule_id' }),
  resource_id: Nullable(Type.String()),
  fields: Nullable(Type.Array(Type.String(), { description: 'the fields the request set (names only)' })),
  summary: Nullable(Type.String({ description: 'what the change did, e.g. "created device pump-7"' })),
  status_code: Type.Integer(),
  ip_address: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  created_at: Timestamp,
});

export function registerCustomerAuditRoutes(app: App, deps: { inTenant: InTenant }): void {
  app.get(
    '/customer/audit',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags: ['customer'],
        summary: 'Who changed what in this tenant, newest first (customer_admin)',
        querystring: Type.Object({
          user: Type.Optional(Type.String({ description: 'a user id or name' })),
          start: Type.Optional(Type.String({ description: 'from (ISO-8601)' })),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
          offset: Type.Integer({ minimum: 0, default: 0 }),
        }),
        response: { 200: Obj({ tenant_id: Type.String(), entries: Type.Array(AuditEntry) }) },
      },
    },
    (request) =>
      deps.inTenant(request, async (tx) => ({
        tenant_id: tx.tenantId,
        entries: await customerAuditLog(tx, {
          user: request.query.user,
          since: request.query.start === undefined ? undefined : parseInstant('start', request.query.start),
          limit: request.query.limit,
          offset: request.query.offset,
        }),
      })),
  );
}
