import { describe, expect, it, vi } from 'vitest';
import { isRowError, TelemetryWriter, type InsertBatch, type WriterOptions } from '../../src/ingest/writer.js';
import type { AcceptedMessage } from '../../src/contracts/messages.js';

const message = (seq: number): AcceptedMessage => ({
  time: new Date(0),
  tenant_id: 't',
  device_id: 'd',
  site_id: 's',
  msg_type: 'telemetry',
  seq,
  metrics: {},
});

function writer(insert: InsertBatch<AcceptedMessage>, options: Partial<WriterOptions<AcceptedMessage>> = {}) {
  const written: number[] = [];
  const failed: number[] = [];
  const retries: string[] = [];
  const instance = new TelemetryWriter<AcceptedMessage>(insert, {
    batchSize: 10,
    concurrency: 1,
    flushIntervalMs: 50,
    maxBacklog: 100,
    maxRetryDelayMs: 20,
    onWritten: (messages) => written.push(...messages.map((m) => m.seq)),
    onRowFailed: (m) => failed.push(m.seq),
    onRetry: (error) => retries.push(error.message),
    ...options,
  });
  return { instance, written, failed, retries };
}

const rowError = (text: string) => Object.assign(new Error(text), { code: '22P05' });

describe('telemetry writer', () => {
  it('writes a full batch at once and the rest after the flush interval', async () => {
    vi.useFakeTimers();
    try {
      const batches: number[] = [];
      const { instance, written } = writer(async (messages) => void batches.push(messages.length));
      const outcomes = Array.from({ length: 13 }, (_, i) => instance.add(message(i)));
      expect(batches).toEqual([10]);
      await vi.advanceTimersByTimeAsync(49);
      expect(batches).toEqual([10]);
      await vi.advanceTimersByTimeAsync(1);
      expect(await Promise.all(outcomes)).toEqual(Array(13).fill('written'));
      expect(batches).toEqual([10, 3]);
      expect(written).toEqual([...Array(13).keys()]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('takes up to eight batches at once when every writer was busy', async () => {
    const batches: number[] = [];
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { instance, written } = writer(async (messages) => {
      batches.push(messages.length);
      await gate;
    });
    const outcomes = Array.from({ length: 100 }, (_, i) => instance.add(message(i)));
    expect(batches).toEqual([10]); // the one writer is busy; 90 wait
    open();
    expect(await Promise.all(outcomes)).toEqual(Array(100).fill('written'));
    expect(batches).toEqual([10, 80, 10]);
    expect(written).toEqual([...Array(100).keys()]);
  });

  it('flushes sooner for a message someone waits on', async () => {
    const { instance } = writer(async () => undefined, { flushIntervalMs: 10_000 });
    const started = Date.now();
    expect(await instance.add(message(1), 5)).toBe('written');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('isolates a poisoned row: every other row of its batch is written', async () => {
    const { instance, written, failed } = writer(async (messages) => {
      if (messages.some((m) => m.seq === 6)) throw rowError('unsupported Unicode escape sequence');
    });
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => instance.add(message(i))));
    expect(failed).toEqual([6]);
    expect(written.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 7, 8, 9]);
    expect(outcomes[6]).toBe('failed');
    expect(outcomes.filter((o) => o === 'written')).toHaveLength(9);
  });

  it('keeps retrying while the database is unreachable and loses nothing', async () => {
    let outage = 3;
    const { instance, written, retries } = writer(async () => {
      if (outage-- > 0) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    });
    const outcomes = await Promise.all(Array.from({ length: 5 }, (_, i) => instance.add(message(i))));
    expect(outcomes).toEqual(Array(5).fill('written'));
    expect(written).toEqual([0, 1, 2, 3, 4]);
    expect(retries).toHaveLength(3);
  });

  it('reports a full backlog and wakes waiters when there is room again', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { instance } = writer(async () => gate, { maxBacklog: 5, batchSize: 5 });
    const outcomes = Array.from({ length: 5 }, (_, i) => instance.add(message(i)));
    expect(instance.isFull).toBe(true);
    let woke = false;
    const room = instance.waitForRoom().then(() => (woke = true));
    await new Promise((resolve) => setImmediate(resolve)); // what was due has run: the backlog is still full
    expect(woke).toBe(false);
    release();
    await Promise.all(outcomes);
    await room;
    expect(woke).toBe(true);
    expect(instance.backlog).toBe(0);
  });

  it('stop() writes what is queued', async () => {
    const { instance, written } = writer(async () => undefined, { flushIntervalMs: 60_000 });
    void instance.add(message(1));
    void instance.add(message(2));
    await instance.stop();
    expect(written).toEqual([1, 2]);
  });

  it('tells row errors from an unreachable database', () => {
    expect(isRowError({ code: '22P05' })).toBe(true);
    expect(isRowError({ code: '23505' })).toBe(true);
    expect(isRowError({ code: '57P01' })).toBe(false); // admin shutdown
    expect(isRowError({ code: '08006' })).toBe(false);
    expect(isRowError({ code: 'ECONNREFUSED' })).toBe(false);
    expect(isRowError(new Error('Connection terminated unexpectedly'))).toBe(false);
  });
});
