// Threshold rules, pure. A rule opens its alert when the condition has held for duration_seconds, and
// closes it only once the value is back past threshold ∓ hysteresis, so a value hovering at the
// threshold does not flap. A message without the rule's metric (a heartbeat, say) changes nothing.
// Besides numbers (GT…LTE), a rule may match a text state (EQ, NE, IN: no hysteresis) or a position
// against a geofence (INSIDE, OUTSIDE: the hysteresis is in metres past the edge).
import type { Operator, Rule } from '../model/rules.js';
import { isPosition, signedDistance } from '../model/geofence.js';
import { operatorKind } from '../model/rule-input.js';
import type { Position } from '../contracts/messages.js';

export interface RuleState {
  /** When the condition started to hold without a break (ms), or null. */
  violatingSince: number | null;
  alertOpen: boolean;
}

export type RuleAction = 'open' | 'update' | 'close' | 'none';

export const OPERATOR_SYMBOLS: Record<Operator, string> = {
  GT: '>',
  LT: '<',
  GTE: '>=',
  LTE: '<=',
  EQ: '==',
  NE: '!=',
  IN: 'in',
  INSIDE: 'inside',
  OUTSIDE: 'outside',
};

type NumberOperator = 'GT' | 'LT' | 'GTE' | 'LTE';

export function compare(operator: NumberOperator, value: number, threshold: number): boolean {
  switch (operator) {
    case 'GT':
      return value > threshold;
    case 'LT':
      return value < threshold;
    case 'GTE':
      return value >= threshold;
    case 'LTE':
      return value <= threshold;
  }
}

/** Booleans count as 1/0 (docs/wire-contract.md#alerts); anything else is not a reading. */
export function metricValue(metrics: Record<string, unknown>, name: string): number | null {
  const value = metrics[name];
  if (typeof value === 'boolean') return value ? 1 : 0;
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export type Reading = number | string | Position;

/** The rule's metric as the rule reads it (a number, a text, a position), or null: no reading for it. */
export function ruleReading(rule: Rule, metrics: Record<string, unknown>): Reading | null {
  const kind = operatorKind(rule.operator);
  if (kind === 'number') return metricValue(metrics, rule.metric_name);
  const value = metrics[rule.metric_name];
  if (kind === 'text') return typeof value === 'string' ? value : null;
  return typeof value === 'object' && value !== null && isPosition(value as Record<string, unknown>)
    ? (value as Position)
    : null;
}

/** Whether the reading breaks the rule (`margin`: how far past the edge it must be, to count as recovered). */
function violates(rule: Rule, reading: Reading, margin = 0): boolean {
  switch (rule.operator) {
    case 'EQ':
      return reading === rule.values?.[0];
    case 'NE':
      return reading !== rule.values?.[0];
    case 'IN':
      return (rule.values ?? []).includes(reading as string);
    case 'INSIDE':
      return rule.geofence !== null && signedDistance(rule.geofence, reading as Position) <= margin;
    case 'OUTSIDE':
      return rule.geofence !== null && signedDistance(rule.geofence, reading as Position) > -margin;
    default: {
      // A number rule recovers past threshold ∓ hysteresis.
      const toward = rule.operator === 'GT' || rule.operator === 'GTE' ? -margin : margin;
      return compare(rule.operator, reading as number, rule.threshold + toward);
    }
  }
}

/** The next state of one (rule, device) pair for a reading at nowMs. */
export function evaluateReading(
  rule: Rule,
  state: RuleState,
  value: Reading,
  nowMs: number,
): { state: RuleState; action: RuleAction } {
  const violating = violates(rule, value);
  if (state.alertOpen) {
    const recovered = !violates(rule, value, operatorKind(rule.operator) === 'text' ? 0 : rule.hysteresis);
    if (recovered) return { state: { violatingSince: null, alertOpen: false }, action: 'close' };
    return { state, action: violating ? 'update' : 'none' };
  }
  if (!violating) return { state: { violatingSince: null, alertOpen: false }, action: 'none' };
  const since = state.violatingSince ?? nowMs;
  if (nowMs - since >= rule.duration_seconds * 1000)
    return { state: { violatingSince: since, alertOpen: true }, action: 'open' };
  return { state: { violatingSince: since, alertOpen: false }, action: 'none' };
}

/**
 * The THRESHOLD summary of docs/wire-contract.md#alerts, `site: device metric (value) > 25.0`; for text
 * `… door (open) == open`, for positions `… position (52.37000, 4.89000) outside geofence`.
 */
export function thresholdSummary(rule: Rule, siteId: string, deviceId: string, value: Reading): string {
  const symbol = OPERATOR_SYMBOLS[rule.operator];
  if (typeof value === 'number')
    return `${siteId}: ${deviceId} ${rule.metric_name} (${value}) ${symbol} ${pythonFloat(rule.threshold)}`;
  if (typeof value === 'string') {
    const values = rule.operator === 'IN' ? `[${(rule.values ?? []).join(', ')}]` : (rule.values?.[0] ?? '');
    return `${siteId}: ${deviceId} ${rule.metric_name} (${value}) ${symbol} ${values}`;
  }
  return `${siteId}: ${deviceId} ${rule.metric_name} (${value.lat.toFixed(5)}, ${value.lon.toFixed(5)}) ${symbol} geofence`;
}

export function thresholdDetails(rule: Rule, value: Reading) {
  const kind = operatorKind(rule.operator);
  return {
    rule_id: rule.rule_id,
    rule_name: rule.name,
    metric_name: rule.metric_name,
    metric_value: value,
    operator: rule.operator,
    threshold: rule.threshold,
    ...(kind === 'text' && { values: rule.values }),
    ...(kind === 'geofence' && { geofence: rule.geofence }),
  };
}

/** Python prints floats with a decimal point: 25 → "25.0". */
function pythonFloat(value: number): string {
  return Number.isInteger(value) ? `${value}.0` : String(value);
}

export const ruleFingerprint = (ruleId: string, deviceId: string) => `RULE:${ruleId}:${deviceId}`;
export const staleFingerprint = (deviceId: string) => `NO_HEARTBEAT:${deviceId}`;
