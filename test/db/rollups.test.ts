// Telemetry rollups (issue 17) on both engines: what the worker builds (per device, site and fleet) equals
// a raw-row computation,
// late and out-of-order messages land in their own buckets, a restart in the middle neither skips nor
// double-counts (the counts add up to the rows stored), a write still in flight is not skipped, a
// rebuild recomputes a day, retention prunes, and another tenant sees none of it under RLS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceTx } from '../../src/db/database.js';
import { planWindow } from '../../src/model/resolution.js';
import { insertTelemetry, telemetrySummary, type TelemetryInsert } from '../../src/model/telemetry.js';
import { pruneExpiredRollups, rebuildDay, rollUpSlice, rollupHorizon, rollupState } from '../../src/model/rollups.js';
import { rebuildProgressLine } from '../../src/app/cli/data.js';
import { daysToRebuild, rebuildRollups } from '../../src/model/rollup-rebuild.js';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/databases.js';
import { waitFor } from '../helpers/wait.js';

const HOUR = 3_600_000;
/** Devices d-0 and d-2 send from site north, the others from south. */
const siteOf = (device: string) => (Number(device.slice(-1)) % 2 === 0 ? 'north' : 'south');

describe.each(ENGINES)('rollups on %s', (engine) => {
  let database: TestDatabase;
  let random = 42;
  /** A deterministic pseudo-random number in [0, 1). */
  const next = () => (random = (random * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;

  const message = (tenant: string, device: string, time: Date): TelemetryInsert => {
    const metrics: Record<string, number | boolean> = { temp_c: Math.round(next() * 1000) / 10, on: next() > 0.3 };
    if (next() > 0.5) metrics.battery_pct = Math.round(next() * 100);
    return {
      message: {
        time,
        tenant_id: tenant,
        device_id: device,
        site_id: siteOf(device),
        msg_type: 'telemetry',
        seq: 0,
        metrics,
      },
      metricsJson: JSON.stringify(metrics),
    };
  };
  const store = (rows: TelemetryInsert[]) =>
    database.db.withService((tx) => insertTelemetry(tx, database.engine, rows));
  /**
   * Rolls up everything stored so far, as the worker does (lag 0): until no committed row lies past the
   * watermark. A slice can end short of a row just written (the horizon is read in milliseconds, and held
   * back by other transactions), which the next slice then takes.
   */
  const catchUp = async (sliceSeconds = 3600) => {
    let messages = 0;
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const horizon = await database.db.withService((tx) => rollupHorizon(tx, 0));
      const slice = (await database.db.withService((tx) => rollUpSlice(tx, horizon, sliceSeconds)))!;
      messages += slice.messages;
      if (!slice.caughtUp) continue;
      const [left] = await query<{ pending: number }>(
        `SELECT count(*)::int AS pending FROM telemetry WHERE ingested_at > (SELECT ingested_through FROM rollup_state)`,
      );
      if (left!.pending === 0) return messages;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('the rollups did not catch up with what is stored');
  };
  const query = async <R extends object>(sql: string, params: unknown[] = []) =>
    (await database.db.withService((tx: ServiceTx) => tx.query<R>(sql, params))).rows;
  /** What a rollup is per: each device, each site, or the fleet (null). */
  type Per = 'device_id' | 'site_id' | null;
  const raw = (width: string, per: Per) =>
    query<Record<string, unknown>>(
      `SELECT t.tenant_id, ${per ? `t.${per}, ` : ''}m.key AS metric,
              date_bin(interval '${width}', t.time, timestamptz '1970-01-01 00:00:00+00') AS bucket,
              min(v) AS min, max(v) AS max, sum(v) AS sum, count(*)::int AS count
       FROM telemetry t CROSS JOIN LATERAL jsonb_each(t.metrics) AS m(key, value)
       CROSS JOIN LATERAL (SELECT CASE jsonb_typeof(m.value) WHEN 'number' THEN (m.value)::text::float8
                                       ELSE CASE WHEN m.value = 'true'::jsonb THEN 1 ELSE 0 END END AS v) x
       WHERE t.msg_type = 'telemetry' AND jsonb_typeof(m.value) IN ('number', 'boolean')
       GROUP BY 1, 2, 3${per ? ', 4' : ''} ORDER BY 1, 2, 3${per ? ', 4' : ''}`,
    );
  const rolled = (table: string, per: Per) =>
    query<Record<string, unknown>>(
      `SELECT tenant_id, ${per ? `${per}, ` : ''}metric, bucket, min, max, sum, count FROM ${table}
       WHERE metric <> '#messages' ORDER BY 1, 2, 3${per ? ', 4' : ''}`,
    );
  const expectSame = (actual: Record<string, unknown>[], expected: Record<string, unknown>[]) => {
    expect(actual.length).toBe(expected.length);
    expected.forEach((row, i) => {
      const got = actual[i]!;
      for (const key of Object.keys(row)) {
        if (key === 'sum') expect(got.sum as number).toBeCloseTo(row.sum as number, 6);
        else expect(got[key]).toEqual(row[key]);
      }
    });
  };
  const messageCount = async () =>
    (
      await query<{ n: number }>(
        `SELECT COALESCE(sum(count), 0)::int AS n FROM telemetry_fleet_1h WHERE metric = '#messages'`,
      )
    )[0]!.n;
  const storedCount = async () =>
    (await query<{ n: number }>(`SELECT count(*)::int AS n FROM telemetry WHERE msg_type = 'telemetry'`))[0]!.n;
  /** Each device's two newest minutes with telemetry, from the raw rows and as the rollups keep them. */
  const expectNewestBuckets = async () => {
    const expected = await query(
      `SELECT tenant_id, device_id, (array_agg(bucket ORDER BY bucket DESC))[1] AS last_bucket,
              (array_agg(bucket ORDER BY bucket DESC))[2] AS previous_bucket
       FROM (SELECT DISTINCT tenant_id, device_id, date_bin(interval '1 minute', time, timestamptz '1970-01-01 00:00:00+00') AS bucket
             FROM telemetry WHERE msg_type = 'telemetry') m
       GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    const kept = await query(
      `SELECT tenant_id, device_id, last_bucket, previous_bucket FROM telemetry_rollup_devices
       WHERE last_bucket IS NOT NULL ORDER BY 1, 2`,
    );
    expect(kept).toEqual(expected);
  };

  beforeAll(async () => {
    database = await createTestDatabase(engine);
    await database.db.withService((tx) =>
      tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ('ru-a', 'A'), ('ru-b', 'B')`),
    );
  }, 60_000);
  afterAll(() => database?.drop());

  it('builds 1-minute and 1-hour rollups, per device, per site and per fleet, equal to a raw computation', async () => {
    const now = Date.now();
    const rows: TelemetryInsert[] = [];
    for (let i = 0; i < 600; i += 1) {
      const device = `d-${i % 4}`;
      rows.push(message(i % 5 === 0 ? 'ru-b' : 'ru-a', device, new Date(now - 3 * HOUR + i * 17_000)));
    }
    // A heartbeat carries no metrics and counts for nothing.
    rows.push({
      message: {
        time: new Date(now - HOUR),
        tenant_id: 'ru-a',
        device_id: 'd-0',
        site_id: 's',
        msg_type: 'heartbeat',
        seq: 0,
        metrics: {},
      },
      metricsJson: '{}',
    });
    await store(rows.slice(0, 300));
    await catchUp();
    await store(rows.slice(300));
    expect(await catchUp()).toBe(300);

    expectSame(await rolled('telemetry_rollup_1m', 'device_id'), await raw('1 minute', 'device_id'));
    expectSame(await rolled('telemetry_rollup_1h', 'device_id'), await raw('1 hour', 'device_id'));
    expectSame(await rolled('telemetry_rollup_1d', 'device_id'), await raw('1 day', 'device_id'));
    expectSame(await rolled('telemetry_site_1m', 'site_id'), await raw('1 minute', 'site_id'));
    expectSame(await rolled('telemetry_site_1h', 'site_id'), await raw('1 hour', 'site_id'));
    expectSame(await rolled('telemetry_fleet_1m', null), await raw('1 minute', null));
    expectSame(await rolled('telemetry_fleet_1h', null), await raw('1 hour', null));
    expect(await messageCount()).toBe(600);
    await expectNewestBuckets();
    // Booleans are 0/1: their average is the share of true; they are marked as such.
    const flags = await query<{ metric: string; bool: boolean }>(
      `SELECT DISTINCT metric, bool FROM telemetry_rollup_1h WHERE tenant_id = 'ru-a' AND metric <> '#messages' ORDER BY 1`,
    );
    expect(flags).toEqual([
      { metric: 'battery_pct', bool: false },
      { metric: 'on', bool: true },
      { metric: 'temp_c', bool: false },
    ]);
    // `last` is the value of the newest message of the bucket.
    const [last] = await query<{ last: number; expected: number }>(
      `SELECT r.last, (SELECT (t.metrics ->> 'temp_c')::float8 FROM telemetry t
                       WHERE t.tenant_id = r.tenant_id AND t.device_id = r.device_id AND t.msg_type = 'telemetry'
                         AND t.time >= r.bucket AND t.time < r.bucket + interval '1 hour'
                       ORDER BY t.time DESC LIMIT 1) AS expected
       FROM telemetry_rollup_1h r WHERE r.metric = 'temp_c' ORDER BY r.bucket LIMIT 1`,
    );
    expect(last!.last).toBe(last!.expected);
  });

  it('folds late and out-of-order messages into the buckets of their own time', async () => {
    const lateTime = new Date(Math.floor((Date.now() - 5 * HOUR) / HOUR) * HOUR + 30 * 60_000);
    const before = await query<{ count: number }>(
      `SELECT count FROM telemetry_rollup_1h WHERE tenant_id = 'ru-a' AND device_id = 'late' AND metric = 'temp_c'`,
    );
    expect(before).toEqual([]);
    const late = message('ru-a', 'late', lateTime);
    (late.message.metrics as Record<string, number>).temp_c = -40;
    late.metricsJson = JSON.stringify(late.message.metrics);
    const earlier = message('ru-a', 'late', new Date(lateTime.getTime() - 10 * 60_000));
    (earlier.message.metrics as Record<string, number>).temp_c = 99;
    earlier.metricsJson = JSON.stringify(earlier.message.metrics);
    await store([late]);
    await catchUp();
    await store([earlier]); // older than what came before it
    await catchUp();
    const [bucket] = await query<{ bucket: Date; count: number; min: number; max: number; last: number }>(
      `SELECT bucket, count, min, max, last FROM telemetry_rollup_1h
       WHERE tenant_id = 'ru-a' AND device_id = 'late' AND metric = 'temp_c'`,
    );
    expect(bucket).toMatchObject({ count: 2, min: -40, max: 99, last: -40 });
    expect(bucket!.bucket.toISOString()).toBe(new Date(Math.floor(lateTime.getTime() / HOUR) * HOUR).toISOString());
    expectSame(await rolled('telemetry_rollup_1m', 'device_id'), await raw('1 minute', 'device_id'));
    await expectNewestBuckets();
  });

  it('counts the devices that sent telemetry in a window as raw rows would, whatever their newest buckets', async () => {
    const minute = 60_000;
    const now = Math.floor(Date.now() / minute) * minute;
    const at = (device: string, minutesAgo: number[]) =>
      minutesAgo.map((ago) => message('ru-c', device, new Date(now - ago * minute + 5_000)));
    await query(`INSERT INTO tenants (tenant_id, name) VALUES ('ru-c', 'C')`);
    await store([
      ...at('steady', [1, 2, 3, 30, 90, 200]),
      ...at('gone', [300, 301]), // silent since before the windows below
      ...at('ahead', [-3, -2, 40]), // a clock 3 minutes ahead: its two newest buckets are in the future
      ...at('once', [100]), // a single bucket
      ...at('back', [-1, 150]), // newest in the future, the one before it long ago
    ]);
    await catchUp();
    await expectNewestBuckets();
    const retention = { rawDays: 30, minuteDays: 90, hourDays: 730 };
    const windows = [
      [60, 0], // the last hour
      [120, 0],
      [240, 0],
      [180, 60], // ending in the past: devices sent after it, so their rollups are looked into
      [35, 20],
      [10, 0],
    ];
    for (const [fromMinutesAgo, toMinutesAgo] of windows) {
      const plan = planWindow(
        { start: new Date(now - fromMinutesAgo! * minute), end: new Date(now - toMinutesAgo! * minute) },
        retention,
        new Date(now),
        { bucketSeconds: 60 },
      );
      const summary = await database.db.withTenant('ru-c', (tx) => telemetrySummary(tx, plan));
      const [expected] = await query<{ devices: number; messages: number }>(
        `SELECT count(DISTINCT device_id)::int AS devices, count(*)::int AS messages FROM telemetry
         WHERE tenant_id = 'ru-c' AND msg_type = 'telemetry' AND time >= $1 AND time < $2`,
        [plan.start, plan.end],
      );
      expect({
        window: [fromMinutesAgo, toMinutesAgo],
        devices: summary.device_count,
        messages: summary.sample_count,
      }).toEqual({ window: [fromMinutesAgo, toMinutesAgo], ...expected });
    }
  });

  it('neither skips nor double-counts across restarts in the middle of ingest', async () => {
    const now = Date.now();
    for (let round = 0; round < 6; round += 1) {
      const batch = Array.from({ length: 50 }, (_, i) =>
        message('ru-a', `r-${i % 7}`, new Date(now - 2 * HOUR + round * 60_000 + i * 1000)),
      );
      await store(batch);
      // A worker rolls up a part (tiny slices), then "restarts": the next one starts from the watermark.
      const horizon = await database.db.withService((tx) => rollupHorizon(tx, 0));
      await database.db.withService((tx) => rollUpSlice(tx, horizon, 0.001));
    }
    await catchUp();
    expect(await messageCount()).toBe(await storedCount());
    expectSame(await rolled('telemetry_rollup_1h', 'device_id'), await raw('1 hour', 'device_id'));
  });

  // PGlite has one connection: no write can be in flight beside the rollup's.
  if (engine === 'postgres') {
    it('waits for a write still in flight instead of skipping it', async () => {
      const client = await database.connection.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
         VALUES (now(), 'ru-a', 'slow-writer', 's', 'telemetry', 0, '{"temp_c": 1}')`,
        );
        await catchUp(); // the horizon stops before the open transaction's start
        const { ingested_through } = await database.db.withService(rollupState);
        const [{ started }] = (
          await client.query<{ started: Date }>(
            'SELECT xact_start AS started FROM pg_stat_activity WHERE pid = pg_backend_pid()',
          )
        ).rows as [{ started: Date }];
        expect(ingested_through.getTime()).toBeLessThanOrEqual(started.getTime());
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await catchUp();
      const rows = await query<{ count: number }>(
        `SELECT count FROM telemetry_rollup_1h WHERE device_id = 'slow-writer' AND metric = 'temp_c'`,
      );
      expect(rows).toEqual([{ count: 1 }]);
      expect(await messageCount()).toBe(await storedCount());
    });
  }

  it('rebuilds a day from raw rows, and prunes rollups past their retention', async () => {
    await query(`UPDATE telemetry_rollup_1h SET count = count + 1000, sum = 0`);
    await query(`UPDATE telemetry_rollup_1m SET count = count + 1000`);
    await query(`UPDATE telemetry_fleet_1h SET count = count + 1000`);
    await query(`DELETE FROM telemetry_fleet_1m`);
    await query(`UPDATE telemetry_site_1h SET count = count + 1000`);
    await query(`DELETE FROM telemetry_site_1m`);
    await query(`UPDATE telemetry_rollup_1d SET min = min - 1000`);
    const days = await query<{ day: string }>(
      `SELECT DISTINCT (time AT TIME ZONE 'UTC')::date::text AS day FROM telemetry ORDER BY 1`,
    );
    for (const { day } of days) await database.db.withService((tx) => rebuildDay(tx, day, days[0]!.day));
    // Every series' buckets of every day were replaced, none left behind to add to.
    expectSame(await rolled('telemetry_rollup_1h', 'device_id'), await raw('1 hour', 'device_id'));
    expectSame(await rolled('telemetry_rollup_1m', 'device_id'), await raw('1 minute', 'device_id'));
    expectSame(await rolled('telemetry_fleet_1h', null), await raw('1 hour', null));
    expectSame(await rolled('telemetry_fleet_1m', null), await raw('1 minute', null));
    expectSame(await rolled('telemetry_site_1h', 'site_id'), await raw('1 hour', 'site_id'));
    expectSame(await rolled('telemetry_site_1m', 'site_id'), await raw('1 minute', 'site_id'));
    expectSame(await rolled('telemetry_rollup_1d', 'device_id'), await raw('1 day', 'device_id'));
    expect((await database.db.withService(rollupState)).rebuild_done_through).toBe(days.at(-1)!.day);
    // A manual fix took a device's newest messages away: rebuilding their day finds its newest buckets again.
    await query(
      `DELETE FROM telemetry WHERE tenant_id = 'ru-c' AND device_id = 'steady' AND time > now() - interval '150 minutes'`,
    );
    const fixed = await query<{ day: string }>(
      `SELECT DISTINCT ((now() - make_interval(mins => m)) AT TIME ZONE 'UTC')::date::text AS day
       FROM generate_series(0, 150) m ORDER BY 1`,
    );
    for (const { day } of fixed) await database.db.withService((tx) => rebuildDay(tx, day, days[0]!.day));
    await expectNewestBuckets();

    await query(
      `INSERT INTO telemetry_rollup_1m (tenant_id, device_id, metric, bucket, min, max, sum, count, last, last_time)
       SELECT 'ru-a', 'old', 'temp_c', now() - make_interval(days => 100) + make_interval(mins => g), 1, 1, 1, 1, 1, now()
       FROM generate_series(1, 25) g`,
    );
    // Days are kept as long as hours.
    await query(
      `INSERT INTO telemetry_rollup_1d (tenant_id, device_id, metric, bucket, min, max, sum, count, last, last_time)
       SELECT 'ru-a', 'old', 'temp_c', now() - make_interval(days => d), 1, 1, 1, 1, 1, now()
       FROM generate_series(728, 733) d`,
    );
    expect(await pruneExpiredRollups(database.db, { minuteDays: 90, hourDays: 730 }, 10)).toBe(29);
    expect(await query(`SELECT 1 FROM telemetry_rollup_1m WHERE device_id = 'old'`)).toEqual([]);
    expect(await query(`SELECT 1 FROM telemetry_rollup_1d WHERE device_id = 'old'`)).toHaveLength(2);
  });

  it('rebuilds from --since day by day, resumes where an interrupted run stopped, and counts every row once', async () => {
    const today = new Date();
    const dayStart = (offset: number) =>
      new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - offset));
    // A bulk load after the watermark: three days of rows, and one older than --since.
    const rows = [0, 1, 2].flatMap((offset) =>
      Array.from({ length: 40 }, (_, i) =>
        message('ru-a', `bulk-${i % 4}`, new Date(dayStart(offset).getTime() + i * 60_000)),
      ),
    );
    rows.push(message('ru-a', 'bulk-old', new Date(dayStart(9).getTime() + 3600_000)));
    await store(rows);
    const since = dayStart(2).toISOString().slice(0, 10);
    const stop = new Error('interrupted');
    await expect(
      rebuildRollups(database.db, since, {
        onProgress: (progress) => {
          if (progress.done === 1) throw stop;
        },
      }),
    ).rejects.toBe(stop);
    const progress: string[] = [];
    const resumed = await rebuildRollups(database.db, since, {
      onProgress: (p) => progress.push(rebuildProgressLine(p, 10)),
    });
    expect(resumed).toMatchObject({ days: 2, skipped: 1 });
    expect(progress.at(-1)).toMatch(
      /^\[##########\] 3\/3 days {2}\d{4}-\d{2}-\d{2} {2}[\d,]+ messages {2}\([\d,]+ msg\/s\)$/,
    );
    expect(await messageCount()).toBe(await storedCount());
    expectSame(await rolled('telemetry_rollup_1h', 'device_id'), await raw('1 hour', 'device_id'));
    expectSame(await rolled('telemetry_fleet_1m', null), await raw('1 minute', null));
    expect(() =>
      daysToRebuild('2026-13-01', { rebuild_since: null, rebuild_done_through: null }, '2026-12-01', false),
    ).toThrow('--since must be a date such as 2026-11-01');
  });

  it("keeps each tenant's rollups to itself under row-level security", async () => {
    for (const table of [
      'telemetry_rollup_1m',
      'telemetry_rollup_1h',
      'telemetry_rollup_1d',
      'telemetry_fleet_1m',
      'telemetry_fleet_1h',
      'telemetry_site_1m',
      'telemetry_site_1h',
      'telemetry_rollup_devices',
    ]) {
      const seen = await database.db.withTenant('ru-b', (tx) =>
        tx.query<{ tenant_id: string }>(`SELECT DISTINCT tenant_id FROM ${table}`),
      );
      expect(seen.rows).toEqual([{ tenant_id: 'ru-b' }]);
    }
  });

  it('rebuilds text rollups equal to what the worker built, last value and changes per bucket, and prunes expired ones', async () => {
    // Two doors sampled every 20 s for three hours across a UTC midnight, stored in two batches: the worker
    // compares the second batch's first samples with the values it rolled up before.
    const midnight = new Date();
    midnight.setUTCHours(0, 0, 0, 0);
    const start = midnight.getTime() - 5 * 24 * HOUR - 90 * 60_000;
    const doors: Record<string, string> = { 'door-1': 'closed', 'door-2': 'closed' };
    const rows = Array.from({ length: 540 }, (_, i) => {
      const device = i % 2 === 0 ? 'door-1' : 'door-2';
      if (next() > 0.7) doors[device] = doors[device] === 'open' ? 'closed' : 'open';
      const metrics = { door: doors[device]!, mode: next() > 0.9 ? 'DEFROST' : 'COOL', temp_c: 4 };
      const time = new Date(start + Math.floor(i / 2) * 40_000 + (i % 2) * 20_000);
      return {
        message: {
          time,
          tenant_id: 'ru-t',
          device_id: device,
          site_id: 'north',
          msg_type: 'telemetry',
          seq: i,
          metrics,
        },
        metricsJson: JSON.stringify(metrics),
      };
    });
    // The horizon comes back in milliseconds: rows stored in its last millisecond wait for the next slice.
    const rolledUpThrough = async (count: number) =>
      waitFor(async () => {
        await catchUp();
        const [rolled] = await query<{ n: number }>(
          `SELECT COALESCE(sum(count), 0)::int AS n FROM telemetry_fleet_1h WHERE tenant_id = 'ru-t' AND metric = '#messages'`,
        );
        return rolled!.n === count;
      });
    await store(rows.slice(0, 250));
    await rolledUpThrough(250);
    await store(rows.slice(250));
    await rolledUpThrough(540);

    const rawText = (width: string) =>
      query<Record<string, unknown>>(
        `SELECT tenant_id, device_id, metric, date_bin(interval '${width}', time, timestamptz '1970-01-01 00:00:00+00') AS bucket,
                (array_agg(v ORDER BY time))[1] AS first, (array_agg(v ORDER BY time DESC))[1] AS last,
                count(*) FILTER (WHERE previous <> v)::int AS changes, count(*)::int AS count
         FROM (SELECT t.tenant_id, t.device_id, m.key AS metric, t.time, m.value #>> '{}' AS v,
                      lag(m.value #>> '{}') OVER (PARTITION BY t.tenant_id, t.device_id, m.key ORDER BY t.time) AS previous
               FROM telemetry t CROSS JOIN LATERAL jsonb_each(t.metrics) AS m(key, value)
               WHERE t.tenant_id = 'ru-t' AND t.msg_type = 'telemetry' AND jsonb_typeof(m.value) = 'string') x
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
      );
    const textRolled = (table: string) =>
      query<Record<string, unknown>>(
        `SELECT tenant_id, device_id, metric, bucket, first, last, changes, count, first_time, last_time FROM ${table}
         WHERE tenant_id = 'ru-t' ORDER BY 1, 2, 3, 4`,
      );
    const built1m = await textRolled('telemetry_text_1m');
    const built1h = await textRolled('telemetry_text_1h');
    expectSame(built1m, await rawText('1 minute'));
    expectSame(built1h, await rawText('1 hour'));
    expect(built1h.reduce((sum, row) => sum + (row.changes as number), 0)).toBeGreaterThan(20);

    await query(`UPDATE telemetry_text_1m SET changes = changes + 100, last = 'stale' WHERE tenant_id = 'ru-t'`);
    await query(`DELETE FROM telemetry_text_1h WHERE tenant_id = 'ru-t'`);
    const days = await query<{ day: string }>(
      `SELECT DISTINCT (time AT TIME ZONE 'UTC')::date::text AS day FROM telemetry WHERE tenant_id = 'ru-t' ORDER BY 1`,
    );
    expect(days).toHaveLength(2);
    for (const { day } of days) await database.db.withService((tx) => rebuildDay(tx, day, days[0]!.day));
    expect(await textRolled('telemetry_text_1m')).toEqual(built1m);
    expect(await textRolled('telemetry_text_1h')).toEqual(built1h);

    // Past retention: 100-day-old minutes and 800-day-old hours go; 100-day-old hours stay.
    const old = (table: string, days: number, count: number) =>
      query(
        `INSERT INTO ${table} (tenant_id, device_id, metric, bucket, first, first_time, last, last_time, changes, count)
         SELECT 'ru-t', 'old', 'door', date_bin(interval '1 hour', now() - make_interval(days => ${days}), timestamptz '1970-01-01 00:00:00+00') - make_interval(hours => g),
                'open', now(), 'closed', now(), 1, 2
         FROM generate_series(1, ${count}) g`,
      );
    await old('telemetry_text_1m', 100, 7);
    await old('telemetry_text_1h', 800, 3);
    await old('telemetry_text_1h', 100, 2);
    expect(await pruneExpiredRollups(database.db, { minuteDays: 90, hourDays: 730 }, 4)).toBe(10);
    const left = async (table: string) =>
      (await query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE device_id = 'old'`))[0]!.n;
    expect([await left('telemetry_text_1m'), await left('telemetry_text_1h')]).toEqual([0, 2]);
    expect(await textRolled('telemetry_text_1m')).toEqual(built1m);
  });
});
