// The operator audit log: one row per operator request, written in the request's transaction (api/operator/audit.ts).
import type { OperatorTx } from '../db/database.js';

export interface AuditRow {
  userId: string;
  action: string;
  tenantFilter: string | null;
  resourceType: string | null;
  resourceId: string | null;
  /** What the change did in words, when the route said (api/audit-note.ts). */
  summary: string | null;
  ipAddress: string;
  userAgent: string | null;
  /** The request's HTTP status: 200 when it succeeded. */
  statusCode: number;
}

/** Actions that only read: left out of the log's "changes only" view. */
const READ_ACTION = `(l.action LIKE 'list\\_%' OR l.action LIKE 'get\\_%' OR l.action LIKE 'view\\_%') AND l.action NOT LIKE '%\\_denied'`;

export async function recordAudit(tx: OperatorTx, row: AuditRow): Promise<void> {
  await tx.query(
    `INSERT INTO operator_audit_log (user_id, action, tenant_filter, resource_type, resource_id, ip_address, user_agent,
                                     status_code, summary)
     VALUES ($1, $2, $3, $4, $5, $6::inet, $7, $8, $9)`,
    [
      row.userId,
      row.action,
      row.tenantFilter,
      row.resourceType,
      row.resourceId,
      row.ipAddress,
      row.userAgent,
      row.statusCode,
      row.summary,
    ],
  );
}

export async function auditLog(
  tx: OperatorTx,
  filter: {
    userId?: string | undefined;
    action?: string | undefined;
    tenantId?: string | undefined;
    since?: Date | undefined;
    /** Leave out requests that only read. */
    changesOnly?: boolean | undefined;
    limit: number;
  },
) {
  const { rows } = await tx.query<{
    id: number;
    user_id: string;
    username: string | null;
    action: string;
    tenant_filter: string | null;
    resource_type: string | null;
    resource_id: string | null;
    summary: string | null;
    ip_address: string | null;
    user_agent: string | null;
    rls_bypassed: boolean;
    status_code: number | null;
    created_at: Date;
  }>(
    `SELECT l.id, l.user_id, u.username, l.action, l.tenant_filter, l.resource_type, l.resource_id, l.summary,
            host(l.ip_address) AS ip_address, l.user_agent, l.rls_bypassed, l.status_code, l.created_at
     FROM operator_audit_log l LEFT JOIN users u ON u.user_id = l.user_id
     WHERE ($1::text IS NULL OR l.user_id = $1 OR u.username = $1) AND ($2::text IS NULL OR l.action = $2)
       AND ($3::text IS NULL OR l.tenant_filter = $3) AND ($4::timestamptz IS NULL OR l.created_at >= $4)
       AND NOT ($6 AND ${READ_ACTION})
     ORDER BY l.created_at DESC, l.id DESC LIMIT $5`,
    [
      filter.userId ?? null,
      filter.action ?? null,
      filter.tenantId ?? null,
      filter.since ?? null,
      filter.limit,
      filter.changesOnly ?? false,
    ],
  );
  return rows;
}
