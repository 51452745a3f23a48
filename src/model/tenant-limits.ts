// Per-tenant limits kept in the database (issue 36): how many of a kind a tenant holds, and how many times
// it did something lately. Each check takes a transaction-scoped advisory lock on (tenant, kind) first, so
// concurrent requests queue on it and each counts what the ones before it committed: no two can pass the
// same count (check-then-act), on any number of api instances.
import type { TenantTx } from '../db/database.js';

export type CappedKind = 'silences' | 'routes' | 'rules' | 'integrations' | 'notes';

/** What counts against each cap ($1 the tenant; notes are per alert, $2). */
const COUNTS: Record<CappedKind, string> = {
  silences: `SELECT count(*)::int AS n FROM silences WHERE tenant_id = $1 AND ends_at > now()`,
  routes: `SELECT count(*)::int AS n FROM integration_routes WHERE tenant_id = $1`,
  rules: `SELECT count(*)::int AS n FROM alert_rules WHERE tenant_id = $1`,
  integrations: `SELECT count(*)::int AS n FROM integrations WHERE tenant_id = $1`,
  notes: `SELECT count(*)::int AS n FROM alert_events WHERE tenant_id = $1 AND alert_id = $2 AND kind = 'NOTE'`,
};

/** Serialises the tenant's changes of `key` until the transaction ends. */
async function lockFor(tx: TenantTx, key: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`${tx.tenantId}/${key}`]);
}

/** How many of `kind` the tenant holds (of one alert, for notes), locked against concurrent additions. */
export async function lockedCount(tx: TenantTx, kind: CappedKind, alertId?: number): Promise<number> {
  await lockFor(tx, `${kind}/${alertId ?? ''}`);
  const { rows } = await tx.query<{ n: number }>(
    COUNTS[kind],
    kind === 'notes' ? [tx.tenantId, alertId] : [tx.tenantId],
  );
  return rows[0]!.n;
}

/**
 * Records one `action` of the tenant if fewer than `limit` happened in the last `windowSeconds`: undefined
 * when it was recorded, else the whole seconds until the oldest of them leaves the window.
 */
export async function takeRateSlot(
  tx: TenantTx,
  action: string,
  limit: number,
  windowSeconds: number,
): Promise<number | undefined> {
  await lockFor(tx, `rate/${action}`);
  const { rows } = await tx.query<{ n: number; wait: number | null }>(
    `SELECT count(*)::int AS n,
            ceil(extract(epoch FROM min(created_at) + make_interval(secs => $3) - now()))::int AS wait
     FROM rate_limits WHERE tenant_id = $1 AND action = $2 AND created_at > now() - make_interval(secs => $3)`,
    [tx.tenantId, action, windowSeconds],
  );
  if (rows[0]!.n >= limit) return Math.max(1, rows[0]!.wait ?? 1);
  await tx.query(`INSERT INTO rate_limits (tenant_id, action) VALUES ($1, $2)`, [tx.tenantId, action]);
  return undefined;
}
