// How many failed attempts (a password, an activation code, an admin key) each key — an account, a
// client address — may make in a window. A slot is taken before the attempt is checked and given back
// when it succeeds: concurrent attempts cannot all pass the check first (check-then-act), and only
// failures count.
//
// When every slot of a key is only reserved by attempts still in flight, a new attempt waits for one of
// them to finish instead of being refused: a fleet activating at once from one address (or a script
// signing in in parallel) is slowed to `limit` at a time, never refused; only finished failures refuse.
import { TokenBuckets } from './token-bucket.js';

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
