import { describe, expect, it } from 'vitest';
import { evaluateReading, metricValue, thresholdSummary, type RuleState } from '../../src/evaluator/rules.js';
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

  it('summarises like the reference', () => {
    expect(
      thresholdSummary(rule({ threshold: 25, operator: 'LT', metric_name: 'battery_pct' }), 'lab-1', 'd1', 20.5),
    ).toBe('lab-1: d1 battery_pct (20.5) < 25.0');
  });
});
