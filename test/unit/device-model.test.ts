import { describe, expect, it } from 'vitest';
import {
  defaultDeviceModelSettings as settings,
  initialReadings,
  isUplinkDown,
  nextReadings,
  seededRandom,
  telemetryMetrics,
} from '../../src/simulator/device-model.js';
import { SIMULATED_METRIC_NAMES } from '../helpers/fixtures.js';

describe('simulated device', () => {
  it('is reproducible with a seed', () => {
    expect(initialReadings(seededRandom(7))).toEqual(initialReadings(seededRandom(7)));
    expect(initialReadings(seededRandom(7))).not.toEqual(initialReadings(seededRandom(8)));
  });

  it("starts within the original simulator's ranges", () => {
    const random = seededRandom(1);
    for (let i = 0; i < 200; i++) {
      const r = initialReadings(random);
      expect(r.battery_pct).toBeGreaterThanOrEqual(70);
      expect(r.battery_pct).toBeLessThanOrEqual(100);
      expect(r.temp_c).toBeGreaterThanOrEqual(20);
      expect(r.temp_c).toBeLessThanOrEqual(30);
      expect(Number.isInteger(r.rssi_dbm)).toBe(true);
      expect(r.rssi_dbm).toBeGreaterThanOrEqual(-115);
      expect(r.rssi_dbm).toBeLessThanOrEqual(-65);
    }
  });

  it('drains the battery down to the floor, never below, and stays in bounds for a long run', () => {
    const random = seededRandom(3);
    let readings = initialReadings(random);
    const batteries: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      readings = nextReadings(readings, random, { ...settings, rechargeChancePerTelemetry: 0 });
      batteries.push(readings.battery_pct);
      expect(readings.temp_c).toBeGreaterThanOrEqual(10);
      expect(readings.temp_c).toBeLessThanOrEqual(45);
      expect(readings.rssi_dbm).toBeGreaterThanOrEqual(-125);
      expect(readings.rssi_dbm).toBeLessThanOrEqual(-50);
      expect(readings.humidity_pct).toBeLessThanOrEqual(99);
      expect(readings.vibration_g).toBeLessThanOrEqual(15);
    }
    expect(Math.min(...batteries)).toBe(settings.batteryFloor);
    expect(batteries.every((b, i) => i === 0 || b <= batteries[i - 1]!)).toBe(true);
  });

  it('recharges now and then', () => {
    const random = seededRandom(5);
    let readings = { ...initialReadings(random), battery_pct: 50 };
    let recharged = false;
    for (let i = 0; i < 500 && !recharged; i++) {
      const next = nextReadings(readings, random, { ...settings, rechargeChancePerTelemetry: 0.05 });
      recharged = next.battery_pct > readings.battery_pct + 4;
      readings = next;
    }
    expect(recharged).toBe(true);
  });

  it('sends seven numeric metrics and uplink_ok, or four without the extras', () => {
    const readings = initialReadings(seededRandom(2));
    expect(Object.keys(telemetryMetrics(readings, true)).sort()).toEqual(SIMULATED_METRIC_NAMES);
    expect(Object.keys(telemetryMetrics(readings, false))).toHaveLength(5);
    expect(telemetryMetrics(readings, true).uplink_ok).toBe(true);
  });

  it('drops the uplink for duration seconds of every period, staggered by phase', () => {
    const drops = { periodSeconds: 60, durationSeconds: 20 };
    const down = Array.from({ length: 60 }, (_, s) => isUplinkDown(s, 0, drops));
    expect(down.filter(Boolean)).toHaveLength(20);
    expect(isUplinkDown(0, 0, drops)).toBe(true);
    expect(isUplinkDown(0, 30, drops)).toBe(false);
    expect(isUplinkDown(5, 0, { periodSeconds: 0, durationSeconds: 20 })).toBe(false);
  });
});
