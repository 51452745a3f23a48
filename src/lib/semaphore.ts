// At most `permits` holders at a time; the others wait in arrival order (FIFO, so none starves).
export class Semaphore {
  private waiting: (() => void)[] = [];

  constructor(private permits: number) {}

  /** Runs `fn` once a permit is free, and frees it when `fn` settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.permits > 0) this.permits -= 1;
    else await new Promise<void>((take) => this.waiting.push(take));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      // The permit passes straight to the next waiter, so a newcomer cannot overtake it.
      if (next) next();
      else this.permits += 1;
    }
  }
}
