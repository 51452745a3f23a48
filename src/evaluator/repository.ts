// What the evaluator reads: its state at start, the enabled rules, the rules version and registry status.
import type { Database } from '../db/database.js';
import type { DeviceState, DeviceStatus } from './engine.js';
import type { Rule } from './rules.js';

export async function loadDeviceStates(db: Database): Promise<DeviceState[]> {
  const { rows } = await db.withService((tx) =>
    tx.query<DeviceState & { registry_status: string | null }>(
      `SELECT ds.tenant_id, ds.device_id, ds.site_id, ds.status, ds.last_heartbeat_at, ds.last_telemetry_at,
              ds.last_seen_at, ds.last_state_change_at, ds.state, dr.status AS registry_status
       FROM device_state ds LEFT JOIN device_registry dr USING (tenant_id, device_id)`,
    ),
  );
  return rows.map(({ registry_status, ...device }) => ({
    ...device,
    status: (registry_status === 'REVOKED'
      ? 'REVOKED'
      : device.status === 'ONLINE'
        ? 'ONLINE'
        : 'STALE') as DeviceStatus,
  }));
}

export async function loadOpenAlerts(db: Database) {
  const { rows } = await db.withService((tx) =>
    tx.query<{ tenant_id: string; device_id: string; fingerprint: string }>(
      `SELECT tenant_id, device_id, fingerprint FROM fleet_alert WHERE status <> 'CLOSED'`,
    ),
  );
  return rows;
}

export async function loadRuleStates(db: Database) {
  const { rows } = await db.withService((tx) =>
    tx.query<{ tenant_id: string; rule_id: string; device_id: string; violating_since: Date | null }>(
      `SELECT tenant_id, rule_id, device_id, violating_since FROM alert_rule_state`,
    ),
  );
  return rows;
}

export async function loadEnabledRules(db: Database): Promise<{ version: number; rules: Rule[] }> {
  return db.withService(async (tx) => {
    const version = await tx.query<{ version: number }>(`SELECT version FROM alert_rules_version`);
    const { rows } = await tx.query<Rule>(
      `SELECT rule_id, tenant_id, name, metric_name, operator, threshold, severity, site_ids, duration_seconds, hysteresis
       FROM alert_rules WHERE enabled`,
    );
    return { version: version.rows[0]?.version ?? 0, rules: rows };
  });
}

export async function rulesVersion(db: Database): Promise<number> {
  const { rows } = await db.withService((tx) =>
    tx.query<{ version: number }>(`SELECT version FROM alert_rules_version`),
  );
  return rows[0]?.version ?? 0;
}

export async function registryStatus(db: Database, tenantId: string, deviceId: string): Promise<string | null> {
  const { rows } = await db.withService((tx) =>
    tx.query<{ status: string }>(`SELECT status FROM device_registry WHERE tenant_id = $1 AND device_id = $2`, [
      tenantId,
      deviceId,
    ]),
  );
  return rows[0]?.status ?? null;
}
