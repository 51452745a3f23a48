// Applies the engine's decisions to the database in batches (every flushMs), in one transaction per
// batch, and announces committed alert changes on the bus. A failed batch is kept and retried.
// `committed()` tells a caller when what the engine decided so far is in the database (the bus
// acknowledges a stored-message event only then, so a crash before it delivers the event again).
import type { Logger } from 'pino';
import type { Bus } from '../bus/index.js';
import type { Database } from '../db/database.js';
import type { Effects, SeenWindow } from './engine.js';
import type { AlertEvent } from '../contracts/messages.js';
import { closeAlerts, upsertAlerts, type AlertOpen } from '../model/alerts.js';
import { saveRuleStates, type RuleStateRow } from '../model/rules.js';
import { upsertDeviceStates, type DeviceState } from '../model/device-state.js';
import { latestSignsOfLife, type StoredSignOfLife } from '../model/telemetry.js';

type AlertOp =
  | { kind: 'open'; alert: AlertOpen; unlessSeen?: SeenWindow | undefined }
  | { kind: 'close'; tenant_id: string; fingerprint: string };

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
    /** Messages found stored that stopped a NO_HEARTBEAT from opening (told after the batch commits). */
    private readonly onStoredSignsOfLife: (found: StoredSignOfLife[]) => void = () => undefined,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  deviceChanged(device: DeviceState): void {
    this.devices.set(`${device.tenant_id}\u0000${device.device_id}`, { ...device });
  }

  openAlert(alert: AlertOpen, unlessSeen?: SeenWindow): void {
    // Repeated updates of one open alert within a batch collapse into the last one.
    const last = this.alertOps.at(-1);
    if (
      last?.kind === 'open' &&
      last.alert.tenant_id === alert.tenant_id &&
      last.alert.fingerprint === alert.fingerprint
    ) {
      last.alert = { ...alert, isNew: last.alert.isNew || alert.isNew };
      last.unlessSeen = unlessSeen ?? last.unlessSeen;
      return;
    }
    this.alertOps.push({ kind: 'open', alert, unlessSeen });
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
        // Checked in the transaction that would open them, so a message committed before it counts.
        const found = await latestSignsOfLife(
          tx,
          ops.flatMap((op) =>
            op.kind === 'open' && op.unlessSeen
              ? [{ tenant_id: op.alert.tenant_id, device_id: op.alert.device_id, ...op.unlessSeen }]
              : [],
          ),
        );
        const alive = new Set(found.map((row) => `${row.tenant_id}\u0000${row.device_id}`));
        const isAlive = (tenantId: string, deviceId: string) => alive.has(`${tenantId}\u0000${deviceId}`);
        // Their STALE state is not written either: the engine makes them ONLINE again once told.
        await upsertDeviceStates(
          tx,
          devices.filter((device) => device.status !== 'STALE' || !isAlive(device.tenant_id, device.device_id)),
        );
        await saveRuleStates(tx, ruleStates);
        const events: AlertEvent[] = [];
        let duplicateOpens = 0;
        const due = ops.filter(
          (op) => op.kind !== 'open' || !op.unlessSeen || !isAlive(op.alert.tenant_id, op.alert.device_id),
        );
        for (const layer of layers(due)) {
          const opened = await upsertAlerts(tx, layer.opens);
          duplicateOpens += opened.duplicates;
          events.push(...opened.events, ...(await closeAlerts(tx, layer.closes)));
        }
        return { events, duplicateOpens, found };
      })
      .then(
        ({ events, duplicateOpens, found }) => {
          this.stats.flushes += 1;
          this.stats.duplicateOpens += duplicateOpens;
          this.stats.lastFlushMs = Math.round(performance.now() - started);
          for (const event of events) this.bus.publish('alert.changed', event);
          if (found.length > 0) this.onStoredSignsOfLife(found);
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
