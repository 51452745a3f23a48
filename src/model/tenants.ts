// Tenants: the customers sharing this Pulse. Operators administer them (OperatorTx, through the audited
// routes); provisioning, the admin API and the built-in issuer create the ones they name (ensureTenants).
import type { OperatorTx, ServiceTx, TenantScope } from '../db/database.js';

export type TenantStatus = 'ACTIVE' | 'SUSPENDED' | 'DELETED';

export interface Tenant {
  tenant_id: string;
  name: string;
  status: TenantStatus;
  contact_email: string | null;
  contact_name: string | null;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface TenantSummary extends Pick<Tenant, 'tenant_id' | 'name' | 'status' | 'created_at'> {
  device_count: number;
  online_count: number;
  open_alerts: number;
  last_activity: Date | null;
}

const TENANT_COLUMNS =
  'tenant_id, name, status, contact_email, contact_name, metadata, created_at, updated_at, deleted_at';

export async function listTenants(
  tx: OperatorTx,
  filter: { status: string | undefined; limit: number; offset: number },
) {
  const [tenants, total] = await Promise.all([
    tx.query<Tenant>(
      `SELECT ${TENANT_COLUMNS} FROM tenants WHERE ($1::text IS NULL OR status = $1) ORDER BY tenant_id LIMIT $2 OFFSET $3`,
      [filter.status ?? null, filter.limit, filter.offset],
    ),
    tx.query<{ total: number }>(`SELECT count(*)::int AS total FROM tenants WHERE ($1::text IS NULL OR status = $1)`, [
      filter.status ?? null,
    ]),
  ]);
  return { tenants: tenants.rows, total: total.rows[0]!.total };
}

export async function tenantsSummary(tx: OperatorTx) {
  const { rows } = await tx.query<TenantSummary>(
    `SELECT t.tenant_id, t.name, t.status, t.created_at,
            (SELECT count(*)::int FROM device_registry d WHERE d.tenant_id = t.tenant_id) AS device_count,
            (SELECT count(*)::int FROM device_state s WHERE s.tenant_id = t.tenant_id AND s.status = 'ONLINE') AS online_count,
            (SELECT count(*)::int FROM fleet_alert a WHERE a.tenant_id = t.tenant_id AND a.status <> 'CLOSED') AS open_alerts,
            (SELECT max(s.last_seen_at) FROM device_state s WHERE s.tenant_id = t.tenant_id) AS last_activity
     FROM tenants t WHERE t.status <> 'DELETED' ORDER BY t.tenant_id`,
  );
  return rows;
}

export async function findTenant(tx: OperatorTx, tenantId: string) {
  const { rows } = await tx.query<Tenant>(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE tenant_id = $1`, [tenantId]);
  return rows[0];
}

/** The status of the transaction's tenant (undefined: no such tenant). */
export async function ownStatus(tx: TenantScope): Promise<TenantStatus | undefined> {
  const { rows } = await tx.query<{ status: TenantStatus }>(`SELECT status FROM tenants WHERE tenant_id = $1`, [
    tx.tenantId,
  ]);
  return rows[0]?.status;
}

export interface TenantFields {
  name?: string | undefined;
  contact_email?: string | null | undefined;
  contact_name?: string | null | undefined;
  status?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** False when the tenant exists already (even deleted: ids are never reused). */
export async function createTenant(tx: OperatorTx, tenantId: string, fields: TenantFields): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO tenants (tenant_id, name, contact_email, contact_name, metadata) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant_id) DO NOTHING`,
    [
      tenantId,
      fields.name,
      fields.contact_email ?? null,
      fields.contact_name ?? null,
      JSON.stringify(fields.metadata ?? {}),
    ],
  );
  return (rowCount ?? 0) > 0;
}

const TENANT_UPDATABLE = ['name', 'contact_email', 'contact_name', 'status', 'metadata'] as const;

export async function updateTenant(tx: OperatorTx, tenantId: string, fields: TenantFields): Promise<boolean> {
  const present = TENANT_UPDATABLE.filter((field) => fields[field] !== undefined);
  const values = present.map((field) => (field === 'metadata' ? JSON.stringify(fields.metadata) : fields[field]));
  const { rowCount } = await tx.query(
    `UPDATE tenants SET ${[...present.map((field, i) => `${field} = $${i + 2}`), 'updated_at = now()'].join(', ')}
     WHERE tenant_id = $1 AND status <> 'DELETED'`,
    [tenantId, ...values],
  );
  return (rowCount ?? 0) > 0;
}

export async function deleteTenant(tx: OperatorTx, tenantId: string): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE tenants SET status = 'DELETED', deleted_at = now(), updated_at = now() WHERE tenant_id = $1 AND status <> 'DELETED'`,
    [tenantId],
  );
  return (rowCount ?? 0) > 0;
}

interface TenantStatsRow {
  devices_total: number;
  devices_active: number;
  devices_online: number;
  devices_stale: number;
  alerts_open: number;
  alerts_closed: number;
  alerts_24h: number;
  integrations_total: number;
  integrations_active: number;
  rules_total: number;
  rules_active: number;
  sites: number;
  last_device_activity: Date | null;
  last_alert: Date | null;
}

/** What one tenant holds: devices, alerts, integrations and rules, counted. */
export async function tenantStats(tx: OperatorTx, tenantId: string) {
  const { rows } = await tx.query<TenantStatsRow>(
    `SELECT
       (SELECT count(*)::int FROM device_registry WHERE tenant_id = $1) AS devices_total,
       (SELECT count(*)::int FROM device_registry WHERE tenant_id = $1 AND status = 'ACTIVE') AS devices_active,
       (SELECT count(*)::int FROM device_state WHERE tenant_id = $1 AND status = 'ONLINE') AS devices_online,
       (SELECT count(*)::int FROM device_state WHERE tenant_id = $1 AND status = 'STALE') AS devices_stale,
       (SELECT count(*)::int FROM fleet_alert WHERE tenant_id = $1 AND status <> 'CLOSED') AS alerts_open,
       (SELECT count(*)::int FROM fleet_alert WHERE tenant_id = $1 AND status = 'CLOSED') AS alerts_closed,
       (SELECT count(*)::int FROM fleet_alert WHERE tenant_id = $1 AND created_at > now() - interval '24 hours') AS alerts_24h,
       (SELECT count(*)::int FROM integrations WHERE tenant_id = $1) AS integrations_total,
       (SELECT count(*)::int FROM integrations WHERE tenant_id = $1 AND enabled) AS integrations_active,
       (SELECT count(*)::int FROM alert_rules WHERE tenant_id = $1) AS rules_total,
       (SELECT count(*)::int FROM alert_rules WHERE tenant_id = $1 AND enabled) AS rules_active,
       (SELECT count(DISTINCT site_id)::int FROM device_registry WHERE tenant_id = $1) AS sites,
       (SELECT max(last_seen_at) FROM device_state WHERE tenant_id = $1) AS last_device_activity,
       (SELECT max(created_at) FROM fleet_alert WHERE tenant_id = $1) AS last_alert`,
    [tenantId],
  );
  const r = rows[0]!;
  return {
    devices: { total: r.devices_total, active: r.devices_active, online: r.devices_online, stale: r.devices_stale },
    alerts: { open: r.alerts_open, closed: r.alerts_closed, last_24h: r.alerts_24h },
    integrations: { total: r.integrations_total, active: r.integrations_active },
    rules: { total: r.rules_total, active: r.rules_active },
    sites: r.sites,
    last_device_activity: r.last_device_activity,
    last_alert: r.last_alert,
  };
}

/** Creates missing tenants (name = id) and returns the status of each requested tenant. */
export async function ensureTenants(tx: ServiceTx | OperatorTx, tenantIds: string[]): Promise<Map<string, string>> {
  await tx.query(
    `INSERT INTO tenants (tenant_id, name)
     SELECT id, id FROM unnest($1::text[]) AS id
     ON CONFLICT (tenant_id) DO NOTHING`,
    [tenantIds],
  );
  const { rows } = await tx.query<{ tenant_id: string; status: string }>(
    'SELECT tenant_id, status FROM tenants WHERE tenant_id = ANY($1::text[])',
    [tenantIds],
  );
  return new Map(rows.map((row) => [row.tenant_id, row.status]));
}
