// Pure pieces of the API: the rate limiter, time windows, rule checks, counter rates and password hashes.
import { describe, expect, it } from 'vitest';
import { checkRuleFields, checkRuleId } from '../../src/model/rule-input.js';
import { ratesBetween } from '../../src/api/system/rates.js';
import { timeWindow, timeWindowIfAny } from '../../src/api/time-window.js';
import { hashPassword, verifyPassword } from '../../src/identity/passwords.js';
import { SlidingWindowLimiter } from '../../src/lib/rate-limit.js';
import { commandPace } from '../../src/api/commands.js';

describe('SlidingWindowLimiter', () => {
  it('allows `limit` requests per window and says when the oldest one leaves it', () => {
    const limiter = new SlidingWindowLimiter(3, 60_000);
    expect([0, 10_000, 20_000].map((t) => limiter.take('a', t).allowed)).toEqual([true, true, true]);
    expect(limiter.take('a', 30_000)).toEqual({ allowed: false, retryAfterMs: 30_000 });
    expect(limiter.take('b', 30_000).allowed).toBe(true);
    expect(limiter.take('a', 60_001).allowed).toBe(true);
  });

  it('does not count refused requests and forgets idle keys', () => {
    const limiter = new SlidingWindowLimiter(1, 1000);
    limiter.take('a', 0);
    for (let t = 1; t < 1000; t += 100) expect(limiter.take('a', t).allowed).toBe(false);
    expect(limiter.take('a', 1001).allowed).toBe(true);
    for (let i = 0; i < 1000; i += 1) limiter.take(`k${i}`, 2000);
    limiter.take('z', 5000);
    expect((limiter as unknown as { hits: Map<string, number[]> }).hits.size).toBe(1);
  });
});

describe('timeWindow', () => {
  const now = new Date('2026-11-28T12:00:00Z');
  it('is the last `hours` without start, or start..end (end defaults to now); no offset means UTC', () => {
    expect(timeWindow({ hours: 6 }, now)).toEqual({ start: new Date('2026-11-28T06:00:00Z'), end: now, hours: 6 });
    expect(timeWindow({ hours: 6, start: '2026-11-28T11:30:00' }, now)).toMatchObject({
      start: new Date('2026-11-28T11:30:00Z'),
      end: now,
      hours: 0.5,
    });
    expect(timeWindow({ hours: 1, start: '2026-11-28T10:00:00+02:00', end: '2026-11-28T09:00:00Z' }, now).hours).toBe(
      1,
    );
  });

  it('names the parameter at fault in a FastAPI-style 422', () => {
    for (const [query, loc, msg] of [
      [{ hours: 1, start: 'noon' }, 'start', /ISO-8601/],
      [{ hours: 1, start: '2026-11-28T12:00:00Z', end: '2026-11-28T11:00:00Z' }, 'start', /before end/],
      [{ hours: 1, start: '2026-01-01T00:00:00Z', end: '2026-11-28T00:00:00Z' }, 'start', /at most 31 days/],
      [{ hours: 1, end: '2026-13-45' }, 'end', /ISO-8601/],
    ] as const) {
      try {
        timeWindow(query, now);
        expect.unreachable();
      } catch (error) {
        expect((error as { code: string }).code).toBe('VALIDATION_FAILED');
        expect((error as { extra: { detail: { loc: string[]; msg: string }[] } }).extra.detail[0]).toMatchObject({
          loc: ['query', loc],
          msg: expect.stringMatching(msg),
        });
      }
    }
    expect(timeWindowIfAny({})).toBeUndefined();
    expect(timeWindowIfAny({ end: '2026-11-28T00:00:00Z' })).toEqual({ end: new Date('2026-11-28T00:00:00Z') });
  });
});

describe('alert rule checks', () => {
  it("normalises and returns the contract's messages", () => {
    expect(checkRuleFields({ name: ' Hot ', operator: 'gte', site_ids: [' a '] })).toEqual({
      name: 'Hot',
      operator: 'GTE',
      site_ids: ['a'],
    });
    expect(() => checkRuleFields({ operator: 'BETWEEN' })).toThrow('Invalid operator value');
    expect(() => checkRuleFields({ metric_name: 'temp-c' })).toThrow('Invalid metric_name format');
    expect(() => checkRuleFields({ site_ids: [''] })).toThrow('Invalid site_id value');
    expect(() => checkRuleFields({ name: '' })).toThrow('Invalid name length');
    expect(() => checkRuleId('r1')).toThrow('Invalid rule_id format: must be a valid UUID');
    expect(() => checkRuleId('3f1c2b4a-1d2e-4f3a-8b9c-0a1b2c3d4e5f')).not.toThrow();
  });
});

describe('ratesBetween', () => {
  it('turns running totals into per-second rates and passes gauges through', () => {
    const before = { ingest: { messages_received: 100, queue_depth: 7 } };
    const now = { ingest: { messages_received: 400, queue_depth: 3 } };
    expect(ratesBetween(before, now, 5)).toEqual([
      { service: 'ingest', metric: 'messages_received_per_sec', value: 60 },
      { service: 'ingest', metric: 'queue_depth', value: 3 },
    ]);
  });

  it('has no rate on the first sample and starts over after a restart', () => {
    expect(ratesBetween(undefined, { ingest: { messages_received: 5 } }, 0)).toEqual([]);
    expect(ratesBetween({ ingest: { messages_received: 500 } }, { ingest: { messages_received: 20 } }, 10)).toEqual([
      { service: 'ingest', metric: 'messages_received_per_sec', value: 2 },
    ]);
  });
});

describe('password hashes', () => {
  it('verifies the right password only, and never throws on a malformed hash', async () => {
    const hash = await hashPassword('correct horse');
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await hashPassword('correct horse')).not.toBe(hash);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct hors', hash)).toBe(false);
    expect(await verifyPassword('x', 'garbage')).toBe(false);
    expect(await verifyPassword('x', 'scrypt$1$1$1$AA$AA')).toBe(false);
  });
});

describe('commandPace', () => {
  it('lets a tenant make COMMANDS_PER_MINUTE commands at once, then refuses with 429 and a way out', () => {
    const pace = commandPace(2);
    pace('a');
    pace('a');
    expect(() => pace('a')).toThrow(/at most 2 commands or configuration changes a minute/);
    try {
      pace('a');
    } catch (error) {
      expect(error).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 30 });
    }
    expect(() => pace('b')).not.toThrow();
  });
});
