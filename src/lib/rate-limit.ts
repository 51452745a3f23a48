// Token buckets keyed by string (a device, a client address), with a bounded number of keys so that a
// flood of distinct keys cannot grow memory without limit. Time is passed in, so the logic is pure.
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
