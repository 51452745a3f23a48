// The one backoff of Pulse (src/lib/retry.ts): doubling waits, capped, jittered; and the loop around it.
import { describe, expect, it } from 'vitest';
import { backoffDelay, retryWithBackoff } from '../../src/lib/retry.js';

describe('backoffDelay', () => {
  it('doubles from the initial wait and stops at the cap', () => {
    const backoff = { initial: 100, max: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, backoff))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffDelay(0, backoff)).toBe(100);
    expect(backoffDelay(200, backoff)).toBe(1000);
  });

  it('spreads each wait by ± the jitter, around the capped wait', () => {
    const backoff = { initial: 30, max: 7200, jitter: 0.2 };
    expect(backoffDelay(1, backoff, () => 0)).toBeCloseTo(24);
    expect(backoffDelay(1, backoff, () => 0.5)).toBeCloseTo(30);
    expect(backoffDelay(1, backoff, () => 1)).toBeCloseTo(36);
    expect(backoffDelay(20, backoff, () => 1)).toBeCloseTo(8640);
  });
});

describe('retryWithBackoff', () => {
  it('tries until the work succeeds, telling each failure and the doubling wait after it', async () => {
    const slept: number[] = [];
    const heard: string[] = [];
    let attempts = 0;
    const result = await retryWithBackoff(
      async () => {
        attempts += 1;
        if (attempts < 4) throw new Error(`failure ${attempts}`);
        return 'stored';
      },
      {
        initial: 100,
        max: 300,
        beforeRetry: (error, delayMs) => heard.push(`${(error as Error).message} then ${delayMs}`),
        sleep: async (ms) => void slept.push(ms),
      },
    );
    expect(result).toBe('stored');
    expect(heard).toEqual(['failure 1 then 100', 'failure 2 then 200', 'failure 3 then 300']);
    expect(slept).toEqual([100, 200, 300]);
  });

  it('stops with the error beforeRetry throws, without waiting', async () => {
    const slept: number[] = [];
    const refused = retryWithBackoff(() => Promise.reject(new Error('not for retrying')), {
      initial: 100,
      max: 1000,
      beforeRetry: (error) => {
        throw error;
      },
      sleep: async (ms) => void slept.push(ms),
    });
    await expect(refused).rejects.toThrow('not for retrying');
    expect(slept).toEqual([]);
  });
});
