// Which data answers a window (ADR 024): the bucket within the point budget, and the coarsest kept resolution.
import { describe, expect, it } from 'vitest';
import { planWindow } from '../../src/model/resolution.js';

const DAY = 86_400_000;
const now = new Date('2026-12-01T12:00:00Z');
const month = { start: new Date(now.getTime() - 30 * DAY), end: now };
const retention = { rawDays: 30, minuteDays: 90, hourDays: 730 };

describe('planWindow', () => {
  it('draws a month in hours from the 1-hour rollups within the default 1,000 points', () => {
    expect(planWindow(month, retention, now)).toMatchObject({ resolution: '1h', bucketSeconds: 3600 });
  });

  it('draws a month in fewer, longer buckets for a smaller point budget (a narrow widget)', () => {
    const plan = planWindow(month, retention, now, { pointBudget: 360 });
    expect(plan).toMatchObject({ resolution: '1h', bucketSeconds: 7200 });
    expect((plan.end.getTime() - plan.start.getTime()) / 7_200_000).toBeLessThanOrEqual(361);
    // Half that (a line per site on the same widget): 4-hour buckets, not 6.
    expect(planWindow(month, retention, now, { pointBudget: 180 })).toMatchObject({ bucketSeconds: 14_400 });
  });

  it('keeps the least bucket asked for whatever the budget', () => {
    const hour = { start: new Date(now.getTime() - 3_600_000), end: now };
    expect(planWindow(hour, retention, now, { pointBudget: 10_000, minBucketSeconds: 60 })).toMatchObject({
      resolution: '1m',
      bucketSeconds: 60,
    });
  });
});
