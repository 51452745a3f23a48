// Applies the engine's decisions to the database in batches (every flushMs), in one transaction per
// batch, and announces committed alert changes on the bus. A failed batch is kept and retried.
// `committed()` tells a caller when what the engine decided so far is in the database (the bus
// acknowledges a stored-message event only then, so a crash before it delivers the event again).
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
  private waiters: (() => void)[] = [];
  private flushScheduled = false;
  /** duplicateOpens: alerts the engine opened that the database already held open (another instance did). */
  readonly stats = { flushes: 0, failures: 0, lastFlushMs: 0, duplicateOpens: 0 };

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
      last.alert = { ...alert, isNew: last.alert.isNew || alert.isNew };
      return;
    }
    this.alertOps.push({ kind: 'open', alert });
    this.flushSoon();
  }

  closeAlert(tenantId: string, fingerprint: string): void {
    this.alertOps.push({ kind: 'close', tenant_id: tenantId, fingerprint });
    this.flushSoon();
  }

  /**
   * Alert changes are rare and someone waits for them: they go out on the next turn instead of waiting
   * for the timer that batches device states (during a flush, right after it, see flush()).
   */
  private flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  ruleStateChanged(tenantId: string, ruleId: string, deviceId: string, violatingSince: Date | null): void {
    this.ruleStates.set(`${tenantId}\u0000${ruleId}\u0000${deviceId}`, {
      tenant_id: tenantId,
      rule_id: ruleId,
      device_id: deviceId,
      violating_since: violatingSince,
    });
  }

  /** Resolves once everything decided until now is committed (by a flush that starts after this call). */
  committed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    const waiters = this.waiters;
    this.waiters = [];
    if (this.devices.size === 0 && this.alertOps.length === 0 && this.ruleStates.size === 0) {
      for (const resolve of waiters) resolve();
      return Promise.resolve();
    }
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
        let duplicateOpens = 0;
        for (const layer of layers(ops)) {
          const opened = await upsertAlerts(tx, layer.opens);
          duplicateOpens += opened.duplicates;
          events.push(...opened.events, ...(await closeAlerts(tx, layer.closes)));
        }
        return { events, duplicateOpens };
      })
      .then(
        ({ events, duplicateOpens }) => {
          this.stats.flushes += 1;
          this.stats.duplicateOpens += duplicateOpens;
          this.stats.lastFlushMs = Math.round(performance.now() - started);
          for (const event of events) this.bus.publish('alert.changed', event);
          for (const resolve of waiters) resolve();
          if (this.alertOps.length > 0) this.flushSoon(); // decided during this flush
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
          this.waiters = [...waiters, ...this.waiters];
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

/**
 * Splits alert operations into layers in which each fingerprint occurs once, keeping the order of the
 * operations on any one fingerprint: each layer is then two multi-row statements.
 */
function layers(ops: AlertOp[]): { opens: AlertOpen[]; closes: { tenant_id: string; fingerprint: string }[] }[] {
  const result: { opens: AlertOpen[]; closes: { tenant_id: string; fingerprint: string }[] }[] = [];
  const depth = new Map<string, number>();
  for (const op of ops) {
    const tenantId = op.kind === 'open' ? op.alert.tenant_id : op.tenant_id;
    const fingerprint = op.kind === 'open' ? op.alert.fingerprint : op.fingerprint;
    const opKey = `${tenantId}\u0000${fingerprint}`;
    const level = depth.get(opKey) ?? 0;
    depth.set(opKey, level + 1);
    const layer = (result[level] ??= { opens: [], closes: [] });
    if (op.kind === 'open') layer.opens.push(op.alert);
    else layer.closes.push({ tenant_id: tenantId, fingerprint });
  }
  return result;
}

/**
 * At most one active alert per (tenant, fingerprint): a repeat updates it (reference semantics). An alert
 * the engine took for new that was already open is a duplicate attempt (two owners of one device during
 * a partition handover); the unique index turns it into an update, and it is counted.
 */
async function upsertAlerts(tx: ServiceTx, alerts: AlertOpen[]): Promise<{ events: AlertEvent[]; duplicates: number }> {
  if (alerts.length === 0) return { events: [], duplicates: 0 };
  const { rows } = await tx.query<{ id: number; inserted: boolean; tenant_id: string; fingerprint: string }>(
    `INSERT INTO fleet_alert (tenant_id, site_id, device_id, alert_type, fingerprint, status, severity, confidence, summary, details)
     SELECT a.tenant_id, a.site_id, a.device_id, a.alert_type, a.fingerprint, 'OPEN', a.severity, a.confidence, a.summary, a.details
     FROM jsonb_to_recordset($1::jsonb) AS a(tenant_id text, site_id text, device_id text, alert_type text, fingerprint text,
       severity integer, confidence double precision, summary text, details jsonb)
     ON CONFLICT (tenant_id, fingerprint) WHERE status <> 'CLOSED' DO UPDATE SET
       severity = EXCLUDED.severity, confidence = EXCLUDED.confidence, summary = EXCLUDED.summary,
       details = EXCLUDED.details, updated_at = now()
     RETURNING id, (xmax = 0) AS inserted, tenant_id, fingerprint`,
    [JSON.stringify(alerts)],
  );
  const isNew = new Set(alerts.filter((a) => a.isNew).map((a) => `${a.tenant_id}\u0000${a.fingerprint}`));
  return {
    events: rows.map((row) => ({
      event: row.inserted ? 'OPENED' : 'UPDATED',
      alert_id: row.id,
      tenant_id: row.tenant_id,
      fingerprint: row.fingerprint,
    })),
    duplicates: rows.filter((row) => !row.inserted && isNew.has(`${row.tenant_id}\u0000${row.fingerprint}`)).length,
  };
}

async function closeAlerts(tx: ServiceTx, closes: { tenant_id: string; fingerprint: string }[]): Promise<AlertEvent[]> {
  if (closes.length === 0) return [];
  const { rows } = await tx.query<{ id: number; tenant_id: string; fingerprint: string }>(
    `UPDATE fleet_alert a SET status = 'CLOSED', closed_at = now(), updated_at = now()
     FROM jsonb_to_recordset($1::jsonb) AS c(tenant_id text, fingerprint text)
     WHERE a.tenant_id = c.tenant_id AND a.fingerprint = c.fingerprint AND a.status <> 'CLOSED'
     RETURNING a.id, a.tenant_id, a.fingerprint`,
    [JSON.stringify(closes)],
  );
  return rows.map((row) => ({
    event: 'CLOSED',
    alert_id: row.id,
    tenant_id: row.tenant_id,
    fingerprint: row.fingerprint,
  }));
}
