// The in-memory rate limits, each keyed by string (a device, a user, a client address) with bounded memory:
//   - TokenBuckets: a rate with a burst (ingest per device, commands per tenant); time is passed in, so the
//     logic is pure;
//   - SlidingWindowLimiter: at most `limit` requests in any window (the API per user and client);
//   - FailureLimit: failed attempts (passwords, activation codes, admin keys) per key, on token buckets.
// Limits that must hold across instances are counted in the database instead (model/tenant-limits.ts).

// Token buckets with a bounded number of keys, so that a flood of distinct keys cannot grow memory without
// limit.
export interface BucketLimits {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Bucket capacity; a new key starts full. */
  burst: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private limits: BucketLimits,
    private readonly maxKeys = 100_000,
  ) {}

  setLimits(limits: BucketLimits): void {
    this.limits = limits;
  }

  /** Tokens available for key at time nowMs (refilled, capped at burst). */
  available(key: string, nowMs: number): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return this.limits.burst;
    const refilled = bucket.tokens + ((nowMs - bucket.updatedAt) / 1000) * this.limits.ratePerSecond;
    return Math.min(this.limits.burst, refilled);
  }

  /** Takes one token if there is one; returns whether it did. */
  tryTake(key: string, nowMs: number): boolean {
    const tokens = this.available(key, nowMs);
    const allowed = tokens >= 1;
    this.store(key, { tokens: allowed ? tokens - 1 : tokens, updatedAt: nowMs });
    return allowed;
  }

  /** Puts back a token taken for something that did not count after all (capped at burst). */
  giveBack(key: string, nowMs: number): void {
    this.store(key, { tokens: Math.min(this.limits.burst, this.available(key, nowMs) + 1), updatedAt: nowMs });
  }

  /** Whole seconds until key has a token again (0 when it has one now). */
  secondsUntilToken(key: string, nowMs: number): number {
    const missing = 1 - this.available(key, nowMs);
    return missing <= 0 ? 0 : Math.ceil(missing / this.limits.ratePerSecond);
  }

  get size(): number {
    return this.buckets.size;
  }

  private store(key: string, bucket: Bucket): void {
    const existing = this.buckets.get(key);
    if (existing) {
      // Updated in place: re-inserting on every message would cost a Map delete per message.
      existing.tokens = bucket.tokens;
      existing.updatedAt = bucket.updatedAt;
      return;
    }
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) {
      // The earliest-created key goes; a forgotten key only means a full bucket for that device.
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
  }
}

// A sliding-window request limit per key (the API's, docs/wire-contract.md#data-api): at most `limit` requests
// in any `windowMs`. Memory is bounded: a key holds at most `limit` timestamps, and idle keys are dropped.

export type WindowDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

export class SlidingWindowLimiter {
  private readonly hits = new Map<string, number[]>();
  private lastSweep = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  take(key: string, now = Date.now()): WindowDecision {
    this.sweep(now);
    const times = this.hits.get(key) ?? [];
    const cutoff = now - this.windowMs;
    let expired = 0;
    while (expired < times.length && times[expired]! <= cutoff) expired += 1;
    if (expired > 0) times.splice(0, expired);
    if (times.length >= this.limit) {
      return { allowed: false, retryAfterMs: times[0]! + this.windowMs - now };
    }
    times.push(now);
    this.hits.set(key, times);
    return { allowed: true };
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.windowMs) return;
    this.lastSweep = now;
    for (const [key, times] of this.hits) {
      if ((times.at(-1) ?? 0) <= now - this.windowMs) this.hits.delete(key);
    }
  }
}

// How many failed attempts (a password, an activation code, an admin key) each key — an account, a
// client address — may make in a window. A slot is taken before the attempt is checked and given back
// when it succeeds: concurrent attempts cannot all pass the check first (check-then-act), and only
// failures count.
//
// When every slot of a key is only reserved by attempts still in flight, a new attempt waits for one of
// them to finish instead of being refused: a fleet activating at once from one address (or a script
// signing in in parallel) is slowed to `limit` at a time, never refused; only finished failures refuse.

export class FailureLimit {
  private readonly buckets: TokenBuckets;
  private readonly inFlight = new Map<string, number>();
  private waiters: (() => void)[] = [];

  constructor(limit: number, windowSeconds: number) {
    this.buckets = new TokenBuckets({ burst: limit, ratePerSecond: limit / windowSeconds });
  }

  /**
   * Takes a slot of every key for one attempt: undefined when the attempt may go ahead (call succeeded()
   * or failed() when it ends), else the whole seconds until it may (nothing is taken then).
   */
  async reserve(keys: string[]): Promise<number | undefined> {
    for (;;) {
      const now = Date.now();
      const wait = Math.max(0, ...keys.map((key) => this.buckets.secondsUntilToken(key, now)));
      if (wait === 0) {
        for (const key of keys) {
          this.buckets.tryTake(key, now);
          this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
        }
        return undefined;
      }
      if (!keys.some((key) => this.inFlight.has(key))) return wait;
      await new Promise<void>((wake) => this.waiters.push(wake)); // an attempt in flight may give its slot back
    }
  }

  /** The attempt succeeded: its slots go back. */
  succeeded(keys: string[]): void {
    const now = Date.now();
    for (const key of keys) this.buckets.giveBack(key, now);
    this.finished(keys);
  }

  /** The attempt failed: its slots stay taken. */
  failed(keys: string[]): void {
    this.finished(keys);
  }

  private finished(keys: string[]): void {
    for (const key of keys) {
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left > 0) this.inFlight.set(key, left);
      else this.inFlight.delete(key);
    }
    for (const wake of this.waiters.splice(0)) wake();
  }
}
