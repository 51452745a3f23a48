// Every operator request leaves a row in operator_audit_log, written in the request's own transaction:
// if the row cannot be written the request fails, and a request that fails for another reason (404,
// 409, a 403 for a non-admin) is still recorded, with the status it answered. The work itself runs in a
// savepoint, so its changes roll back on error while the audit row commits.
import type { FastifyRequest } from 'fastify';
import { inSavepoint, type Database, type OperatorTx } from '../../db/database.js';
import { recordAudit } from '../../model/audit.js';
import { AppError } from '../../errors.js';
import { errorStatus } from '../../http/error-answers.js';
import { auditNoteOf } from '../audit-note.js';
import { principalOf } from '../guard.js';

export interface AuditEntry {
  action: string;
  tenantFilter?: string | null | undefined;
  resourceType?: string | undefined;
  resourceId?: string | undefined;
  /** The route needs operator_admin. */
  admin?: boolean;
}

export type Audited = <T>(
  request: FastifyRequest,
  entry: AuditEntry,
  work: (tx: OperatorTx) => Promise<T>,
) => Promise<T>;

/** The status a failed request answers with (the HTTP layer maps errors the same way). */
function statusOf(error: unknown): number {
  if (error instanceof AppError) return errorStatus(error);
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : 500;
}

export function createAudited(db: Database): Audited {
  return async (request, entry, work) => {
    const principal = principalOf(request);
    const denied = entry.admin === true && principal.role !== 'operator_admin';
    const outcome = await db.withOperator(async (tx) => {
      let result: { value: Awaited<ReturnType<typeof work>> } | { error: unknown };
      if (denied) result = { error: new AppError('FORBIDDEN', 'Operator admin access required') };
      else {
        try {
          result = { value: await inSavepoint(tx, () => work(tx)) };
        } catch (error) {
          result = { error };
        }
      }
      // Written after the work, so it says how the request ended; in the same transaction, so a request
      // whose row cannot be written fails.
      const note = 'error' in result ? undefined : auditNoteOf(request);
      await recordAudit(tx, {
        userId: principal.sub,
        action: denied ? `${entry.action}_denied` : entry.action,
        tenantFilter: entry.tenantFilter ?? null,
        resourceType: entry.resourceType ?? null,
        resourceId: note?.resourceId ?? entry.resourceId ?? null,
        summary: note?.summary ?? null,
        // request.ip is the peer, or X-Forwarded-For's client when the peer is a trusted proxy (TRUST_PROXY).
        ipAddress: request.ip,
        userAgent: request.headers['user-agent'] ?? null,
        statusCode: 'error' in result ? statusOf(result.error) : 200,
      });
      return result;
    });
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  };
}
