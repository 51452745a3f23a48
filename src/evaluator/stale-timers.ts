// Per-device deadlines in a timer wheel: 100 ms slots, O(1) to arm, re-arm or cancel, one interval for
// all devices. A sweep of every device (the original polled the whole fleet every 5 s) is not needed.
export class StaleTimers {
  private readonly slots = new Map<number, Set<string>>();
  private readonly slotOf = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private lastSlot: number;
  /** How late the last expiry fired after its deadline (ms), for /health. */
  lastLatenessMs = 0;

  constructor(
    private readonly onExpire: (key: string, deadlineMs: number) => void,
    private readonly now: () => number = Date.now,
    private readonly slotMs = 100,
  ) {
    this.lastSlot = Math.floor(this.now() / slotMs);
    this.timer = setInterval(() => this.tick(), slotMs);
    this.timer.unref();
  }

  /** Sets (or moves) key's deadline. */
  arm(key: string, deadlineMs: number): void {
    this.cancel(key);
    // A deadline already past fires on the next tick.
    const slot = Math.max(Math.ceil(deadlineMs / this.slotMs), this.lastSlot);
    let keys = this.slots.get(slot);
    if (!keys) this.slots.set(slot, (keys = new Set()));
    keys.add(key);
    this.slotOf.set(key, slot);
  }

  cancel(key: string): void {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return;
    this.slots.get(slot)?.delete(key);
    this.slotOf.delete(key);
  }

  get size(): number {
    return this.slotOf.size;
  }

  /** Fires every deadline up to now; called by the interval, and by tests. */
  tick(): void {
    const nowMs = this.now();
    const current = Math.floor(nowMs / this.slotMs);
    for (let slot = this.lastSlot; slot <= current; slot++) {
      const keys = this.slots.get(slot);
      if (!keys) continue;
      this.slots.delete(slot);
      for (const key of keys) {
        this.slotOf.delete(key);
        this.lastLatenessMs = Math.max(0, nowMs - slot * this.slotMs);
        this.onExpire(key, slot * this.slotMs);
      }
    }
    this.lastSlot = current + 1;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
