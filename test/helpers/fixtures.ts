/** A simulated telemetry message's metrics, sorted: the original simulator's seven plus uplink_ok (wire contract). */
export const SIMULATED_METRIC_NAMES = [
  'battery_pct',
  'humidity_pct',
  'pressure_psi',
  'rssi_dbm',
  'snr_db',
  'temp_c',
  'uplink_ok',
  'vibration_g',
];
import type { Rule } from '../../src/model/rules.js';

/** What /health lists for `pulse up` (every role, the database and the embedded broker), sorted. */
export const UP_COMPONENTS = [
  'api',
  'broker',
  'bus',
  'database',
  'delivery',
  'dispatcher',
  'evaluator',
  'ingest',
  'provision',
];

/** A threshold rule "temp_c > 30", severity 3, no duration or hysteresis, with overrides. */
export function thresholdRule(overrides: Partial<Rule> = {}): Rule {
  return {
    rule_id: 'r1',
    tenant_id: 't',
    name: 'High temp',
    metric_name: 'temp_c',
    operator: 'GT',
    threshold: 30,
    values: null,
    geofence: null,
    severity: 3,
    site_ids: null,
    selector: null,
    duration_seconds: 0,
    hysteresis: 0,
    ...overrides,
  };
}
