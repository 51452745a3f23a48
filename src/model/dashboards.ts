// A tenant's dashboards (issue 32) and their share links, under row-level security; the built-in dashboard a
// tenant sees before it made one; and the lists a dashboard's variables offer. A share link is found by
// its token's hash before its tenant is known (the pipeline's role, which reads nothing else of a tenant).
import type { ServiceTx, TenantTx } from '../db/database.js';
import type { DashboardDocument, FleetValue, Widget } from './dashboard-schema.js';

export interface DashboardRow {
  dashboard_id: string;
  name: string;
  definition: DashboardDocument;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

/** The id under which the built-in dashboard is shown; it is never stored. */
export const DEFAULT_DASHBOARD_ID = 'default';

const place = (x: number, y: number, w: number, h: number) => ({ x, y, w, h });
const fleetCount = (id: string, title: string, metric: FleetValue, x: number): Widget => ({
  id,
  type: 'stat',
  title,
  layout: place(x, 0, 2, 2),
  options: { metric, stat: 'last', thresholds: [] },
});

/** What every tenant saw before dashboards could be built (web/src/pages/customer/Dashboard.tsx's view). */
export const DEFAULT_DASHBOARD: DashboardDocument = {
  version: 1,
  name: 'Fleet overview',
  description: 'The built-in dashboard: save a copy to change it.',
  time: { from: 'now-24h', to: 'now' },
  refresh_seconds: 30,
  variables: [],
  widgets: [
    fleetCount('devices', 'Devices', 'fleet:devices', 0),
    fleetCount('online', 'Online', 'fleet:ONLINE', 2),
    fleetCount('stale', 'Stale', 'fleet:STALE', 4),
    fleetCount('offline', 'Offline', 'fleet:OFFLINE', 6),
    fleetCount('revoked', 'Revoked', 'fleet:REVOKED', 8),
    fleetCount('open-alerts', 'Open alerts', 'fleet:open_alerts', 10),
    {
      id: 'online-pct',
      type: 'gauge',
      title: 'Online',
      layout: place(0, 2, 2, 4),
      options: { metric: 'fleet:online_pct', stat: 'last', unit: '%', min: 0, max: 100, thresholds: [] },
    },
    {
      id: 'battery',
      type: 'gauge',
      title: 'Battery (average)',
      layout: place(2, 2, 2, 4),
      options: { metric: 'battery_pct', stat: 'avg', unit: '%', min: 0, max: 100, thresholds: [] },
    },
    {
      id: 'alert-trend',
      type: 'bar',
      title: 'Alerts per hour',
      layout: place(4, 2, 4, 4),
      options: { group_by: 'alerts_per_hour' },
    },
    {
      id: 'status',
      type: 'bar',
      title: 'Device status',
      layout: place(8, 2, 4, 4),
      options: { group_by: 'status' },
    },
    {
      id: 'fleet-temperature',
      type: 'timeseries',
      title: 'Fleet temperature (min, average, max)',
      layout: place(0, 6, 12, 5),
      options: { metrics: ['temp_c'], devices: [], stats: ['min', 'avg', 'max'] },
    },
    {
      id: 'alerts',
      type: 'alerts',
      title: 'Open alerts',
      layout: place(0, 11, 6, 5),
      options: { status: 'OPEN', min_severity: 1, limit: 20 },
    },
    {
      id: 'devices-seen',
      type: 'table',
      title: 'Devices',
      layout: place(6, 11, 6, 5),
      options: {
        columns: ['device_id', 'status', 'metric:battery_pct', 'last_seen_at'],
        sort: 'last_seen_at',
        limit: 8,
      },
    },
  ],
};

const COLUMNS = 'dashboard_id::text, name, definition, created_by, created_at, updated_at';

export async function listDashboards(tx: TenantTx): Promise<Omit<DashboardRow, 'definition'>[]> {
  const { rows } = await tx.query<Omit<DashboardRow, 'definition'>>(
    `SELECT dashboard_id::text, name, created_by, created_at, updated_at FROM dashboards
     WHERE tenant_id = $1 ORDER BY lower(name), created_at LIMIT 500`,
    [tx.tenantId],
  );
  return rows;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function findDashboard(tx: TenantTx, dashboardId: string): Promise<DashboardRow | undefined> {
  if (!UUID.test(dashboardId)) return undefined;
  const { rows } = await tx.query<DashboardRow>(
    `SELECT ${COLUMNS} FROM dashboards WHERE tenant_id = $1 AND dashboard_id = $2`,
    [tx.tenantId, dashboardId],
  );
  return rows[0];
}

export async function createDashboard(
  tx: TenantTx,
  definition: DashboardDocument,
  createdBy: string,
): Promise<DashboardRow> {
  const { rows } = await tx.query<DashboardRow>(
    `INSERT INTO dashboards (tenant_id, name, definition, created_by) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
    [tx.tenantId, definition.name, JSON.stringify(definition), createdBy],
  );
  return rows[0]!;
}

export async function replaceDashboard(
  tx: TenantTx,
  dashboardId: string,
  definition: DashboardDocument,
): Promise<DashboardRow | undefined> {
  if (!UUID.test(dashboardId)) return undefined;
  const { rows } = await tx.query<DashboardRow>(
    `UPDATE dashboards SET name = $3, definition = $4, updated_at = now()
     WHERE tenant_id = $1 AND dashboard_id = $2 RETURNING ${COLUMNS}`,
    [tx.tenantId, dashboardId, definition.name, JSON.stringify(definition)],
  );
  return rows[0];
}

export async function deleteDashboard(tx: TenantTx, dashboardId: string): Promise<boolean> {
  if (!UUID.test(dashboardId)) return false;
  const { rowCount } = await tx.query(`DELETE FROM dashboards WHERE tenant_id = $1 AND dashboard_id = $2`, [
    tx.tenantId,
    dashboardId,
  ]);
  return (rowCount ?? 0) > 0;
}

export async function countDashboards(tx: TenantTx): Promise<number> {
  const { rows } = await tx.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM dashboards WHERE tenant_id = $1`,
    [tx.tenantId],
  );
  return rows[0]!.count;
}

export interface DashboardShare {
  share_id: string;
  dashboard_id: string;
  expires_at: Date;
  revoked_at: Date | null;
  created_by: string | null;
  created_at: Date;
}

const SHARE_COLUMNS = 'share_id::text, dashboard_id::text, expires_at, revoked_at, created_by, created_at';

export async function createShare(
  tx: TenantTx,
  share: { dashboardId: string; tokenHash: string; expiresAt: Date; createdBy: string },
): Promise<DashboardShare> {
  const { rows } = await tx.query<DashboardShare>(
    `INSERT INTO dashboard_shares (tenant_id, dashboard_id, token_hash, expires_at, created_by)
     VALUES ($1, $2, $3, $4, $5) RETURNING ${SHARE_COLUMNS}`,
    [tx.tenantId, share.dashboardId, share.tokenHash, share.expiresAt, share.createdBy],
  );
  return rows[0]!;
}

export async function listShares(tx: TenantTx, dashboardId: string): Promise<DashboardShare[]> {
  const { rows } = await tx.query<DashboardShare>(
    `SELECT ${SHARE_COLUMNS} FROM dashboard_shares WHERE tenant_id = $1 AND dashboard_id = $2
     ORDER BY created_at DESC LIMIT 100`,
    [tx.tenantId, dashboardId],
  );
  return rows;
}

/** Revokes a link now; undefined when the dashboard has no such link not yet revoked. */
export async function revokeShare(
  tx: TenantTx,
  dashboardId: string,
  shareId: string,
): Promise<DashboardShare | undefined> {
  if (!UUID.test(shareId)) return undefined;
  const { rows } = await tx.query<DashboardShare>(
    `UPDATE dashboard_shares SET revoked_at = now()
     WHERE tenant_id = $1 AND dashboard_id = $2 AND share_id = $3 AND revoked_at IS NULL RETURNING ${SHARE_COLUMNS}`,
    [tx.tenantId, dashboardId, shareId],
  );
  return rows[0];
}

/** The tenant and dashboard of a link that is neither expired nor revoked, of a tenant not deleted. */
export async function liveShare(
  tx: ServiceTx,
  tokenHash: string,
): Promise<{ tenant_id: string; dashboard_id: string } | undefined> {
  const { rows } = await tx.query<{ tenant_id: string; dashboard_id: string }>(
    `SELECT s.tenant_id, s.dashboard_id::text FROM dashboard_shares s JOIN tenants t USING (tenant_id)
     WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND t.status <> 'DELETED'`,
    [tokenHash],
  );
  return rows[0];
}

/** What a dashboard's variables offer: the tenant's sites and tags, and (the first 1,000) device ids. */
export async function variableChoices(tx: TenantTx) {
  const { rows } = await tx.query<{ sites: string[]; tags: string[]; devices: string[] }>(
    `SELECT
       ARRAY(SELECT DISTINCT site_id FROM device_registry WHERE tenant_id = $1 ORDER BY 1 LIMIT 1000) AS sites,
       ARRAY(SELECT DISTINCT tag FROM device_tags WHERE tenant_id = $1 ORDER BY 1 LIMIT 1000) AS tags,
       ARRAY(SELECT device_id FROM device_registry WHERE tenant_id = $1 ORDER BY 1 LIMIT 1000) AS devices`,
    [tx.tenantId],
  );
  return rows[0]!;
}
