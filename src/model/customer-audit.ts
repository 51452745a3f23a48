// The customer audit log: one row per /customer request that changes something (api/customer/audit.ts
// writes it), read by the tenant's admins. Customers' transactions only: row-level security keeps each
// tenant to its own rows.
import type { TenantTx } from '../db/database.js';

export interface CustomerAuditRow {
  userId: string;
  username: string | null;
  role: string;
  /** Method and route, e.g. "PATCH /customer/alert-rules/:rule_id". */
  action: string;
  resourceId: string | null;
  /** The top-level fields the request body set (names only: values can be secrets). */
  fields: string[] | null;
  /** What the change did in words, when the route said (api/audit-note.ts). */
  summary: string | null;
  statusCode: number;
  ipAddress: string;
  userAgent: string | null;
}

export async function recordCustomerAudit(tx: TenantTx, row: CustomerAuditRow): Promise<void> {
  await tx.query(
    `INSERT INTO customer_audit_log (tenant_id, user_id, username, role, action, resource_id, fields, status_code,
                                     ip_address, user_agent, summary)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::inet, $10, $11)`,
    [
      tx.tenantId,
      row.userId,
      row.username,
      row.role,
      row.action,
      row.resourceId,
      row.fields,
      row.statusCode,
      row.ipAddress,
      row.userAgent,
      row.summary,
    ],
  );
}

export interface CustomerAuditEntry {
  id: number;
  tenant_id: string;
  user_id: string;
  username: string | null;
  role: string;
  action: string;
  resource_id: string | null;
  fields: string[] | null;
  summary: string | null;
  status_code: number;
  ip_address: string | null;
  user_agent: string | null;
  created_at: Date;
}

export async function customerAuditLog(
  tx: TenantTx,
  filter: { user?: string | undefined; since?: Date | undefined; limit: number; offset: number },
) {
  const { rows } = await tx.query<CustomerAuditEntry>(
    `SELECT id, tenant_id, user_id, username, role, action, resource_id, fields, summary, status_code,
            host(ip_address) AS ip_address, user_agent, created_at
     FROM customer_audit_log
     WHERE tenant_id = $1 AND ($2::text IS NULL OR user_id = $2 OR username = $2)
       AND ($3::timestamptz IS NULL OR created_at >= $3)
     ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5`,
    [tx.tenantId, filter.user ?? null, filter.since ?? null, filter.limit, filter.offset],
  );
  return rows;
}
