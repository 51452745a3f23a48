import { afterEach, describe, expect, it } from 'vitest';
import { EvaluatorEngine } from '../../src/evaluator/engine.js';
import { thresholdRule } from '../helpers/fixtures.js';
import type { AcceptedMessage } from '../../src/contracts/messages.js';
import type { AlertOpen } from '../../src/model/alerts.js';
import type { DeviceState } from '../../src/model/device-state.js';
import type { Rule } from '../../src/model/rules.js';

const RULE = thresholdRule();

function setup() {
  let now = 1_000_000;
  const opened: AlertOpen[] = [];
  const closed: string[] = [];
  const devices: DeviceState[] = [];
  const engine = new EvaluatorEngine(
    {
      deviceChanged: (d) => devices.push({ ...d }),
      openAlert: (a) => opened.push(a),
      closeAlert: (_t, fingerprint) => closed.push(fingerprint),
      ruleStateChanged: () => undefined,
    },
    30_000,
    () => now,
  );
  const message = (type: string, metrics: Record<string, number> = {}, device = 'd1'): AcceptedMessage => ({
    time: new Date(now),
    tenant_id: 't',
    device_id: device,
    site_id: 's',
    msg_type: type,
    seq: 0,
    metrics,
  });
  return {
    engine,
    opened,
    closed,
    devices,
    message,
    advance(ms: number) {
      now += ms;
      engine.timers.tick();
    },
  };
}

let current: ReturnType<typeof setup> | undefined;
afterEach(() => current?.engine.stop());

describe('evaluator engine', () => {
  it('a heartbeat makes a device ONLINE; silence past the deadline makes it STALE with one NO_HEARTBEAT alert', () => {
    const t = (current = setup());
    t.engine.onMessages([t.message('heartbeat')]);
    expect(t.engine.device('t', 'd1')?.status).toBe('ONLINE');
    t.advance(29_000);
    expect(t.opened).toEqual([]);
    t.advance(1_100);
    expect(t.engine.device('t', 'd1')?.status).toBe('STALE');
    expect(t.opened).toMatchObject([
      {
        alert_type: 'NO_HEARTBEAT',
        fingerprint: 'NO_HEARTBEAT:d1',
        severity: 4,
        confidence: 0.9,
        summary: 's: d1 heartbeat missing/stale',
      },
    ]);
    t.advance(60_000);
    expect(t.opened).toHaveLength(1);
  });

  it('telemetry is a sign of life too, and the next one closes the NO_HEARTBEAT alert', () => {
    const t = (current = setup());
    t.engine.onMessages([t.message('telemetry', { temp_c: 20 })]);
    t.advance(31_000);
    expect(t.opened).toHaveLength(1);
    t.engine.onMessages([t.message('telemetry', { temp_c: 20 })]);
    expect(t.closed).toEqual(['NO_HEARTBEAT:d1']);
    expect(t.engine.device('t', 'd1')?.status).toBe('ONLINE');
  });

  it('heartbeats never overwrite the latest metrics nor close a threshold alert', () => {
    const t = (current = setup());
    t.engine.setRules('t', [RULE]);
    t.engine.onMessages([t.message('telemetry', { temp_c: 35 }), t.message('heartbeat'), t.message('heartbeat')]);
    expect(t.engine.device('t', 'd1')?.state).toEqual({ temp_c: 35 });
    expect(t.opened.map((a) => a.fingerprint)).toEqual(['RULE:r1:d1']);
    expect(t.closed).toEqual([]);
    t.engine.onMessages([t.message('telemetry', { temp_c: 36 })]);
    expect(t.engine.counters.alerts_opened).toBe(1); // an update, not a second alert
    t.engine.onMessages([t.message('telemetry', { temp_c: 20 })]);
    expect(t.closed).toEqual(['RULE:r1:d1']);
  });

  it('a revoked device is never alerted', () => {
    const t = (current = setup());
    t.engine.onMessages([t.message('heartbeat')]);
    t.engine.setRevoked('t', 'd1', true);
    t.advance(120_000);
    expect(t.opened).toEqual([]);
    expect(t.engine.device('t', 'd1')?.status).toBe('REVOKED');
  });

  it('a device never seen is not alerted', () => {
    const t = (current = setup());
    t.advance(120_000);
    expect(t.opened).toEqual([]);
  });

  it('removing a rule closes its open alerts', () => {
    const t = (current = setup());
    t.engine.setRules('t', [RULE]);
    t.engine.onMessages([t.message('telemetry', { temp_c: 35 }, 'd1'), t.message('telemetry', { temp_c: 35 }, 'd2')]);
    t.engine.setRules('t', []);
    expect(t.closed.sort()).toEqual(['RULE:r1:d1', 'RULE:r1:d2']);
  });

  it('a rule that throws is counted and the other devices are still evaluated', () => {
    const t = (current = setup());
    const broken = { ...RULE, rule_id: 'broken', operator: 'NOPE' } as unknown as Rule;
    t.engine.setRules('t', [broken, RULE]);
    t.engine.onMessages([t.message('telemetry', { temp_c: 35 })]);
    expect(t.opened.map((a) => a.fingerprint)).toEqual(['RULE:r1:d1']);
  });

  it('restores open alerts and deadlines: no duplicate after a restart, and a silent device goes stale', () => {
    const t = (current = setup());
    t.engine.restore({
      devices: [
        {
          tenant_id: 't',
          device_id: 'd1',
          site_id: 's',
          status: 'ONLINE',
          last_heartbeat_at: new Date(1_000_000 - 40_000),
          last_telemetry_at: null,
          last_seen_at: new Date(1_000_000 - 40_000),
          last_state_change_at: new Date(0),
          state: {},
        },
      ],
      openAlerts: [{ tenant_id: 't', device_id: 'd1', fingerprint: 'RULE:r1:d1' }],
      rules: [RULE],
      ruleStates: [{ tenant_id: 't', rule_id: 'r1', device_id: 'd1', violating_since: new Date(1_000_000 - 50_000) }],
    });
    t.advance(200);
    expect(t.opened.map((a) => a.fingerprint)).toEqual(['NO_HEARTBEAT:d1']);
    t.engine.onMessages([t.message('telemetry', { temp_c: 40 })]);
    expect(t.engine.counters.alerts_opened).toBe(1); // RULE:r1:d1 was already open: updated, not re-opened
  });

  it('a device restored with its deadline long past goes stale only after notBefore (its messages may be in flight)', () => {
    const t = (current = setup());
    const silentSince = new Date(1_000_000 - 60_000);
    t.engine.restore(
      {
        devices: [
          {
            tenant_id: 't',
            device_id: 'd1',
            site_id: 's',
            status: 'ONLINE',
            last_heartbeat_at: silentSince,
            last_telemetry_at: null,
            last_seen_at: silentSince,
            last_state_change_at: new Date(0),
            state: {},
          },
        ],
        openAlerts: [],
        ruleStates: [],
      },
      1_000_000 + 5_000,
    );
    t.advance(4_000);
    expect(t.opened).toEqual([]);
    t.advance(1_200);
    expect(t.opened.map((a) => a.fingerprint)).toEqual(['NO_HEARTBEAT:d1']);
  });

  it('forgets the devices another instance took over: no timers, no rule state, no open alert of theirs', () => {
    const t = (current = setup());
    t.engine.setRules('t', [RULE]);
    t.engine.onMessages([t.message('telemetry', { temp_c: 40 }, 'd1'), t.message('telemetry', { temp_c: 40 }, 'd2')]);
    expect(t.opened.map((a) => a.fingerprint).sort()).toEqual(['RULE:r1:d1', 'RULE:r1:d2']);
    expect(t.opened.every((a) => a.isNew)).toBe(true);
    t.engine.forget((_tenant, device) => device === 'd2');
    expect(t.engine.device('t', 'd2')).toBeUndefined();
    expect(t.engine.timers.size).toBe(1);
    t.advance(31_000);
    expect(t.opened.filter((a) => a.alert_type === 'NO_HEARTBEAT').map((a) => a.device_id)).toEqual(['d1']);
    // Taken back later, d2's next violating reading is a new open as far as this engine knows.
    t.engine.onMessages([t.message('telemetry', { temp_c: 40 }, 'd2')]);
    expect(t.opened.at(-1)).toMatchObject({ fingerprint: 'RULE:r1:d2', isNew: true });
  });

  it('a reading older than the latest is evaluated but does not replace the latest metrics', () => {
    const t = (current = setup());
    t.engine.setRules('t', [RULE]);
    const hot = t.message('telemetry', { temp_c: 40 });
    t.advance(1000);
    t.engine.onMessages([t.message('telemetry', { temp_c: 20 })]);
    t.engine.onMessages([hot]); // stored by another ingest instance a moment later
    expect(t.opened.map((a) => a.fingerprint)).toEqual(['RULE:r1:d1']);
    expect(t.engine.device('t', 'd1')?.state).toEqual({ temp_c: 20 });
  });
});
