// Batches accepted messages into telemetry: a flush at BATCH_SIZE or FLUSH_INTERVAL_MS, sooner for a
// message somebody waits on (HTTP 202, MQTT QoS 1 ack); under load, larger batches. Nothing accepted is
// dropped:
//   - a batch PostgreSQL refuses is split in halves until the bad row is alone; only that row fails
//     (quarantined WRITE_FAILED by the caller), the others are written;
//   - when the database is unreachable the batch is retried with backoff until it is back, while the
//     backlog (bounded by maxBacklog) tells sources to stop taking more.
import { retryWithBackoff } from '../lib/retry.js';
import { isDataException, sqlState } from '../lib/sqlstate.js';

export type InsertBatch<Row> = (rows: Row[]) => Promise<void>;

export interface WriterOptions<Row> {
  batchSize: number;
  /** Batches written at once (each on its own connection); 1 on PGlite, which has one. */
  concurrency: number;
  flushIntervalMs: number;
  maxBacklog: number;
  /** Longest pause between retries while the database is unreachable. */
  maxRetryDelayMs?: number;
  onWritten: (rows: Row[]) => void;
  /** Called once per batch with the time it took, retries included. */
  onBatch?: (seconds: number) => void;
  onRowFailed: (row: Row, error: Error) => void;
  onRetry: (error: Error, delayMs: number) => void;
}

export type WriteOutcome = 'written' | 'failed';

const BATCH_GROWTH = 8;

interface Pending<Row> {
  row: Row;
  deadline: number;
  settle: (outcome: WriteOutcome) => void;
}

export class TelemetryWriter<Row> {
  private buffer: Pending<Row>[] = [];
  /** The earliest deadline in the buffer, and the one the timer is set for. */
  private earliest = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly flushing = new Set<Promise<void>>();
  private roomWaiters: (() => void)[] = [];
  private stopped = false;
  private inFlight = 0;
  readonly stats = {
    written: 0,
    failed: 0,
    batches: 0,
    retries: 0,
    lastFlushLatencyMs: 0,
    lastFlushAt: null as Date | null,
  };

  constructor(
    private readonly insert: InsertBatch<Row>,
    private readonly options: WriterOptions<Row>,
  ) {}

  /** Messages accepted but not yet written. */
  get backlog(): number {
    return this.buffer.length + this.inFlight;
  }

  get isFull(): boolean {
    return this.backlog >= this.options.maxBacklog;
  }

  /** Resolves once the backlog has room again (immediately when it has). */
  waitForRoom(): Promise<void> {
    if (!this.isFull) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Queues a row; resolves when it is written (or failed alone). maxWaitMs bounds how long it lingers. */
  add(row: Row, maxWaitMs = this.options.flushIntervalMs): Promise<WriteOutcome> {
    return new Promise((settle) => {
      const deadline = Date.now() + maxWaitMs;
      this.buffer.push({ row, deadline, settle });
      if (deadline < this.earliest) this.earliest = deadline;
      this.schedule();
    });
  }

  /** Writes everything queued so far. */
  async flush(): Promise<void> {
    while (this.buffer.length > 0 || this.flushing.size > 0) {
      this.startFlush();
      if (this.flushing.size > 0) await Promise.race(this.flushing);
    }
  }

  async stop(): Promise<void> {
    await this.flush();
    this.stopped = true;
    this.clearTimer();
  }

  // Called per message: O(1), and the timer is only moved when a deadline comes earlier.
  private schedule(): void {
    if (this.stopped || this.flushing.size >= this.options.concurrency) return;
    if (this.buffer.length >= this.options.batchSize) {
      this.startFlush();
      return;
    }
    if (this.earliest >= this.timerAt || this.earliest === Number.POSITIVE_INFINITY) return;
    this.clearTimer();
    this.timerAt = this.earliest;
    this.timer = setTimeout(
      () => {
        this.timerAt = Number.POSITIVE_INFINITY;
        this.startFlush();
      },
      Math.max(0, this.earliest - Date.now()),
    );
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private startFlush(): void {
    if (this.flushing.size >= this.options.concurrency || this.buffer.length === 0) return;
    this.clearTimer();
    // A writer that finds more than a batch waiting (every writer was busy) takes up to BATCH_GROWTH
    // batches at once: each COPY transaction costs round trips and a commit, so under load fewer,
    // larger ones keep up where 500-row ones fall behind.
    const batch = this.buffer.splice(0, this.options.batchSize * BATCH_GROWTH);
    // Only a buffer below batchSize needs a timer; larger ones flush when a writer is free.
    this.earliest =
      this.buffer.length < this.options.batchSize
        ? this.buffer.reduce((min, p) => Math.min(min, p.deadline), Number.POSITIVE_INFINITY)
        : Number.POSITIVE_INFINITY;
    this.inFlight += batch.length;
    const flushing: Promise<void> = this.writeBatch(batch).finally(() => {
      this.inFlight -= batch.length;
      this.flushing.delete(flushing);
      if (!this.isFull) for (const wake of this.roomWaiters.splice(0)) wake();
      this.schedule();
    });
    this.flushing.add(flushing);
    // More full batches may go out on other connections while this one is written.
    if (this.buffer.length >= this.options.batchSize) this.startFlush();
  }

  private async writeBatch(batch: Pending<Row>[]): Promise<void> {
    const started = performance.now();
    await retryWithBackoff(() => this.writeSplitting(batch), {
      initial: 100,
      max: this.options.maxRetryDelayMs ?? 5000,
      // Only errors that are not about the rows reach here: the database is away. Keep the batch.
      beforeRetry: (error, delayMs) => {
        this.stats.retries += 1;
        this.options.onRetry(error as Error, delayMs);
      },
    });
    const latency = performance.now() - started;
    this.options.onBatch?.(latency / 1000);
    this.stats.batches += 1;
    this.stats.lastFlushLatencyMs = Math.round(latency * 10) / 10;
    this.stats.lastFlushAt = new Date();
  }

  /** Inserts rows; on a data error, halves the batch until each bad row is alone and fails it. */
  private writeSplitting(batch: Pending<Row>[]): Promise<void> {
    return saveIsolatingRowErrors(
      batch,
      async (part) => {
        const rows = part.map((p) => p.row);
        await this.insert(rows);
        this.stats.written += part.length;
        this.options.onWritten(rows);
        for (const pending of part) pending.settle('written');
      },
      (pending, error) => {
        this.stats.failed += 1;
        this.options.onRowFailed(pending.row, error);
        pending.settle('failed');
      },
    );
  }
}

/**
 * Saves items with `save`; when the database refuses some of them (a row error), halves the batch until
 * each refused item is alone and hands it to `refused`, so one bad item never holds back the others.
 * Any other error (the database is away) is thrown: the caller retries the whole batch.
 */
export async function saveIsolatingRowErrors<T>(
  items: T[],
  save: (items: T[]) => Promise<void>,
  refused: (item: T, error: Error) => void,
): Promise<void> {
  try {
    await save(items);
  } catch (error) {
    if (!isRowError(error)) throw error;
    if (items.length === 1) return refused(items[0]!, error as Error);
    const middle = Math.ceil(items.length / 2);
    await saveIsolatingRowErrors(items.slice(0, middle), save, refused);
    await saveIsolatingRowErrors(items.slice(middle), save, refused);
  }
}

/**
 * Whether PostgreSQL refused the rows themselves (data exceptions, constraint violations, bad text) as
 * opposed to being unreachable or shutting down, in which case retrying the same rows later succeeds.
 */
export function isRowError(error: unknown): boolean {
  return isDataException(error) || (sqlState(error)?.startsWith('23') ?? false);
}
