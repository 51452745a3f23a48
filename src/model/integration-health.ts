// Integration health (issue 29 item 4): whether an integration's notifications get through. Every delivery
// attempt moves it, in the transaction that records the attempt; a change of state is decided there, under
// the row's lock, so with any number of workers exactly one sees it and logs it, and the integration's
// INTEGRATION_FAILING alert opens (or closes) with it. Read by customers (their list), operators (every
// tenant's failing integrations) and the dashboard.
import type { Queryable, ServiceTx, TenantTx } from '../db/database.js';
import type { AlertEvent } from '../contracts/messages.js';
import type { Target } from '../channels/target.js';

export const HEALTH_STATES = ['unknown', 'healthy', 'failing'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];
/** What an alert about an integration names of it (integrations.ts reads this module: no import back). */
interface IntegrationNamed {
  tenant_id: string;
  integration_id: string;
  name: string;
  type: Target['type'];
}

export interface Health {
  state: HealthState;
  consecutive_failures: number;
}

/** An integration's health as the APIs show it; `unknown` until its first attempt. */
export interface IntegrationHealth extends Health {
  last_success_at: Date | null;
  last_failure_at: Date | null;
  last_error: string | null;
}

export const INTEGRATION_FAILING = 'INTEGRATION_FAILING';
/** HIGH: while it lasts, the alerts routed to the integration reach nobody. */
const FAILING_SEVERITY = 4;
const MAX_ERROR_CHARS = 500;

/**
 * The health after one attempt: a success makes it healthy; a failure makes it failing at `failingAfter`
 * failures in a row, or at once when the failure ends a job (FAILED: nothing will retry it).
 */
export function healthAfter(
  before: Health,
  attempt: { ok: boolean; jobFailed: boolean },
  failingAfter: number,
): Health {
  if (attempt.ok) return { state: 'healthy', consecutive_failures: 0 };
  const consecutive = before.consecutive_failures + 1;
  const failing = consecutive >= failingAfter || attempt.jobFailed;
  return { state: failing ? 'failing' : before.state, consecutive_failures: consecutive };
}

/** What a change of state means: it started failing, or it recovered (unknown → healthy is neither). */
export function healthChange(before: HealthState, after: HealthState): 'failing' | 'recovered' | undefined {
  if (before === after) return undefined;
  if (after === 'failing') return 'failing';
  return before === 'failing' ? 'recovered' : undefined;
}

export interface HealthUpdate {
  change: 'failing' | 'recovered' | undefined;
  health: Health;
  /** The INTEGRATION_FAILING alert opened or closed with the change, to announce once committed. */
  alertEvent: AlertEvent | undefined;
}

/** Records one attempt's outcome in the integration's health (the worker's transaction). */
export async function recordAttemptHealth(
  tx: ServiceTx,
  integration: IntegrationNamed,
  attempt: { ok: boolean; jobFailed: boolean; error: string | undefined },
  failingAfter: number,
): Promise<HealthUpdate> {
  const key = [integration.tenant_id, integration.integration_id];
  // Creates the row at the first attempt, else locks it and reads it as the last writer left it: workers
  // recording attempts of one integration take turns here, each starting from the state before it.
  const { rows } = await tx.query<Health>(
    `INSERT INTO integration_health AS h (tenant_id, integration_id) VALUES ($1, $2)
     ON CONFLICT (tenant_id, integration_id) DO UPDATE SET updated_at = h.updated_at
     RETURNING state, consecutive_failures`,
    key,
  );
  const before = rows[0]!;
  const health = healthAfter(before, attempt, failingAfter);
  const error = attempt.ok ? null : (attempt.error ?? 'failed').slice(0, MAX_ERROR_CHARS);
  await tx.query(
    `UPDATE integration_health SET state = $3, consecutive_failures = $4,
       last_success_at = CASE WHEN $5 THEN now() ELSE last_success_at END,
       last_failure_at = CASE WHEN $5 THEN last_failure_at ELSE now() END,
       last_error = CASE WHEN $5 THEN last_error ELSE $6 END, updated_at = now()
     WHERE tenant_id = $1 AND integration_id = $2`,
    [...key, health.state, health.consecutive_failures, attempt.ok, error],
  );
  const change = healthChange(before.state, health.state);
  const alertEvent =
    change === 'failing'
      ? await openFailingAlert(tx, integration, health.consecutive_failures, error!)
      : change === 'recovered'
        ? await closeFailingAlert(tx, integration.tenant_id, integration.integration_id)
        : undefined;
  return { change, health, alertEvent };
}

const fingerprintOf = (integrationId: string) => `integration_failing:${integrationId}`;

/** Opens the integration's alert; one still open or acknowledged is updated instead (no new event). */
async function openFailingAlert(
  tx: ServiceTx,
  integration: IntegrationNamed,
  consecutiveFailures: number,
  error: string,
): Promise<AlertEvent | undefined> {
  const details = {
    integration_id: integration.integration_id,
    integration_name: integration.name,
    integration_type: integration.type,
    consecutive_failures: consecutiveFailures,
    error,
  };
  const { rows } = await tx.query<{ id: number; inserted: boolean; fingerprint: string }>(
    `INSERT INTO fleet_alert (tenant_id, site_id, device_id, integration_id, alert_type, fingerprint, status, severity,
                              confidence, summary, details)
     VALUES ($1, '', '', $2, $3, $4, 'OPEN', $5, 1, $6, $7)
     ON CONFLICT (tenant_id, fingerprint) WHERE status <> 'CLOSED' DO UPDATE SET
       summary = EXCLUDED.summary, details = EXCLUDED.details, updated_at = now()
     RETURNING id, (xmax = 0) AS inserted, fingerprint`,
    [
      integration.tenant_id,
      integration.integration_id,
      INTEGRATION_FAILING,
      fingerprintOf(integration.integration_id),
      FAILING_SEVERITY,
      `Integration ${integration.name} (${integration.type}) is failing: ${error}`,
      JSON.stringify(details),
    ],
  );
  const row = rows[0]!;
  if (!row.inserted) return undefined;
  return { event: 'OPENED', alert_id: Number(row.id), tenant_id: integration.tenant_id, fingerprint: row.fingerprint };
}

/** Closes the integration's INTEGRATION_FAILING alert, if one is open: it recovered, or it was deleted. */
export async function closeFailingAlert(
  tx: Queryable,
  tenantId: string,
  integrationId: string,
): Promise<AlertEvent | undefined> {
  const { rows } = await tx.query<{ id: number; fingerprint: string }>(
    `UPDATE fleet_alert SET status = 'CLOSED', closed_at = now(), updated_at = now()
     WHERE tenant_id = $1 AND fingerprint = $2 AND status <> 'CLOSED' RETURNING id, fingerprint`,
    [tenantId, fingerprintOf(integrationId)],
  );
  const row = rows[0];
  return row && { event: 'CLOSED', alert_id: Number(row.id), tenant_id: tenantId, fingerprint: row.fingerprint };
}

/** Health columns of `integration_health h`, LEFT JOINed (none: never tried, unknown). */
export const HEALTH_COLUMNS = `COALESCE(h.state, 'unknown') AS state,
  COALESCE(h.consecutive_failures, 0) AS consecutive_failures, h.last_success_at, h.last_failure_at, h.last_error`;

/** The tenant's integrations' health by integration id; one never tried is absent (UNKNOWN_HEALTH). */
export async function healthOfIntegrations(tx: TenantTx): Promise<Map<string, IntegrationHealth>> {
  const { rows } = await tx.query<IntegrationHealth & { integration_id: string }>(
    `SELECT h.integration_id, ${HEALTH_COLUMNS} FROM integration_health h WHERE h.tenant_id = $1`,
    [tx.tenantId],
  );
  return new Map(rows.map(({ integration_id, ...health }) => [integration_id, health]));
}

export const UNKNOWN_HEALTH: IntegrationHealth = {
  state: 'unknown',
  consecutive_failures: 0,
  last_success_at: null,
  last_failure_at: null,
  last_error: null,
};
