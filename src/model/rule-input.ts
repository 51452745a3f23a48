// Checks of an alert rule body beyond its JSON schema, with the reference's 400 messages (§3.4).
import { AppError } from '../errors.js';
import { isUuid } from '../lib/uuid.js';

export const RULE_OPERATORS = ['GT', 'LT', 'GTE', 'LTE'] as const;
const METRIC_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface RuleFields {
  name?: string | undefined;
  description?: string | null | undefined;
  metric_name?: string | undefined;
  operator?: string | undefined;
  threshold?: number | undefined;
  severity?: number | undefined;
  site_ids?: string[] | null | undefined;
  enabled?: boolean | undefined;
  duration_seconds?: number | undefined;
  hysteresis?: number | undefined;
}

/** The fields normalised (trimmed name, upper-case operator, trimmed site ids); throws 400 on the first problem. */
export function checkRuleFields<T extends RuleFields>(fields: T): T {
  const checked = { ...fields };
  if (checked.name !== undefined) {
    checked.name = checked.name.trim();
    if (checked.name.length < 1 || checked.name.length > 100)
      throw new AppError('INVALID_REQUEST', 'Invalid name length');
  }
  if (checked.operator !== undefined) {
    checked.operator = checked.operator.toUpperCase();
    if (!(RULE_OPERATORS as readonly string[]).includes(checked.operator)) {
      throw new AppError('INVALID_REQUEST', 'Invalid operator value');
    }
  }
  if (checked.metric_name !== undefined && !METRIC_NAME_PATTERN.test(checked.metric_name)) {
    throw new AppError('INVALID_REQUEST', 'Invalid metric_name format');
  }
  if (checked.site_ids) {
    checked.site_ids = checked.site_ids.map((site) => site.trim());
    if (checked.site_ids.some((site) => site === '')) throw new AppError('INVALID_REQUEST', 'Invalid site_id value');
  }
  return checked;
}

export function checkRuleId(ruleId: string): void {
  if (!isUuid(ruleId)) throw new AppError('INVALID_REQUEST', 'Invalid rule_id format: must be a valid UUID');
}

/**
 * A warning for a rule on a metric none of the tenant's devices has reported — most often a typo
 * ("temprature") that would never fire. Saved all the same: devices may report it later.
 */
export function unknownMetricWarning(metric: string, reported: string[]): string | undefined {
  if (reported.length === 0 || reported.includes(metric)) return undefined;
  return `No device has reported ${metric} yet, so this rule cannot fire until one does. Reported metrics: ${reported.join(', ')}`;
}
