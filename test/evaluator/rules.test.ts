import { describe, expect, it } from 'vitest';
import {
  evaluateReading,
  metricValue,
  ruleReading,
  thresholdSummary,
  type Reading,
  type RuleState,
} from '../../src/evaluator/rules.js';
import { geofenceProblem, haversineMeters, signedDistance } from '../../src/model/geofence.js';
import { thresholdRule } from '../helpers/fixtures.js';
import type { Rule } from '../../src/model/rules.js';

const rule = thresholdRule;
const idle: RuleState = { violatingSince: null, alertOpen: false };

/** Feeds readings (value, at seconds) and returns the actions. */
function run(r: Rule, readings: [number, number][]): string[] {
  let state = idle;
  return readings.map(([value, at]) => {
    const result = evaluateReading(r, state, value, at * 1000);
    state = result.state;
    return result.action;
  });
}

describe('threshold rules', () => {
  it.each([
    ['GT', 31, true],
    ['GT', 30, false],
    ['GTE', 30, true],
    ['LT', 29, true],
    ['LT', 30, false],
    ['LTE', 30, true],
  ] as const)('%s 30 with %d opens: %s', (operator, value, opens) => {
    expect(run(rule({ operator }), [[value, 0]])).toEqual([opens ? 'open' : 'none']);
  });

  it('opens once, updates while violating, closes when normal, re-opens later', () => {
    expect(
      run(rule(), [
        [31, 0],
        [35, 1],
        [20, 2],
        [31, 3],
      ]),
    ).toEqual(['open', 'update', 'close', 'open']);
  });

  it('waits duration_seconds of uninterrupted violation before opening', () => {
    expect(
      run(rule({ duration_seconds: 10 }), [
        [31, 0],
        [31, 5],
        [31, 10],
      ]),
    ).toEqual(['none', 'none', 'open']);
    expect(
      run(rule({ duration_seconds: 10 }), [
        [31, 0],
        [25, 5],
        [31, 6],
        [31, 12],
        [31, 16],
      ]),
    ).toEqual(['none', 'none', 'none', 'none', 'open']);
  });

  it('closes only once the value is back past threshold minus hysteresis (GT) or plus it (LT)', () => {
    expect(
      run(rule({ hysteresis: 2 }), [
        [31, 0],
        [29, 1],
        [28.5, 2],
        [28, 3],
      ]),
    ).toEqual(['open', 'none', 'none', 'close']);
    expect(
      run(rule({ operator: 'LT', threshold: 10, hysteresis: 1 }), [
        [9, 0],
        [10.5, 1],
        [11, 2],
      ]),
    ).toEqual(['open', 'none', 'close']);
  });

  it('reads booleans as 1/0 and ignores what is not a number', () => {
    expect(metricValue({ a: true, b: false, c: 2.5, d: 'x' }, 'a')).toBe(1);
    expect(metricValue({ b: false }, 'b')).toBe(0);
    expect(metricValue({ c: 2.5 }, 'c')).toBe(2.5);
    expect(metricValue({}, 'c')).toBeNull();
  });

  it('summarises as the wire contract says', () => {
    expect(
      thresholdSummary(rule({ threshold: 25, operator: 'LT', metric_name: 'battery_pct' }), 'lab-1', 'd1', 20.5),
    ).toBe('lab-1: d1 battery_pct (20.5) < 25.0');
  });
});

/** Feeds readings of any kind (value, at seconds) and returns the actions. */
function runReadings(r: Rule, readings: [Reading, number][]): string[] {
  let state = idle;
  return readings.map(([value, at]) => {
    const result = evaluateReading(r, state, value, at * 1000);
    state = result.state;
    return result.action;
  });
}

describe('text rules', () => {
  const door = rule({ metric_name: 'door', operator: 'EQ', values: ['open'], duration_seconds: 60 });

  it('opens when the state has matched for the duration and closes as soon as it does not', () => {
    expect(
      runReadings(door, [
        ['open', 0],
        ['open', 30],
        ['closed', 40],
        ['open', 50],
        ['open', 110],
        ['open', 120],
        ['closed', 130],
      ]),
    ).toEqual(['none', 'none', 'none', 'none', 'open', 'update', 'close']);
    expect(
      runReadings(rule({ metric_name: 'mode', operator: 'NE', values: ['RUN'] }), [
        ['RUN', 0],
        ['DEFROST', 1],
        ['RUN', 2],
      ]),
    ).toEqual(['none', 'open', 'close']);
    expect(
      runReadings(rule({ operator: 'IN', values: ['E1', 'E7'] }), [
        ['E7', 0],
        ['E2', 1],
      ]),
    ).toEqual(['open', 'close']);
  });

  it('reads only the kind of value the rule is for', () => {
    expect(ruleReading(door, { door: 'open' })).toBe('open');
    expect(ruleReading(door, { door: 1 })).toBeNull();
    expect(ruleReading(rule(), { temp_c: 'hot' })).toBeNull();
    const fence = rule({
      metric_name: 'position',
      operator: 'OUTSIDE',
      geofence: { type: 'circle', lat: 0, lon: 0, radius_m: 1 },
    });
    expect(ruleReading(fence, { position: { lat: 1, lon: 2 } })).toEqual({ lat: 1, lon: 2 });
    expect(ruleReading(fence, { position: { lat: 100, lon: 2 } })).toBeNull();
    expect(thresholdSummary(door, 's1', 'd1', 'open')).toBe('s1: d1 door (open) == open');
  });
});

describe('geofence rules', () => {
  // A depot: 1 km around Amsterdam Centraal. 0.009° of latitude is about 1 km.
  const depot = { type: 'circle' as const, lat: 52.3791, lon: 4.9003, radius_m: 1000 };
  const north = (km: number) => ({ lat: depot.lat + 0.009 * km, lon: depot.lon });

  it('measures how far a position is from the edge of a circle and of a polygon', () => {
    expect(haversineMeters({ lat: 0, lon: 0 }, { lat: 1, lon: 0 })).toBeCloseTo(111_195, -1);
    expect(signedDistance(depot, north(0))).toBeCloseTo(-1000, 0);
    expect(signedDistance(depot, north(2))).toBeGreaterThan(990);
    const square = {
      type: 'polygon' as const,
      points: [
        [0, 0],
        [0, 0.01],
        [0.01, 0.01],
        [0.01, 0],
      ] as [number, number][],
    };
    expect(signedDistance(square, { lat: 0.005, lon: 0.005 })).toBeCloseTo(-556, -1);
    expect(signedDistance(square, { lat: 0.02, lon: 0.005 })).toBeCloseTo(1112, -1);
    expect(geofenceProblem(square)).toBeUndefined();
    expect(
      geofenceProblem({
        type: 'polygon',
        points: [
          [0, 0],
          [1, 1],
        ],
      }),
    ).toMatch(/3 to 500 points/);
    expect(geofenceProblem({ type: 'circle', lat: 0, lon: 0, radius_m: -5 })).toMatch(/radius_m/);
    expect(geofenceProblem({ type: 'square' })).toMatch(/must be/);
  });

  it('opens when a device leaves, and closes only once it is back past the hysteresis', () => {
    const leaves = rule({ metric_name: 'position', operator: 'OUTSIDE', geofence: depot, hysteresis: 200 });
    expect(
      runReadings(leaves, [
        [north(0.5), 0],
        [north(1.1), 10],
        [north(0.9), 20],
        [north(0.7), 30],
      ]),
    ).toEqual(['none', 'open', 'none', 'close']);
    const enters = rule({ metric_name: 'position', operator: 'INSIDE', geofence: depot, duration_seconds: 5 });
    expect(
      runReadings(enters, [
        [north(3), 0],
        [north(0.5), 10],
        [north(0.4), 16],
        [north(1.01), 20],
      ]),
    ).toEqual(['none', 'none', 'open', 'close']);
  });
});
