// FailureLimit (src/lib/failure-limit.ts): slots taken before an attempt, given back on success; an
// attempt finding every slot held by attempts in flight waits for them instead of being refused.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FailureLimit } from '../../src/lib/rate-limit.js';

describe('FailureLimit', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it('counts only failures: successes give their slot back', async () => {
    const limit = new FailureLimit(2, 600); // one slot back every 300 s
    for (let i = 0; i < 10; i += 1) {
      expect(await limit.reserve(['k'])).toBeUndefined();
      limit.succeeded(['k']);
    }
    for (let i = 0; i < 2; i += 1) {
      expect(await limit.reserve(['k'])).toBeUndefined();
      limit.failed(['k']);
    }
    expect(await limit.reserve(['k'])).toBe(300);
    expect(await limit.reserve(['other'])).toBeUndefined();
    vi.setSystemTime(1_000_000 + 300_000);
    expect(await limit.reserve(['k'])).toBeUndefined();
  });

  it('makes an attempt wait while the slots are held by attempts in flight, then decides by their outcome', async () => {
    const limit = new FailureLimit(2, 600);
    await limit.reserve(['k']);
    await limit.reserve(['k']);
    let third: number | undefined | 'pending' = 'pending';
    void limit.reserve(['k']).then((result) => (third = result));
    await Promise.resolve();
    expect(third).toBe('pending');
    limit.succeeded(['k']); // a slot comes back: the third may go
    await vi.waitFor(() => expect(third).toBeUndefined());

    let fourth: number | undefined | 'pending' = 'pending';
    void limit.reserve(['k']).then((result) => (fourth = result));
    limit.failed(['k']);
    limit.failed(['k']); // both in flight failed: nothing left, nothing in flight
    await vi.waitFor(() => expect(fourth).toBe(300));
  });

  it('takes nothing from any key when one of them is exhausted', async () => {
    const limit = new FailureLimit(1, 60);
    await limit.reserve(['a']);
    limit.failed(['a']);
    expect(await limit.reserve(['b', 'a'])).toBe(60);
    expect(await limit.reserve(['b'])).toBeUndefined(); // b was not charged above
  });
});
