// Applies the engine's decisions to the database in batches (every flushMs), in one transaction per
// batch, and announces committed alert changes on the bus. A failed batch is kept and retried.
import type { Logger } from 'pino';
import type { AlertEvent, Bus } from '../bus/index.js';
import type { Database, ServiceTx } from '../db/database.js';
import type { AlertOpen, DeviceState, Effects } from './engine.js';

type AlertOp = { kind: 'open'; alert: AlertOpen } | { kind: 'close'; tenant_id: string; fingerprint: string };

interface RuleStateRow {
  tenant_id: string;
  rule_id: string;
  device_id: string;
  violating_since: Date | null;
}

export class EvaluatorStore implements Effects {
  private devices = new Map<string, DeviceState>();
  private alertOps: AlertOp[] = [];
  private ruleStates = new Map<string, RuleStateRow>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;
  readonly stats = { flushes: 0, failures: 0, lastFlushMs: 0 };

  constructor(
    private readonly db: Database,
    private readonly bus: Bus,
    private readonly log: Logger,
    flushMs = 200,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  deviceChanged(device: DeviceState): void {
    this.devices.set(`${device.tenant_id}\u0000${device.device_id}`, { ...device });
  }

  openAlert(alert: AlertOpen): void {
    // Repeated updates of one open alert within a batch collapse into the last one.
    const last = this.alertOps.at(-1);
    if (
      last?.kind === 'open' &&
      last.alert.tenant_id === alert.tenant_id &&
      last.alert.fingerprint === alert.fingerprint
    ) {
      last.alert = alert;
      return;
    }
    this.alertOps.push({ kind: 'open', alert });
  }

  closeAlert(tenantId: string, fingerprint: string): void {
    this.alertOps.push({ kind: 'close', tenant_id: tenantId, fingerprint });
  }

  ruleStateChanged(tenantId: string, ruleId: string, deviceId: string, violatingSince: Date | null): void {
    this.ruleStates.set(`${tenantId}\u0000${ruleId}\u0000${deviceId}`, {
      tenant_id: tenantId,
      rule_id: ruleId,
      device_id: deviceId,
      violating_since: violatingSince,
    });
  }

  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.devices.size === 0 && this.alertOps.length === 0 && this.ruleStates.size === 0) return Promise.resolve();
    const devices = [...this.devices.values()];
    const ops = this.alertOps;
    const ruleStates = [...this.ruleStates.values()];
    this.devices = new Map();
    this.alertOps = [];
    this.ruleStates = new Map();
    const started = performance.now();
    this.flushing = this.db
      .withService(async (tx) => {
        await upsertDeviceStates(tx, devices);
        await saveRuleStates(tx, ruleStates);
        const events: AlertEvent[] = [];
        for (const op of ops) {
          const event =
            op.kind === 'open' ? await upsertAlert(tx, op.alert) : await closeAlert(tx, op.tenant_id, op.fingerprint);
          if (event) events.push(event);
        }
        return events;
      })
      .then(
        (events) => {
          this.stats.flushes += 1;
          this.stats.lastFlushMs = Math.round(performance.now() - started);
          for (const event of events) this.bus.publish('alert.changed', event);
        },
        (error: unknown) => {
          this.stats.failures += 1;
          this.log.warn({ err: error }, 'could not save evaluator state; retrying');
          // Keep everything for the next attempt; newer device states win.
          for (const device of devices) {
            const deviceKey = `${device.tenant_id}\u0000${device.device_id}`;
            if (!this.devices.has(deviceKey)) this.devices.set(deviceKey, device);
          }
          this.alertOps = [...ops, ...this.alertOps];
          for (const row of ruleStates) {
            const stateKey = `${row.tenant_id}\u0000${row.rule_id}\u0000${row.device_id}`;
            if (!this.ruleStates.has(stateKey)) this.ruleStates.set(stateKey, row);
          }
        },
      )
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    await this.flush(); // what arrived during the last one
  }
}

async function upsertDeviceStates(tx: ServiceTx, devices: DeviceState[]): Promise<void> {
  if (devices.length === 0) return;
  await tx.query(
    `INSERT INTO device_state (tenant_id, site_id, device_id, status, last_heartbeat_at, last_telemetry_at,
                               last_seen_at, last_state_change_at, state)
     SELECT d.tenant_id, d.site_id, d.device_id, d.status, d.last_heartbeat_at, d.last_telemetry_at,
            d.last_seen_at, d.last_state_change_at, d.state
     FROM jsonb_to_recordset($1::jsonb) AS d(tenant_id text, site_id text, device_id text, status text,
       last_heartbeat_at timestamptz, last_telemetry_at timestamptz, last_seen_at timestamptz,
       last_state_change_at timestamptz, state jsonb)
     ON CONFLICT (tenant_id, device_id) DO UPDATE SET
       site_id = EXCLUDED.site_id, status = EXCLUDED.status, last_heartbeat_at = EXCLUDED.last_heartbeat_at,
       last_telemetry_at = EXCLUDED.last_telemetry_at, last_seen_at = EXCLUDED.last_seen_at,
       last_state_change_at = EXCLUDED.last_state_change_at, state = EXCLUDED.state`,
    [JSON.stringify(devices)],
  );
}

async function saveRuleStates(tx: ServiceTx, rows: RuleStateRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO alert_rule_state (tenant_id, rule_id, device_id, violating_since)
     SELECT r.tenant_id, r.rule_id, r.device_id, r.violating_since
     FROM jsonb_to_recordset($1::jsonb) AS r(tenant_id text, rule_id text, device_id text, violating_since timestamptz)
     ON CONFLICT (tenant_id, rule_id, device_id) DO UPDATE SET violating_since = EXCLUDED.violating_since`,
    [JSON.stringify(rows)],
  );
}

/** At most one active alert per (tenant, fingerprint): a repeat updates it (reference semantics). */
async function upsertAlert(tx: ServiceTx, alert: AlertOpen): Promise<AlertEvent> {
  const { rows } = await tx.query<{ id: number; inserted: boolean }>(
    `INSERT INTO fleet_alert (tenant_id, site_id, device_id, alert_type, fingerprint, status, severity, confidence, summary, details)
     VALUES ($1, $2, $3, $4, $5, 'OPEN', $6, $7, $8, $9)
     ON CONFLICT (tenant_id, fingerprint) WHERE status <> 'CLOSED' DO UPDATE SET
       severity = EXCLUDED.severity, confidence = EXCLUDED.confidence, summary = EXCLUDED.summary,
       details = EXCLUDED.details, updated_at = now()
     RETURNING id, (xmax = 0) AS inserted`,
    [
      alert.tenant_id,
      alert.site_id,
      alert.device_id,
      alert.alert_type,
      alert.fingerprint,
      alert.severity,
      alert.confidence,
      alert.summary,
      JSON.stringify(alert.details),
    ],
  );
  const row = rows[0]!;
  return {
    event: row.inserted ? 'OPENED' : 'UPDATED',
    alert_id: row.id,
    tenant_id: alert.tenant_id,
    fingerprint: alert.fingerprint,
  };
}

async function closeAlert(tx: ServiceTx, tenantId: string, fingerprint: string): Promise<AlertEvent | undefined> {
  const { rows } = await tx.query<{ id: number }>(
    `UPDATE fleet_alert SET status = 'CLOSED', closed_at = now(), updated_at = now()
     WHERE tenant_id = $1 AND fingerprint = $2 AND status <> 'CLOSED' RETURNING id`,
    [tenantId, fingerprint],
  );
  const row = rows[0];
  return row ? { event: 'CLOSED', alert_id: row.id, tenant_id: tenantId, fingerprint } : undefined;
}
