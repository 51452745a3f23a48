// Alert rules: written by customers (TenantTx), loaded by the evaluator (ServiceTx). What a rule body
// may hold is checked in rule-input.ts.
import type { RuleFields } from './rule-input.js';
import type { Geofence } from './geofence.js';
import type { DeviceSelector } from './device-selection.js';
import type { ServiceTx, TenantTx } from '../db/database.js';

/** A rule as the APIs show it. */
export interface AlertRule {
  tenant_id: string;
  rule_id: string;
  name: string;
  enabled: boolean;
  metric_name: string;
  operator: Operator;
  threshold: number;
  /** EQ, NE, IN: the text values matched. */
  values: string[] | null;
  /** INSIDE, OUTSIDE: the area. */
  geofence: Geofence | null;
  severity: number;
  description: string | null;
  site_ids: string[] | null;
  /** The devices it watches besides its sites (tags, attributes, id prefix…); null: all of them. */
  selector: DeviceSelector | null;
  duration_seconds: number;
  hysteresis: number;
  created_at: Date;
  updated_at: Date;
}

const RULE_COLUMNS = `tenant_id, rule_id, name, enabled, metric_name, operator, threshold, text_values AS "values",
  geofence, severity, description, site_ids, selector, duration_seconds, hysteresis, created_at, updated_at`;

export async function listRules(tx: TenantTx, limit: number) {
  const { rows } = await tx.query<AlertRule>(
    `SELECT ${RULE_COLUMNS} FROM alert_rules WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
    [tx.tenantId, limit],
  );
  return rows;
}

export async function findRule(tx: TenantTx, ruleId: string) {
  const { rows } = await tx.query<AlertRule>(
    `SELECT ${RULE_COLUMNS} FROM alert_rules WHERE tenant_id = $1 AND rule_id = $2`,
    [tx.tenantId, ruleId],
  );
  return rows[0];
}

export async function createRule(
  tx: TenantTx,
  rule: Required<Pick<RuleFields, 'name' | 'metric_name' | 'operator'>> & RuleFields,
) {
  const { rows } = await tx.query<AlertRule>(
    `INSERT INTO alert_rules (tenant_id, name, description, enabled, metric_name, operator, threshold, severity, site_ids,
                              duration_seconds, hysteresis, text_values, geofence, selector)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING ${RULE_COLUMNS}`,
    [
      tx.tenantId,
      rule.name,
      rule.description ?? null,
      rule.enabled ?? true,
      rule.metric_name,
      rule.operator,
      rule.threshold ?? 0,
      rule.severity ?? 3,
      rule.site_ids ?? null,
      rule.duration_seconds ?? 0,
      rule.hysteresis ?? 0,
      rule.values ?? null,
      rule.geofence ? JSON.stringify(rule.geofence) : null,
      rule.selector ? JSON.stringify(rule.selector) : null,
    ],
  );
  return rows[0]!;
}

const UPDATABLE_RULE_FIELDS = [
  'name',
  'description',
  'enabled',
  'metric_name',
  'operator',
  'threshold',
  'severity',
  'site_ids',
  'duration_seconds',
  'hysteresis',
  'values',
  'geofence',
  'selector',
] as const;
const COLUMN_OF: Partial<Record<(typeof UPDATABLE_RULE_FIELDS)[number], string>> = { values: 'text_values' };

/** Sets the given fields (column names come from the fixed list above, values are parameters). */
export async function updateRule(tx: TenantTx, ruleId: string, fields: RuleFields) {
  const present = UPDATABLE_RULE_FIELDS.filter((field) => fields[field] !== undefined);
  const assignments = present.map((field, i) => `${COLUMN_OF[field] ?? field} = $${i + 3}`);
  const value = (field: (typeof UPDATABLE_RULE_FIELDS)[number]) =>
    (field === 'geofence' || field === 'selector') && fields[field] ? JSON.stringify(fields[field]) : fields[field];
  const { rows } = await tx.query<AlertRule>(
    `UPDATE alert_rules SET ${[...assignments, 'updated_at = now()'].join(', ')}
     WHERE tenant_id = $1 AND rule_id = $2 RETURNING ${RULE_COLUMNS}`,
    [tx.tenantId, ruleId, ...present.map(value)],
  );
  return rows[0];
}

export async function deleteRule(tx: TenantTx, ruleId: string): Promise<boolean> {
  const { rowCount } = await tx.query(`DELETE FROM alert_rules WHERE tenant_id = $1 AND rule_id = $2`, [
    tx.tenantId,
    ruleId,
  ]);
  return (rowCount ?? 0) > 0;
}

export interface RuleStateRow {
  tenant_id: string;
  rule_id: string;
  device_id: string;
  violating_since: Date | null;
}

/** Numbers: GT…LTE against threshold; text: EQ, NE, IN against values; positions: INSIDE, OUTSIDE a geofence. */
export type Operator = 'GT' | 'LT' | 'GTE' | 'LTE' | 'EQ' | 'NE' | 'IN' | 'INSIDE' | 'OUTSIDE';

export interface Rule {
  rule_id: string;
  tenant_id: string;
  name: string;
  metric_name: string;
  operator: Operator;
  threshold: number;
  values: string[] | null;
  geofence: Geofence | null;
  severity: number;
  site_ids: string[] | null;
  selector: DeviceSelector | null;
  /** The devices the selector picks, as the evaluator last read them (undefined without a selector). */
  members?: ReadonlySet<string>;
  duration_seconds: number;
  hysteresis: number;
}

export async function loadRuleStates(tx: ServiceTx) {
  const { rows } = await tx.query<RuleStateRow>(
    `SELECT tenant_id, rule_id, device_id, violating_since FROM alert_rule_state`,
  );
  return rows;
}

export async function loadEnabledRules(tx: ServiceTx): Promise<{ version: number; rules: Rule[] }> {
  const version = await tx.query<{ version: number }>(`SELECT version FROM alert_rules_version`);
  const { rows } = await tx.query<Rule>(
    `SELECT rule_id, tenant_id, name, metric_name, operator, threshold, text_values AS "values", geofence, severity,
            site_ids, selector, duration_seconds, hysteresis
     FROM alert_rules WHERE enabled`,
  );
  return { version: version.rows[0]?.version ?? 0, rules: rows };
}

export async function rulesVersion(tx: ServiceTx): Promise<number> {
  const { rows } = await tx.query<{ version: number }>(`SELECT version FROM alert_rules_version`);
  return rows[0]?.version ?? 0;
}

export async function saveRuleStates(tx: ServiceTx, rows: RuleStateRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO alert_rule_state (tenant_id, rule_id, device_id, violating_since)
     SELECT r.tenant_id, r.rule_id, r.device_id, r.violating_since
     FROM jsonb_to_recordset($1::jsonb) AS r(tenant_id text, rule_id text, device_id text, violating_since timestamptz)
     ON CONFLICT (tenant_id, rule_id, device_id) DO UPDATE SET violating_since = EXCLUDED.violating_since`,
    [JSON.stringify(rows)],
  );
}
