// Checks of an alert rule body beyond its JSON schema, with the 400 messages of docs/wire-contract.md#customer-api.
import { AppError } from '../errors.js';
import { isUuid } from '../lib/uuid.js';
import { geofenceProblem, type Geofence } from './geofence.js';
import type { DeviceSelector } from './device-selection.js';
import { scopeSelector } from './selector-input.js';

export const NUMBER_OPERATORS = ['GT', 'LT', 'GTE', 'LTE'] as const;
export const TEXT_OPERATORS = ['EQ', 'NE', 'IN'] as const;
export const GEOFENCE_OPERATORS = ['INSIDE', 'OUTSIDE'] as const;
export const RULE_OPERATORS = [...NUMBER_OPERATORS, ...TEXT_OPERATORS, ...GEOFENCE_OPERATORS] as const;
export type OperatorKind = 'number' | 'text' | 'geofence';

export function operatorKind(operator: string): OperatorKind {
  if ((TEXT_OPERATORS as readonly string[]).includes(operator)) return 'text';
  if ((GEOFENCE_OPERATORS as readonly string[]).includes(operator)) return 'geofence';
  return 'number';
}
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
  values?: string[] | null | undefined;
  geofence?: Geofence | null | undefined;
  /** As given: checkRuleFields makes it a DeviceSelector (or null). */
  selector?: DeviceSelector | object | null | undefined;
}

/**
 * What each kind of rule needs, for a rule as it will be once saved (`current` holds a patched rule's
 * stored fields): a threshold for numbers, values for text (one for EQ and NE), a geofence for positions.
 */
export function checkRuleShape(fields: RuleFields, current?: RuleFields): void {
  const merged = { ...current, ...fields };
  const kind = operatorKind(merged.operator ?? 'GT');
  if (kind === 'number' && merged.threshold === undefined)
    throw new AppError('VALIDATION_FAILED', 'A rule on a number needs a threshold');
  if (kind === 'text') {
    const values = merged.values ?? [];
    if (values.length === 0)
      throw new AppError('INVALID_REQUEST', `${merged.operator} needs values: the text states it matches`);
    if (merged.operator !== 'IN' && values.length !== 1)
      throw new AppError('INVALID_REQUEST', `${merged.operator} takes exactly one value; IN takes several`);
  }
  if (kind === 'geofence') {
    const problem = geofenceProblem(merged.geofence);
    if (problem) throw new AppError('INVALID_REQUEST', `Invalid geofence: ${problem}`);
  }
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
  if (checked.selector !== undefined) checked.selector = scopeSelector(checked.selector, 'a rule');
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
