// The evaluator's state machine, in memory and free of I/O: devices' last signs of life and latest
// metrics, stale deadlines, rule states and which alerts are open. It decides; the store writes.

import {
  evaluateReading,
  ruleReading,
  ruleFingerprint,
  staleFingerprint,
  thresholdDetails,
  thresholdSummary,
  type RuleState,
} from './rules.js';
import { StaleTimers } from './stale-timers.js';
import type { AcceptedMessage, Metrics } from '../contracts/messages.js';
import type { Rule } from '../model/rules.js';
import type { AlertOpen } from '../model/alerts.js';
import type { DeviceState, DeviceStatus } from '../model/device-state.js';

/** What the engine decided; the store applies it to the database in batches. */
/** Message times that count as a sign of life: after `after`, up to `until`. */
export interface SeenWindow {
  after: Date;
  until: Date;
}

export interface Effects {
  deviceChanged(device: DeviceState): void;
  /**
   * Opens (or updates) an alert. With `unlessSeen` (NO_HEARTBEAT), the store first looks for a message of
   * the device stored with a time in that window and, if there is one, opens nothing and reports it back
   * (storedSignOfLife): the bus may bring a stored message after the deadline it meets. The window ends at
   * the decision's now: a message stamped ahead (clock skew) would otherwise count again at every deadline.
   */
  openAlert(alert: AlertOpen, unlessSeen?: SeenWindow): void;
  closeAlert(tenantId: string, fingerprint: string): void;
  ruleStateChanged(tenantId: string, ruleId: string, deviceId: string, violatingSince: Date | null): void;
}

export interface EngineCounters {
  rules_evaluated: number;
  alerts_opened: number;
  alerts_closed: number;
  evaluation_errors: number;
}

const key = (tenantId: string, deviceId: string) => `${tenantId}\u0000${deviceId}`;
const ruleKey = (tenantId: string, ruleId: string) => `${tenantId}\u0000${ruleId}`;

export class EvaluatorEngine {
  private readonly devices = new Map<string, DeviceState>();
  private readonly rulesByTenant = new Map<string, Rule[]>();
  /** Rules by tenant and site (site-filtered rules under each of their sites, the others under ''). */
  private readonly ruleIndex = new Map<string, Map<string, Rule[]>>();
  /** Each rule's states by device, under ruleKey(tenant, rule): a rule's devices are found without a scan. */
  private readonly ruleStates = new Map<string, Map<string, RuleState>>();
  /** Open alerts: key(tenant, fingerprint) → the device they are about. */
  private readonly openFingerprints = new Map<string, string>();
  readonly timers: StaleTimers;
  readonly counters: EngineCounters = { rules_evaluated: 0, alerts_opened: 0, alerts_closed: 0, evaluation_errors: 0 };

  constructor(
    private readonly effects: Effects,
    private readonly staleMs: number,
    private readonly now: () => number = Date.now,
    private readonly onError: (error: unknown, context: Record<string, unknown>) => void = () => undefined,
  ) {
    this.timers = new StaleTimers((deviceKey) => this.expire(deviceKey), now);
  }

  /**
   * Restores what the database knows (at start, or for partitions taken over from another instance):
   * devices, open alerts, rules and their states. Deadlines that passed meanwhile fire at `notBeforeMs`
   * at the earliest: until then, messages of those devices may still be on their way.
   */
  restore(
    input: {
      devices: DeviceState[];
      openAlerts: { tenant_id: string; device_id: string; fingerprint: string }[];
      rules?: Rule[];
      ruleStates: { tenant_id: string; rule_id: string; device_id: string; violating_since: Date | null }[];
    },
    notBeforeMs = 0,
  ): void {
    for (const alert of input.openAlerts) {
      this.openFingerprints.set(key(alert.tenant_id, alert.fingerprint), alert.device_id);
    }
    const byTenant = new Map<string, Rule[]>();
    for (const rule of input.rules ?? []) byTenant.set(rule.tenant_id, [...(byTenant.get(rule.tenant_id) ?? []), rule]);
    for (const [tenantId, rules] of byTenant) this.indexRules(tenantId, rules);
    for (const row of input.ruleStates) {
      this.statesOf(row.tenant_id, row.rule_id).set(row.device_id, {
        violatingSince: row.violating_since?.getTime() ?? null,
        alertOpen: this.openFingerprints.has(key(row.tenant_id, ruleFingerprint(row.rule_id, row.device_id))),
      });
    }
    for (const device of input.devices) {
      this.devices.set(key(device.tenant_id, device.device_id), device);
      if (device.status !== 'REVOKED' && device.last_seen_at) {
        // Deadlines already past fire on the next tick: a device that went silent while Pulse was down
        // is marked STALE (its alert opens once, thanks to the open-alert index).
        const deadline = device.last_seen_at.getTime() + this.staleMs;
        this.timers.arm(key(device.tenant_id, device.device_id), Math.max(deadline, notBeforeMs));
      }
    }
  }

  /** Drops the devices another instance now evaluates: their timers, rule states and open alerts. */
  forget(isGone: (tenantId: string, deviceId: string) => boolean): void {
    for (const [deviceKey, device] of this.devices) {
      if (!isGone(device.tenant_id, device.device_id)) continue;
      this.devices.delete(deviceKey);
      this.timers.cancel(deviceKey);
    }
    for (const [alertKey, deviceId] of this.openFingerprints) {
      if (isGone(alertKey.slice(0, alertKey.indexOf('\u0000')), deviceId)) this.openFingerprints.delete(alertKey);
    }
    for (const [stateKey, states] of this.ruleStates) {
      const tenantId = stateKey.slice(0, stateKey.indexOf('\u0000'));
      for (const deviceId of states.keys()) if (isGone(tenantId, deviceId)) states.delete(deviceId);
      if (states.size === 0) this.ruleStates.delete(stateKey);
    }
  }

  get deviceCount(): number {
    return this.devices.size;
  }

  device(tenantId: string, deviceId: string): DeviceState | undefined {
    return this.devices.get(key(tenantId, deviceId));
  }

  onMessages(messages: AcceptedMessage[]): void {
    for (const message of messages) {
      try {
        this.onMessage(message);
      } catch (error) {
        this.counters.evaluation_errors += 1;
        this.onError(error, { tenant_id: message.tenant_id, device_id: message.device_id });
      }
    }
  }

  /**
   * Replaces a tenant's enabled rules; alerts of rules that are gone or disabled close, and so do those of
   * devices a rule's selector no longer picks.
   */
  setRules(tenantId: string, rules: Rule[]): void {
    const kept = new Map(rules.map((rule) => [rule.rule_id, rule]));
    for (const previous of this.rulesFor(tenantId)) {
      const rule = kept.get(previous.rule_id);
      if (rule && !rule.selector) continue;
      const states = this.ruleStates.get(ruleKey(tenantId, previous.rule_id));
      for (const [deviceId, state] of states ?? []) {
        if (rule?.members?.has(deviceId)) continue;
        if (state.alertOpen) this.close(tenantId, ruleFingerprint(previous.rule_id, deviceId));
        states!.delete(deviceId);
        this.effects.ruleStateChanged(tenantId, previous.rule_id, deviceId, null);
      }
      if (states?.size === 0) this.ruleStates.delete(ruleKey(tenantId, previous.rule_id));
    }
    this.indexRules(tenantId, rules);
  }

  tenantsWithRules(): string[] {
    return [...this.rulesByTenant.keys()];
  }

  /** The registry says the device is revoked (or active again). */
  setRevoked(tenantId: string, deviceId: string, revoked: boolean): void {
    const device = this.devices.get(key(tenantId, deviceId));
    if (!device) return;
    if (revoked) {
      this.timers.cancel(key(tenantId, deviceId));
      this.close(tenantId, staleFingerprint(deviceId));
      this.setStatus(device, 'REVOKED');
    } else if (device.status === 'REVOKED') {
      this.setStatus(device, 'STALE');
    } else {
      return;
    }
    this.effects.deviceChanged(device);
  }

  /**
   * An alert was closed outside the engine (by hand, through the API). If its condition still holds, the
   * next evaluation opens a new one: a rule's next violating reading does, and a silent device's deadline
   * is re-armed to fire at once.
   */
  alertClosed(tenantId: string, fingerprint: string): void {
    this.openFingerprints.delete(key(tenantId, fingerprint));
    const staleDeviceId = fingerprint.startsWith(STALE_PREFIX) ? fingerprint.slice(STALE_PREFIX.length) : undefined;
    if (staleDeviceId === undefined) return;
    const device = this.devices.get(key(tenantId, staleDeviceId));
    if (device?.status === 'STALE') this.timers.arm(key(tenantId, staleDeviceId), this.now());
  }

  stop(): void {
    this.timers.stop();
  }

  private onMessage(message: AcceptedMessage): void {
    const nowMs = this.now();
    const deviceKey = key(message.tenant_id, message.device_id);
    // A device clock ahead of ours (within the allowed skew) must not push its deadline out.
    const seenAt = new Date(Math.min(message.time.getTime(), nowMs));
    let device = this.devices.get(deviceKey);
    if (!device) {
      device = {
        tenant_id: message.tenant_id,
        device_id: message.device_id,
        site_id: message.site_id,
        status: 'STALE',
        last_heartbeat_at: null,
        last_telemetry_at: null,
        last_seen_at: null,
        last_state_change_at: new Date(nowMs),
        state: {},
      };
      this.devices.set(deviceKey, device);
    }
    device.site_id = message.site_id;
    // A reading older than the latest (two ingest instances raced, or it came again after a handover)
    // is still evaluated — the violation happened — but it does not replace the latest metrics.
    const isTelemetry = message.msg_type !== 'heartbeat';
    const isOutdated = isTelemetry && device.last_telemetry_at !== null && seenAt < device.last_telemetry_at;
    this.seen(device, seenAt, isTelemetry, nowMs);
    // Heartbeats carry no metrics; "latest metrics" are the latest telemetry's.
    if (isTelemetry && !isOutdated && Object.keys(message.metrics).length > 0) device.state = message.metrics;
    this.effects.deviceChanged(device);
    if (device.status !== 'REVOKED' && isTelemetry) this.evaluateRules(device, message.metrics, nowMs);
  }

  /**
   * The store found a message stored after the device's deadline that the bus has not brought yet: a sign
   * of life like any other (its metrics and rules wait for the message itself).
   */
  storedSignOfLife(tenantId: string, deviceId: string, time: Date, msgType: string): void {
    const device = this.devices.get(key(tenantId, deviceId));
    if (!device) return;
    const nowMs = this.now();
    this.seen(device, new Date(Math.min(time.getTime(), nowMs)), msgType !== 'heartbeat', nowMs);
    this.effects.deviceChanged(device);
  }

  /** A sign of life at seenAt: the device's deadline moves, and it is ONLINE again if that is still ahead. */
  private seen(device: DeviceState, seenAt: Date, isTelemetry: boolean, nowMs: number): void {
    if (isTelemetry) device.last_telemetry_at = maxDate(device.last_telemetry_at, seenAt);
    else device.last_heartbeat_at = maxDate(device.last_heartbeat_at, seenAt);
    device.last_seen_at = maxDate(device.last_seen_at, seenAt);
    if (device.status === 'REVOKED') return;
    // A deadline already past (an old message: the device is still silent) fires on the next tick.
    const deadline = device.last_seen_at.getTime() + this.staleMs;
    this.timers.arm(key(device.tenant_id, device.device_id), deadline);
    if (deadline > nowMs) {
      this.setStatus(device, 'ONLINE');
      this.close(device.tenant_id, staleFingerprint(device.device_id));
    }
  }

  private statesOf(tenantId: string, ruleId: string): Map<string, RuleState> {
    const k = ruleKey(tenantId, ruleId);
    let states = this.ruleStates.get(k);
    if (!states) this.ruleStates.set(k, (states = new Map()));
    return states;
  }

  private evaluateRules(device: DeviceState, metrics: Metrics, nowMs: number): void {
    const index = this.ruleIndex.get(device.tenant_id);
    if (!index) return;
    for (const rules of [index.get(''), index.get(device.site_id)]) {
      for (const rule of rules ?? []) {
        if (!rule.selector || rule.members?.has(device.device_id)) this.evaluateRule(rule, device, metrics, nowMs);
      }
    }
  }

  private evaluateRule(rule: Rule, device: DeviceState, metrics: Metrics, nowMs: number): void {
    const value = ruleReading(rule, metrics);
    if (value === null) return; // no reading: the rule's state stays as it is
    try {
      this.counters.rules_evaluated += 1;
      const states = this.statesOf(device.tenant_id, rule.rule_id);
      const before = states.get(device.device_id) ?? { violatingSince: null, alertOpen: false };
      const { state, action } = evaluateReading(rule, before, value, nowMs);
      states.set(device.device_id, state);
      if (state.violatingSince !== before.violatingSince) {
        const since = state.violatingSince === null ? null : new Date(state.violatingSince);
        this.effects.ruleStateChanged(device.tenant_id, rule.rule_id, device.device_id, since);
      }
      const fingerprint = ruleFingerprint(rule.rule_id, device.device_id);
      if (action === 'open' || action === 'update') {
        this.open({
          tenant_id: device.tenant_id,
          site_id: device.site_id,
          device_id: device.device_id,
          alert_type: 'THRESHOLD',
          fingerprint,
          severity: rule.severity,
          confidence: 1.0,
          summary: thresholdSummary(rule, device.site_id, device.device_id, value),
          details: thresholdDetails(rule, value),
        });
      } else if (action === 'close') {
        this.close(device.tenant_id, fingerprint);
      }
    } catch (error) {
      this.counters.evaluation_errors += 1;
      this.onError(error, { tenant_id: device.tenant_id, device_id: device.device_id, rule_id: rule.rule_id });
    }
  }

  private expire(deviceKey: string): void {
    const device = this.devices.get(deviceKey);
    if (!device || device.status === 'REVOKED' || !device.last_seen_at) return;
    const nowMs = this.now();
    if (device.last_seen_at.getTime() + this.staleMs > nowMs) return; // re-armed meanwhile
    this.setStatus(device, 'STALE');
    this.effects.deviceChanged(device);
    this.open(
      {
        tenant_id: device.tenant_id,
        site_id: device.site_id,
        device_id: device.device_id,
        alert_type: 'NO_HEARTBEAT',
        fingerprint: staleFingerprint(device.device_id),
        severity: 4,
        confidence: 0.9,
        summary: `${device.site_id}: ${device.device_id} heartbeat missing/stale`,
        details: {
          last_heartbeat_at: device.last_heartbeat_at?.toISOString() ?? null,
          last_seen_at: device.last_seen_at.toISOString(),
        },
      },
      // A message stored in time but not yet brought by the bus must keep this alert from opening.
      { after: new Date(nowMs - this.staleMs), until: new Date(nowMs) },
    );
  }

  private open(alert: Omit<AlertOpen, 'isNew'>, unlessSeen?: SeenWindow): void {
    const alertKey = key(alert.tenant_id, alert.fingerprint);
    const isNew = !this.openFingerprints.has(alertKey);
    if (isNew) this.counters.alerts_opened += 1;
    this.openFingerprints.set(alertKey, alert.device_id);
    this.effects.openAlert({ ...alert, isNew }, unlessSeen);
  }

  private close(tenantId: string, fingerprint: string): void {
    if (!this.openFingerprints.delete(key(tenantId, fingerprint))) return;
    this.counters.alerts_closed += 1;
    this.effects.closeAlert(tenantId, fingerprint);
  }

  private setStatus(device: DeviceState, status: DeviceStatus): void {
    if (device.status === status) return;
    device.status = status;
    device.last_state_change_at = new Date(this.now());
  }

  private rulesFor(tenantId: string): Rule[] {
    return this.rulesByTenant.get(tenantId) ?? [];
  }

  /** A message only looks at the rules that can apply to its site: thousands of per-site rules stay cheap. */
  private indexRules(tenantId: string, rules: Rule[]): void {
    this.rulesByTenant.set(tenantId, rules);
    const index = new Map<string, Rule[]>();
    for (const rule of rules) {
      for (const site of rule.site_ids && rule.site_ids.length > 0 ? rule.site_ids : ['']) {
        index.set(site, [...(index.get(site) ?? []), rule]);
      }
    }
    this.ruleIndex.set(tenantId, index);
  }
}

const STALE_PREFIX = staleFingerprint('');

function maxDate(a: Date | null, b: Date): Date {
  return a && a.getTime() > b.getTime() ? a : b;
}
