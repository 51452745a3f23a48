import { describe, expect, it } from 'vitest';
import { TokenBuckets } from '../../src/lib/rate-limit.js';

describe('token buckets', () => {
  it('a new key starts with a full burst, then refuses', () => {
    const buckets = new TokenBuckets({ ratePerSecond: 1, burst: 3 });
    expect([1, 2, 3, 4].map(() => buckets.tryTake('a', 0))).toEqual([true, true, true, false]);
  });

  it('refills at the rate and never above the burst', () => {
    const buckets = new TokenBuckets({ ratePerSecond: 2, burst: 2 });
    buckets.tryTake('a', 0);
    buckets.tryTake('a', 0);
    expect(buckets.tryTake('a', 0)).toBe(false);
    expect(buckets.available('a', 500)).toBeCloseTo(1);
    expect(buckets.available('a', 60_000)).toBe(2);
  });

  it('keys are independent', () => {
    const buckets = new TokenBuckets({ ratePerSecond: 0.1, burst: 1 });
    expect(buckets.tryTake('a', 0)).toBe(true);
    expect(buckets.tryTake('a', 0)).toBe(false);
    expect(buckets.tryTake('b', 0)).toBe(true);
  });

  it('tells how long until the next token', () => {
    const buckets = new TokenBuckets({ ratePerSecond: 10 / 600, burst: 10 });
    for (let i = 0; i < 10; i++) buckets.tryTake('ip', 0);
    expect(buckets.secondsUntilToken('ip', 0)).toBe(60);
    expect(buckets.secondsUntilToken('ip', 60_000)).toBe(0);
  });

  it('holds at most maxKeys keys, forgetting the earliest-created first', () => {
    const buckets = new TokenBuckets({ ratePerSecond: 1, burst: 1 }, 3);
    for (const key of ['a', 'b', 'c']) buckets.tryTake(key, 0);
    buckets.tryTake('d', 0); // forgets a
    expect(buckets.size).toBe(3);
    expect(buckets.available('a', 0)).toBe(1); // forgotten: full again
    expect(buckets.available('b', 0)).toBe(0);
    expect(buckets.available('d', 0)).toBe(0);
  });
});
