// The per-tenant caps and rates of customer routes (issue 36) as the API enforces them: one place that
// turns "count ≥ cap" into a 409 and "too often" into a 429, each naming the limit and what to do.
import type { Config } from '../config.js';
import type { TenantTx } from '../db/database.js';
import { AppError } from '../errors.js';
import { lockedCount, takeRateSlot, type CappedKind } from '../model/tenant-limits.js';

export type TenantCaps = Pick<
  Config,
  'TENANT_MAX_SILENCES' | 'TENANT_MAX_ROUTES' | 'TENANT_MAX_RULES' | 'TENANT_MAX_INTEGRATIONS' | 'ALERT_MAX_NOTES'
>;

const CAPS: Record<CappedKind, { variable: keyof TenantCaps; what: string; remedy: string }> = {
  silences: { variable: 'TENANT_MAX_SILENCES', what: 'running or coming silences', remedy: 'end one first' },
  routes: { variable: 'TENANT_MAX_ROUTES', what: 'integration routes', remedy: 'delete one first' },
  rules: { variable: 'TENANT_MAX_RULES', what: 'alert rules', remedy: 'delete one first' },
  integrations: { variable: 'TENANT_MAX_INTEGRATIONS', what: 'integrations', remedy: 'delete one first' },
  notes: { variable: 'ALERT_MAX_NOTES', what: 'notes on this alert', remedy: 'no more can be added' },
};

/**
 * Refuses to add one more of `kind` when the tenant (for notes: the alert) holds its cap already. Call it
 * in the transaction that adds: it holds a lock on the count until that commits.
 */
export async function requireBelowCap(
  tx: TenantTx,
  caps: TenantCaps,
  kind: CappedKind,
  alertId?: number,
): Promise<void> {
  const { variable, what, remedy } = CAPS[kind];
  const cap = caps[variable];
  const held = await lockedCount(tx, kind, alertId);
  if (held >= cap) {
    throw new AppError('LIMIT_REACHED', `Limit reached: ${held} ${what}, at most ${cap} (${variable}); ${remedy}`, {
      limit: variable,
      max: cap,
    });
  }
}

/** Records one `action` of the tenant, or refuses with 429 when `limit` happened within `windowSeconds`. */
export async function requireRateSlot(
  tx: TenantTx,
  rate: { action: string; limit: number; windowSeconds: number; what: string },
): Promise<void> {
  const wait = await takeRateSlot(tx, rate.action, rate.limit, rate.windowSeconds);
  if (wait !== undefined) {
    throw new AppError(
      'RATE_LIMITED',
      `Rate limit exceeded: at most ${rate.limit} ${rate.what} per ${rate.windowSeconds} s; retry in ${wait} s`,
      {},
      wait,
    );
  }
}
