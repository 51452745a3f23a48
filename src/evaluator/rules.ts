// Threshold rules, pure. A rule opens its alert when the condition has held for duration_seconds, and
// closes it only once the value is back past threshold ∓ hysteresis, so a value hovering at the
// threshold does not flap. A message without the rule's metric (a heartbeat, say) changes nothing.
import type { Operator, Rule } from '../model/rules.js';

export interface RuleState {
  /** When the condition started to hold without a break (ms), or null. */
  violatingSince: number | null;
  alertOpen: boolean;
}

export type RuleAction = 'open' | 'update' | 'close' | 'none';

export const OPERATOR_SYMBOLS: Record<Operator, string> = { GT: '>', LT: '<', GTE: '>=', LTE: '<=' };

export function compare(operator: Operator, value: number, threshold: number): boolean {
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

/** Booleans count as 1/0, as in the reference; anything else is not a reading. */
export function metricValue(metrics: Record<string, unknown>, name: string): number | null {
  const value = metrics[name];
  if (typeof value === 'boolean') return value ? 1 : 0;
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The next state of one (rule, device) pair for a reading at nowMs. */
export function evaluateReading(
  rule: Rule,
  state: RuleState,
  value: number,
  nowMs: number,
): { state: RuleState; action: RuleAction } {
  const violating = compare(rule.operator, value, rule.threshold);
  if (state.alertOpen) {
    const recoveryThreshold =
      rule.operator === 'GT' || rule.operator === 'GTE'
        ? rule.threshold - rule.hysteresis
        : rule.threshold + rule.hysteresis;
    const recovered = !compare(rule.operator, value, recoveryThreshold);
    if (recovered) return { state: { violatingSince: null, alertOpen: false }, action: 'close' };
    return { state, action: violating ? 'update' : 'none' };
  }
  if (!violating) return { state: { violatingSince: null, alertOpen: false }, action: 'none' };
  const since = state.violatingSince ?? nowMs;
  if (nowMs - since >= rule.duration_seconds * 1000)
    return { state: { violatingSince: since, alertOpen: true }, action: 'open' };
  return { state: { violatingSince: since, alertOpen: false }, action: 'none' };
}

/** The reference's THRESHOLD summary: `site: device metric (value) > 25.0`. */
export function thresholdSummary(rule: Rule, siteId: string, deviceId: string, value: number): string {
  return `${siteId}: ${deviceId} ${rule.metric_name} (${value}) ${OPERATOR_SYMBOLS[rule.operator]} ${pythonFloat(rule.threshold)}`;
}

export function thresholdDetails(rule: Rule, value: number) {
  return {
    rule_id: rule.rule_id,
    rule_name: rule.name,
    metric_name: rule.metric_name,
    metric_value: value,
    operator: rule.operator,
    threshold: rule.threshold,
  };
}

/** Python prints floats with a decimal point: 25 → "25.0". */
function pythonFloat(value: number): string {
  return Number.isInteger(value) ? `${value}.0` : String(value);
}

export const ruleFingerprint = (ruleId: string, deviceId: string) => `RULE:${ruleId}:${deviceId}`;
export const staleFingerprint = (deviceId: string) => `NO_HEARTBEAT:${deviceId}`;
