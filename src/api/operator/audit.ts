// Every operator request leaves a row in operator_audit_log, written in the request's own transaction:
// if the row cannot be written the request fails, and a request that fails for another reason (404,
// 409, a 403 for a non-admin) is still recorded. The work itself runs in a savepoint, so its changes
// roll back on error while the audit row commits.
import type { FastifyRequest } from 'fastify';
import type { Database, OperatorTx } from '../../db/database.js';
import { AppError } from '../../errors.js';
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

export function createAudited(db: Database): Audited {
  return async (request, entry, work) => {
    const principal = principalOf(request);
    const denied = entry.admin === true && principal.role !== 'operator_admin';
    const outcome = await db.withOperator(async (tx) => {
      await tx.query(
        `INSERT INTO operator_audit_log (user_id, action, tenant_filter, resource_type, resource_id, ip_address, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6::inet, $7)`,
        [
          principal.sub,
          denied ? `${entry.action}_denied` : entry.action,
          entry.tenantFilter ?? null,
          entry.resourceType ?? null,
          entry.resourceId ?? null,
          // request.ip is the peer, or X-Forwarded-For's client when the peer is a trusted proxy (TRUST_PROXY).
          request.ip,
          request.headers['user-agent'] ?? null,
        ],
      );
      if (denied) return { error: new AppError('FORBIDDEN', 'Operator admin access required') };
      await tx.query('SAVEPOINT operator_work');
      try {
        const value = await work(tx);
        await tx.query('RELEASE SAVEPOINT operator_work');
        return { value };
      } catch (error) {
        await tx.query('ROLLBACK TO SAVEPOINT operator_work');
        return { error };
      }
    });
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  };
}
