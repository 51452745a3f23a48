// The race between a device's stale deadline and its next message: the message is stored (committed) but
// the bus has not brought it to the evaluator when the deadline passes. NO_HEARTBEAT must not open then —
// over NATS the gap between commit and delivery is routinely longer than in one process (ADR 009).
import { afterEach, describe, expect, it } from 'vitest';
import { createInProcessBus } from '../../src/bus/index.js';
import { EvaluatorEngine } from '../../src/evaluator/engine.js';
import { EvaluatorStore } from '../../src/evaluator/store.js';
import { createLogger } from '../../src/app/log.js';
import type { AlertEvent } from '../../src/contracts/messages.js';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/databases.js';
import { seedDevice, seedTelemetry } from '../helpers/seed.js';

const STALE_MS = 30_000;

describe.each(ENGINES)('stale deadline against a stored message (%s)', (engineName) => {
  let database: TestDatabase | undefined;
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    await database?.drop();
  });

  async function setup() {
    database = await createTestDatabase(engineName);
    await seedDevice(database.db, 'acme', 'd1');
    const log = createLogger('silent', { pretty: false });
    const bus = createInProcessBus(log);
    const events: AlertEvent[] = [];
    bus.subscribe('alert.changed', (event) => void events.push(event));
    let now = Date.now();
    const store = new EvaluatorStore(database.db, bus, log, 60_000, (found) => {
      for (const row of found) engine.storedSignOfLife(row.tenant_id, row.device_id, row.time, row.msg_type);
    });
    const engine = new EvaluatorEngine(store, STALE_MS, () => now);
    stop = async () => {
      engine.stop();
      await store.stop();
    };
    const heartbeat = (time: number) => ({
      time: new Date(time),
      tenant_id: 'acme',
      device_id: 'd1',
      site_id: 'site-1',
      msg_type: 'heartbeat',
      seq: 0,
      metrics: {},
    });
    const db = database.db;
    return {
      engine,
      events,
      start: now,
      heartbeat,
      /** Moves the clock, fires what is due and writes what the engine decided (and what that led to). */
      async at(time: number) {
        now = time;
        engine.timers.tick();
        await store.flush();
        await store.flush();
        await new Promise((resolve) => setImmediate(resolve)); // the bus hands events over after the tick
      },
      alerts: async () =>
        (
          await db.withService((tx) =>
            tx.query<{ alert_type: string; status: string }>(`SELECT alert_type, status FROM fleet_alert ORDER BY id`),
          )
        ).rows,
      /** A heartbeat ingest stored at `time` whose telemetry.stored event has not reached the evaluator. */
      storedUnannounced: (time: number, seq: number) =>
        seedTelemetry(db, { tenantId: 'acme', deviceId: 'd1', time: new Date(time), msgType: 'heartbeat', seq }),
      deviceStatus: async () =>
        (await db.withService((tx) => tx.query<{ status: string }>(`SELECT status FROM device_state`))).rows[0]?.status,
    };
  }

  it('opens no NO_HEARTBEAT when a heartbeat within the threshold is stored but not yet announced', async () => {
    const t = await setup();
    t.engine.onMessages([t.heartbeat(t.start)]);
    await t.at(t.start + 1000);
    // Stored by ingest 29.4 s after the last one; its telemetry.stored event is still on its way.
    await t.storedUnannounced(t.start + 29_400, 1);
    await t.at(t.start + STALE_MS + 100);
    expect(await t.alerts()).toEqual([]);
    expect(t.events).toEqual([]);
    expect(t.engine.device('acme', 'd1')?.status).toBe('ONLINE');
    expect(await t.deviceStatus()).toBe('ONLINE');

    // The event arrives late and changes nothing; the deadline now counts from the stored heartbeat.
    t.engine.onMessages([t.heartbeat(t.start + 29_400)]);
    await t.at(t.start + 29_400 + STALE_MS - 100);
    expect(await t.alerts()).toEqual([]);
    await t.at(t.start + 29_400 + STALE_MS + 100);
    expect(await t.alerts()).toEqual([{ alert_type: 'NO_HEARTBEAT', status: 'OPEN' }]);
    expect(t.events.map((event) => event.event)).toEqual(['OPENED']);
    expect(await t.deviceStatus()).toBe('STALE');
  });

  it('a message stored after the threshold does not hold NO_HEARTBEAT back', async () => {
    const t = await setup();
    t.engine.onMessages([t.heartbeat(t.start)]);
    await t.at(t.start + 1000);
    // Old (a device's clock behind, or a buffered reading): no sign of life within the threshold.
    await t.storedUnannounced(t.start + 50, 1);
    await t.at(t.start + STALE_MS + 100);
    expect(await t.alerts()).toEqual([{ alert_type: 'NO_HEARTBEAT', status: 'OPEN' }]);
    expect(t.engine.device('acme', 'd1')?.status).toBe('STALE');
  });

  it('a message stamped ahead of the clock is no sign of life at every later deadline', async () => {
    const t = await setup();
    t.engine.onMessages([t.heartbeat(t.start)]);
    await t.at(t.start + 1000);
    // A device whose clock runs 4 minutes ahead (within MAX_CLOCK_SKEW_SECONDS), then silence.
    await t.storedUnannounced(t.start + 240_000, 1);
    await t.at(t.start + STALE_MS + 100);
    expect(await t.alerts()).toEqual([{ alert_type: 'NO_HEARTBEAT', status: 'OPEN' }]);
  });
});
