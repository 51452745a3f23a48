// FailureLimit (src/lib/failure-limit.ts): slots taken before an attempt, given back on success.
import { describe, expect, it } from 'vitest';
import { FailureLimit } from '../../src/lib/failure-limit.js';

describe('FailureLimit', () => {
  it('lets `limit` attempts be in flight at once, then says how long to wait', () => {
    const limit = new FailureLimit(3, 300); // one slot back every 100 s
    const now = 1_000_000;
    expect([1, 2, 3].map(() => limit.reserve(['k'], now))).toEqual([undefined, undefined, undefined]);
    expect(limit.reserve(['k'], now)).toBe(100);
    expect(limit.reserve(['other'], now)).toBeUndefined();
    expect(limit.reserve(['k'], now + 100_000)).toBeUndefined();
  });

  it('gives a succeeded attempt its slot back, so only failures count', () => {
    const limit = new FailureLimit(2, 600);
    for (let i = 0; i < 10; i += 1) {
      expect(limit.reserve(['k'], 0)).toBeUndefined();
      limit.succeeded(['k'], 0);
    }
    expect(limit.reserve(['k'], 0)).toBeUndefined();
    expect(limit.reserve(['k'], 0)).toBeUndefined();
    expect(limit.reserve(['k'], 0)).toBe(300);
  });

  it('takes nothing from any key when one of them is exhausted', () => {
    const limit = new FailureLimit(1, 60);
    expect(limit.reserve(['a'], 0)).toBeUndefined();
    expect(limit.reserve(['b', 'a'], 0)).toBe(60);
    expect(limit.reserve(['b'], 0)).toBeUndefined(); // b was not charged above
  });
});
