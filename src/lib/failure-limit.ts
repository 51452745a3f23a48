// How many failed attempts (a password, an activation code, an admin key) each key — an account, a
// client address — may make in a window. A slot is taken before the attempt is checked and given back
// when it succeeds, so concurrent attempts cannot all pass the check first (check-then-act), and only
// failures count: a fleet activating from one address, or a user who signs in right, is never limited.
import { TokenBuckets } from './token-bucket.js';

export class FailureLimit {
  private readonly buckets: TokenBuckets;

  constructor(limit: number, windowSeconds: number) {
    this.buckets = new TokenBuckets({ burst: limit, ratePerSecond: limit / windowSeconds });
  }

  /**
   * Takes a slot of every key for one attempt: undefined when the attempt may go ahead, else the whole
   * seconds until it may (nothing is taken then).
   */
  reserve(keys: string[], nowMs = Date.now()): number | undefined {
    const waits = keys.map((key) => this.buckets.secondsUntilToken(key, nowMs));
    const wait = Math.max(0, ...waits);
    if (wait > 0) return wait;
    for (const key of keys) this.buckets.tryTake(key, nowMs);
    return undefined;
  }

  /** The attempt succeeded: its slots go back. */
  succeeded(keys: string[], nowMs = Date.now()): void {
    for (const key of keys) this.buckets.giveBack(key, nowMs);
  }
}
