// The rules of changing an integration or a route, as plain functions: a PATCH merged over what is
// stored (secrets of a changed destination must be given again), the optimistic write, a test delivery
// with its per-minute budget, and a route's lists checked and normalised.
import type { Static } from '@sinclair/typebox';
import { send, type SendContext } from '../../channels/index.js';
import { testPayload } from '../../channels/payload.js';
import type { TenantTx } from '../../db/database.js';
import { AppError } from '../../errors.js';
import type { SecretBox } from '../../lib/secrets.js';
import { isUuid } from '../../lib/uuid.js';
import type { DestinationRules } from '../../model/integration-input.js';
import {
  buildWebhook,
  currentSettings,
  explainDropped,
  publicView,
  updateBase,
  type Built,
} from '../../model/integration-settings.js';
import * as repo from '../../model/integrations.js';
import { ALERT_TYPES, SEVERITY_NAMES, type EscalationStep, type RouteColumns } from '../../model/routes.js';
import type { RouteCreate, WebhookPatch } from './integration-schemas.js';
import { scopeSelector } from '../../model/selector-input.js';

const TEST_DELIVERIES_PER_MINUTE = 5;

/** Runs `fn` in a transaction of the caller's tenant. */
export type InTx = <T>(fn: (tx: TenantTx) => Promise<T>) => Promise<T>;

export interface IntegrationContext {
  secrets: SecretBox;
  rules: DestinationRules;
  sendContext: SendContext;
}

export const notFound = () => new AppError('NOT_FOUND', 'Integration not found');

/** The outcome of updateIntegration as a row, or the error that says what happened instead. */
async function saved(outcome: repo.IntegrationRow | 'changed' | undefined): Promise<repo.IntegrationRow> {
  if (outcome === 'changed')
    throw new AppError('CONFLICT', 'The integration was changed by another request meanwhile; read it again and retry');
  if (!outcome) throw notFound();
  return outcome;
}

/** Upper-cased, trimmed, de-duplicated; each must be allowed. */
function checkList(
  field: string,
  values: string[] | null | undefined,
  allowed: readonly string[],
): string[] | null | undefined {
  if (values === undefined || values === null) return values;
  const cleaned = [...new Set(values.map((v) => v.trim().toUpperCase()).filter(Boolean))];
  if (cleaned.length === 0) throw new AppError('INVALID_REQUEST', `${field} must not be empty`);
  const bad = cleaned.find((v) => !allowed.includes(v));
  if (bad) throw new AppError('INVALID_REQUEST', `Invalid ${field} value: ${bad}`);
  return cleaned;
}

export async function findIntegration(tx: TenantTx, id: string, type?: repo.IntegrationType) {
  const row = isUuid(id) ? await repo.findIntegration(tx, id, type) : undefined;
  if (!row) throw notFound();
  return row;
}

/**
 * Reads the integration, works out the columns to write from it, and writes them only if nobody changed
 * the row meanwhile (409 otherwise); answers the integration as it now is.
 */
export async function changeIntegration(
  inTx: InTx,
  id: string,
  type: repo.IntegrationType | undefined,
  columnsFor: (row: repo.IntegrationRow) => Promise<repo.IntegrationColumns>,
) {
  const row = await inTx((tx) => findIntegration(tx, id, type));
  const columns = await columnsFor(row);
  return publicView(await saved(await inTx((tx) => repo.updateIntegration(tx, row, columns))));
}

/** The columns of a typed PATCH: the changes over the stored settings, checked by the type's `build`. */
export async function typedChangeColumns<S>(
  row: repo.IntegrationRow,
  changes: Record<string, unknown>,
  build: (settings: S) => Promise<Built>,
  secrets: SecretBox,
): Promise<repo.IntegrationColumns> {
  const { base, dropped } = updateBase(currentSettings(row, secrets), changes);
  const merged = mergeSettings(base as unknown as Record<string, unknown>, changes) as S;
  const built = await build(merged).catch((error: unknown) => {
    throw explainDropped(error, dropped);
  });
  return built.columns;
}

/** The columns of a generic PATCH: all of a webhook; name and enabled of the other types. */
export async function genericChangeColumns(
  row: repo.IntegrationRow,
  changes: Static<typeof WebhookPatch>,
  context: IntegrationContext,
): Promise<repo.IntegrationColumns> {
  const { secrets, rules } = context;
  if (row.type === 'webhook') {
    const current = updateBase(currentSettings(row, secrets), changes).base as Parameters<typeof buildWebhook>[0];
    const signing = secrets.open(row.secrets).signing_secret as string | undefined;
    const headers = changes.headers ?? current.headers;
    return (await buildWebhook({ ...current, ...changes, headers }, rules, secrets, signing)).columns;
  }
  if (changes.webhook_url !== undefined || changes.headers !== undefined) {
    throw new AppError(
      'INVALID_REQUEST',
      `This is a ${row.type} integration; change it under /customer/integrations/${row.type}`,
    );
  }
  return {
    ...(changes.name !== undefined && { name: changes.name.trim() }),
    ...(changes.enabled !== undefined && { enabled: changes.enabled }),
  };
}

/** Sends a test notification through an integration, at most TEST_DELIVERIES_PER_MINUTE a minute. */
export async function testDelivery(
  inTx: InTx,
  integrationId: string,
  type: repo.IntegrationType | undefined,
  context: IntegrationContext,
) {
  const row = await inTx(async (tx) => {
    const found = await findIntegration(tx, integrationId, type);
    if (!(await repo.takeTestDelivery(tx, integrationId, TEST_DELIVERIES_PER_MINUTE))) {
      throw new AppError(
        'RATE_LIMITED',
        `Rate limit exceeded. Maximum ${TEST_DELIVERIES_PER_MINUTE} test deliveries per minute.`,
        {},
        60,
      );
    }
    return found;
  });
  const started = performance.now();
  const result = await send(repo.toTarget(row, context.secrets), testPayload(row.tenant_id), context.sendContext);
  const ms = Math.round(performance.now() - started);
  return {
    success: result.ok,
    integration_id: integrationId,
    integration_name: row.name,
    integration_type: row.type,
    destination: result.destination,
    error: result.error ?? null,
    http_status: result.http_status ?? null,
    duration_ms: ms,
    latency_ms: ms,
  };
}

export function checkRouteId(id: string): void {
  if (!isUuid(id)) throw new AppError('INVALID_REQUEST', 'Invalid route_id format: must be a valid UUID');
}

/** The columns a route body sets: lists upper-cased and checked, names and prefixes trimmed. */
export const routeColumns = (body: Partial<Static<typeof RouteCreate>>): RouteColumns => ({
  ...(body.integration_id !== undefined && { integration_id: body.integration_id }),
  ...(body.name !== undefined && { name: body.name.trim() }),
  ...(body.enabled !== undefined && { enabled: body.enabled }),
  ...(body.min_severity !== undefined && { min_severity: body.min_severity }),
  ...(body.alert_types !== undefined && { alert_types: checkList('alert_types', body.alert_types, ALERT_TYPES) }),
  ...(body.severities !== undefined && {
    severities: checkList('severities', body.severities, Object.keys(SEVERITY_NAMES)),
  }),
  ...(body.site_ids !== undefined && { site_ids: body.site_ids?.map((s) => s.trim()).filter(Boolean) ?? null }),
  ...(body.device_prefixes !== undefined && { device_prefixes: body.device_prefixes?.filter(Boolean) ?? null }),
  ...(body.selector !== undefined && { selector: scopeSelector(body.selector, 'a route') }),
  ...(body.deliver_on !== undefined && { deliver_on: checkList('deliver_on', body.deliver_on, ['OPEN', 'CLOSED'])! }),
  ...(body.priority !== undefined && { priority: body.priority }),
  ...(body.renotify_minutes !== undefined && { renotify_minutes: body.renotify_minutes }),
  ...(body.deliver_superseded !== undefined && { deliver_superseded: body.deliver_superseded }),
  ...(body.escalations !== undefined && { escalations: checkEscalations(body.escalations) }),
});

/** Steps in time order, each integration at most once per delay. */
function checkEscalations(steps: EscalationStep[]): EscalationStep[] {
  const keys = steps.map((step) => `${step.integration_id}:${step.after_minutes}`);
  if (new Set(keys).size !== keys.length)
    throw new AppError('INVALID_REQUEST', 'escalations must not repeat the same integration and after_minutes');
  return [...steps].sort((a, b) => a.after_minutes - b.after_minutes);
}

/** A route and its escalation steps may only point at integrations of the same tenant. */
export async function requireIntegrations(tx: TenantTx, columns: RouteColumns): Promise<void> {
  const exists = async (id: string) => isUuid(id) && (await repo.findIntegration(tx, id)) !== undefined;
  if (columns.integration_id !== undefined && !(await exists(columns.integration_id))) {
    throw new AppError('INVALID_REQUEST', 'Integration not found or belongs to different tenant');
  }
  for (const step of columns.escalations ?? []) {
    if (!(await exists(step.integration_id))) {
      throw new AppError(
        'INVALID_REQUEST',
        `Escalation integration ${step.integration_id} not found or belongs to different tenant`,
      );
    }
  }
}

/** `changes` over `current`, one level deep for nested settings objects. */
function mergeSettings(current: Record<string, unknown>, changes: Record<string, unknown>): Record<string, unknown> {
  const merged = { ...current };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    const before = current[key];
    merged[key] =
      value && typeof value === 'object' && !Array.isArray(value) && before && typeof before === 'object'
        ? { ...(before as object), ...(value as object) }
        : value;
  }
  return merged;
}
