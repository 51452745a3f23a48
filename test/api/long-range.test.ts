// Long ranges (issue 17): which resolution answers a window, and that charts, summaries and a device's
// series answered from rollups equal a raw-row computation over the same (whole-bucket) window — late
// messages included before and after they are rolled up — for 24 h, 7 d and 30 d, fleet-wide and per
// device; another tenant's data never shows. On both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { planWindow } from '../../src/model/resolution.js';
import { rollUpSlice, rollupHorizon } from '../../src/model/rollups.js';
import { bearer, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedDevice } from '../helpers/seed.js';

const DAY = 86_400_000;

describe('which resolution answers a window', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  const retention = { rawDays: 30, minuteDays: 90, hourDays: 730 };
  const window = (days: number) => ({ start: new Date(now.getTime() - days * DAY), end: now });
  const plan = (days: number, bucket?: number) => {
    const { resolution, bucketSeconds } = planWindow(window(days), retention, now, { bucketSeconds: bucket });
    return [resolution, bucketSeconds];
  };

  it('draws at most 1,000 buckets from the coarsest data that fits them evenly', () => {
    expect(plan(1 / 24)).toEqual(['raw', 5]);
    expect(plan(1)).toEqual(['1m', 120]);
    expect(plan(7)).toEqual(['1m', 900]);
    expect(plan(30)).toEqual(['1h', 3600]);
    expect(plan(365)).toEqual(['1h', 43_200]);
    // A bucket asked for is kept; a whole number of minutes is always a 1-minute rollup's.
    expect(plan(1, 300)).toEqual(['1m', 300]);
    expect(plan(1, 7200)).toEqual(['1h', 7200]);
    // Fleet-wide reads ask for a minute at least: the last hour comes from 1-minute rollups.
    expect(planWindow(window(1 / 24), retention, now, { minBucketSeconds: 60 })).toMatchObject({
      resolution: '1m',
      bucketSeconds: 60,
    });
  });

  it('leaves out what retention has dropped, and widens the window to whole buckets', () => {
    // Raw rows are gone after 30 days: a 40-day-old hour comes from rollups.
    const old = { start: new Date(now.getTime() - 40 * DAY), end: new Date(now.getTime() - 40 * DAY + 3600_000) };
    expect(planWindow(old, retention, now).resolution).toBe('1m');
    expect(planWindow(old, { ...retention, minuteDays: 30 }, now)).toMatchObject({
      resolution: '1h',
      bucketSeconds: 3600,
    });
    const odd = planWindow(
      { start: new Date('2026-12-01T10:00:30Z'), end: new Date('2026-12-01T11:59:50Z') },
      retention,
      now,
    );
    expect(odd).toMatchObject({ resolution: 'raw', bucketSeconds: 10 });
    expect(odd.start.toISOString()).toBe('2026-12-01T10:00:30.000Z');
    expect(planWindow(window(1), retention, now).start.toISOString()).toBe('2026-11-30T12:00:00.000Z');
  });
});

describe.each<Engine>(['pglite', 'postgres'])('long ranges on %s', (engine) => {
  let pulse: TestPlatform;
  let token: string;
  let other: string;
  const get = async (path: string, who = token) => {
    const response = await pulse.call(path, { admin: false, headers: bearer(who) });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body;
  };
  /** Rolls up until no committed row lies past the watermark (a slice may end short of the newest). */
  const rollUp = async () => {
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const horizon = await pulse.db.withService((tx) => rollupHorizon(tx, 0));
      const slice = await pulse.db.withService((tx) => rollUpSlice(tx, horizon, 86_400));
      if (!slice?.caughtUp) continue;
      const { rows } = await pulse.db.withService((tx) =>
        tx.query<{ pending: number }>(
          `SELECT count(*)::int AS pending FROM telemetry WHERE ingested_at > (SELECT ingested_through FROM rollup_state)`,
        ),
      );
      if (rows[0]!.pending === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('the rollups did not catch up with what is stored');
  };
  /** A raw-row computation of one metric's buckets, fleet-wide or for some devices. */
  const rawChart = async (metric: string, start: string, end: string, bucket: number, device?: string | string[]) =>
    (
      await pulse.db.withService((tx) =>
        tx.query<{ time: Date; avg: number; min: number; max: number; samples: number }>(
          `SELECT date_bin(make_interval(secs => $4::int), time, timestamptz '1970-01-01 00:00:00+00') AS time,
                  avg((metrics ->> $1)::float8) AS avg, min((metrics ->> $1)::float8) AS min,
                  max((metrics ->> $1)::float8) AS max, count(*)::int AS samples
           FROM telemetry WHERE tenant_id = 'lr-a' AND msg_type = 'telemetry' AND metrics ? $1
             AND time >= $2 AND time < $3 AND ($5::text[] IS NULL OR device_id = ANY ($5))
           GROUP BY 1 ORDER BY 1`,
          [metric, start, end, bucket, device === undefined ? null : [device].flat()],
        ),
      )
    ).rows.map((row) => ({ ...row, time: row.time.toISOString() }));
  const expectSameSeries = (api: any[], raw: any[]) => {
    expect(api.length).toBe(raw.length);
    api.forEach((point, i) => {
      expect(new Date(point.time).toISOString()).toBe(raw[i].time);
      expect(point.samples).toBe(raw[i].samples);
      expect(point.min).toBe(raw[i].min);
      expect(point.max).toBe(raw[i].max);
      expect(point.avg).toBeCloseTo(raw[i].avg, 9);
    });
  };

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, { API_RATE_LIMIT: '100000' }, ['api']);
    for (const device of ['a-1', 'a-2', 'a-3']) await seedDevice(pulse.db, 'lr-a', device);
    await seedDevice(pulse.db, 'lr-b', 'b-1');
    // 31 days of one message every 20 minutes per device (and tenant B's, which must never show).
    await pulse.db.withService((tx) =>
      tx.query(
        `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
         SELECT now() - make_interval(mins => g * 20) - make_interval(secs => d.n * 7), d.tenant, d.device, 'site-1',
                'telemetry', g, jsonb_build_object('temp_c', round((20 + 10 * sin(g / 9.0 + d.n))::numeric, 2),
                                                   'pump_on', (g + d.n) % 3 = 0,
                                                   'mode', CASE WHEN (g / 3 + d.n) % 2 = 0 THEN 'AUTO' ELSE 'DEFROST' END)
         FROM generate_series(0, 31 * 72) g,
              (VALUES (1, 'lr-a', 'a-1'), (2, 'lr-a', 'a-2'), (3, 'lr-a', 'a-3'), (4, 'lr-b', 'b-1')) AS d(n, tenant, device)`,
      ),
    );
    await rollUp();
    token = await tokenFor(pulse, { username: 'lr-a', role: 'customer_viewer', tenantId: 'lr-a' });
    other = await tokenFor(pulse, { username: 'lr-b', role: 'customer_viewer', tenantId: 'lr-b' });
  }, 120_000);
  afterAll(async () => {
    await pulse?.close();
  });

  it('charts the fleet over 1 h, 24 h, 7 d and 30 d from rollups, equal to raw rows', async () => {
    for (const [hours, resolution] of [
      [1, '1m'],
      [24, '1m'],
      [168, '1m'],
      [720, '1h'],
    ] as const) {
      const chart = await get(`/api/v2/telemetry/chart?metric=temp_c&hours=${hours}`);
      expect(chart.resolution).toBe(resolution);
      expect(chart.series.length).toBeLessThanOrEqual(1000);
      expectSameSeries(chart.series, await rawChart('temp_c', chart.start, chart.end, chart.bucket_seconds));
    }
  });

  it("draws a device's whole 7 days, every metric, booleans as the share of true", async () => {
    const series = await get('/api/v2/devices/a-2/telemetry/series?hours=168');
    expect(series.resolution).toBe('1m');
    expect(Object.keys(series.metrics).sort()).toEqual(['pump_on', 'temp_c']);
    const temp = series.metrics.temp_c;
    // The first bucket is at the window's start and the last within a bucket of now: all 7 days.
    expect(new Date(temp[0].time).getTime() - new Date(series.start).getTime()).toBeLessThan(1200_000);
    expect(Date.now() - new Date(temp.at(-1).time).getTime()).toBeLessThan(series.bucket_seconds * 1000 + 1200_000);
    expectSameSeries(temp, await rawChart('temp_c', series.start, series.end, series.bucket_seconds, 'a-2'));
    const share =
      series.metrics.pump_on.reduce((sum: number, p: any) => sum + p.avg * p.samples, 0) /
      series.metrics.pump_on.reduce((sum: number, p: any) => sum + p.samples, 0);
    expect(share).toBeGreaterThan(0.25);
    expect(share).toBeLessThan(0.42);
    const month = await get('/api/v2/devices/a-2/telemetry/series?hours=720');
    expect(month.resolution).toBe('1h');
    expect(month.metrics.temp_c.length).toBeGreaterThanOrEqual(719);
  });

  it("draws a device's text metric as the last value and the changes per bucket, from rollups as from raw rows", async () => {
    const { rows } = await pulse.db.withService((tx) =>
      tx.query<{ time: Date; mode: string }>(
        `SELECT time, metrics ->> 'mode' AS mode FROM telemetry
         WHERE tenant_id = 'lr-a' AND device_id = 'a-2' AND msg_type = 'telemetry' ORDER BY time`,
      ),
    );
    for (const [hours, resolution] of [
      [720, '1h'],
      [168, '1m'],
      [6, 'raw'],
    ] as const) {
      const series = await get(`/api/v2/devices/a-2/telemetry/series?hours=${hours}`);
      expect(series.resolution).toBe(resolution);
      const ms = series.bucket_seconds * 1000;
      const expected = new Map<number, { last: string; changes: number; samples: number }>();
      rows.forEach(({ time, mode }, i) => {
        if (time < new Date(series.start)) return;
        const bucket = Math.floor(time.getTime() / ms) * ms;
        const point = expected.get(bucket) ?? { last: mode, changes: 0, samples: 0 };
        const changed = i > 0 && rows[i - 1]!.mode !== mode;
        expected.set(bucket, { last: mode, changes: point.changes + (changed ? 1 : 0), samples: point.samples + 1 });
      });
      const drawn = series.texts.mode as { time: string; last: string; changes: number; samples: number }[];
      expect(drawn.length).toBe(expected.size);
      expect(drawn.reduce((sum, point) => sum + point.changes, 0)).toBeGreaterThan(hours === 6 ? 3 : 100);
      // The first bucket may not know the value before the window (raw rows): compared from the second on.
      for (const point of drawn.slice(1))
        expect({ ...point, time: new Date(point.time).getTime() }, `${hours} h`).toEqual({
          time: new Date(point.time).getTime(),
          ...expected.get(new Date(point.time).getTime()),
        });
    }
  });

  it('summarises 24 h, 7 d and 30 d from rollups as raw rows would', async () => {
    for (const hours of [24, 168, 720]) {
      const summary = await get(`/api/v2/telemetry/summary?hours=${hours}`);
      expect(summary.resolution).not.toBe('raw');
      const { rows } = await pulse.db.withService((tx) =>
        tx.query<{ samples: number; devices: number; avg: number; min: number; max: number }>(
          `SELECT count(*)::int AS samples, count(DISTINCT device_id)::int AS devices,
                  avg((metrics ->> 'temp_c')::float8) AS avg, min((metrics ->> 'temp_c')::float8) AS min,
                  max((metrics ->> 'temp_c')::float8) AS max
           FROM telemetry WHERE tenant_id = 'lr-a' AND msg_type = 'telemetry' AND time >= $1`,
          [summary.start],
        ),
      );
      expect(summary.sample_count).toBe(rows[0]!.samples);
      expect(summary.device_count).toBe(3);
      expect(Object.keys(summary.metrics)).toEqual(['temp_c']);
      expect(summary.metrics.temp_c.samples).toBe(rows[0]!.samples);
      expect(summary.metrics.temp_c.min).toBe(rows[0]!.min);
      expect(summary.metrics.temp_c.max).toBe(rows[0]!.max);
      expect(summary.metrics.temp_c.avg).toBeCloseTo(rows[0]!.avg, 9);
    }
  });

  it('counts a late message at once, and once only after it is rolled up', async () => {
    const late = new Date(Date.now() - 10 * DAY - 3 * 3600_000);
    await pulse.db.withService((tx) =>
      tx.query(
        `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
         VALUES ($1, 'lr-a', 'a-1', 'site-1', 'telemetry', 0, '{"temp_c": -99}')`,
        [late],
      ),
    );
    const before = await get('/api/v2/telemetry/chart?metric=temp_c&hours=720');
    const lowest = () => Math.min(...before.series.map((p: any) => p.min));
    expect(lowest()).toBe(-99);
    expectSameSeries(before.series, await rawChart('temp_c', before.start, before.end, before.bucket_seconds));
    await rollUp();
    const after = await get('/api/v2/telemetry/chart?metric=temp_c&hours=720');
    expectSameSeries(after.series, await rawChart('temp_c', after.start, after.end, after.bucket_seconds));
  });

  it('charts and summarises the devices a selector picks, per site, tag or attribute, as raw rows would', async () => {
    await pulse.db.withService((tx) =>
      tx.query(
        `UPDATE device_registry SET site_id = v.site, tags = v.tags, attributes = v.attributes
         FROM (VALUES ('a-1', 'north', '{cold,x}'::text[], '{"model": "X200"}'::jsonb),
                      ('a-2', 'north', '{x}', '{"model": "X300"}'),
                      ('a-3', 'south', '{}', '{"model": "X200"}')) AS v(device, site, tags, attributes)
         WHERE tenant_id = 'lr-a' AND device_id = v.device`,
      ),
    );
    const bySite = await get('/api/v2/telemetry/chart?metric=temp_c&hours=720&group_by=site');
    expect(bySite.series).toEqual([]);
    expect(Object.keys(bySite.groups).sort()).toEqual(['north', 'south']);
    const raw = (devices: string[]) => rawChart('temp_c', bySite.start, bySite.end, bySite.bucket_seconds, devices);
    expectSameSeries(bySite.groups.north, await raw(['a-1', 'a-2']));
    expectSameSeries(bySite.groups.south, await raw(['a-3']));

    // A device counts in each of its tags; a selector narrows before grouping.
    const byTag = await get('/api/v2/telemetry/chart?metric=temp_c&hours=168&group_by=tag');
    expect(Object.keys(byTag.groups).sort()).toEqual(['cold', 'x']);
    const rawTag = (devices: string[]) => rawChart('temp_c', byTag.start, byTag.end, byTag.bucket_seconds, devices);
    expectSameSeries(byTag.groups.x, await rawTag(['a-1', 'a-2']));
    expectSameSeries(byTag.groups.cold, await rawTag(['a-1']));
    const selected = await get('/api/v2/telemetry/chart?metric=temp_c&hours=168&tag=cold');
    expect(selected.groups).toBeUndefined();
    expectSameSeries(selected.series, await rawTag(['a-1']));

    const summary = await get('/api/v2/telemetry/summary?hours=720&group_by=attribute:model&site_id=north');
    expect(Object.keys(summary.groups).sort()).toEqual(['X200', 'X300']);
    expect(summary.groups.X200.device_count).toBe(1);
    const { rows } = await pulse.db.withService((tx) =>
      tx.query<{ samples: number; avg: number; min: number; max: number }>(
        `SELECT count(*)::int AS samples, avg((metrics ->> 'temp_c')::float8) AS avg,
                min((metrics ->> 'temp_c')::float8) AS min, max((metrics ->> 'temp_c')::float8) AS max
         FROM telemetry WHERE tenant_id = 'lr-a' AND device_id = 'a-2' AND msg_type = 'telemetry' AND time >= $1`,
        [summary.start],
      ),
    );
    const x300 = summary.groups.X300.metrics.temp_c;
    expect([x300.samples, x300.min, x300.max]).toEqual([rows[0]!.samples, rows[0]!.min, rows[0]!.max]);
    expect(x300.avg).toBeCloseTo(rows[0]!.avg, 9);
    expect(Object.keys(summary.groups.X300.metrics)).toEqual(['temp_c']);
    // The whole fleet stays at the top level, as the original answers it.
    expect(summary.device_count).toBe(3);
    const all = await get('/api/v2/telemetry/summary?hours=24&tag=x');
    expect(Object.keys(all.groups)).toEqual(['all']);
    expect(all.groups.all.device_count).toBe(2);

    for (const [query, message] of [
      ['group_by=model', /site, tag or attribute:<key>/],
      ['group_by=attribute:1x', /attribute key/],
      ['group_by=site&device_id=a-1', /device_id reads one device/],
      ['attr=model', /key:op:value/],
    ] as const) {
      const response = await pulse.call(`/api/v2/telemetry/chart?metric=temp_c&${query}`, {
        admin: false,
        headers: bearer(token),
      });
      expect(response.status, query).toBe(400);
      expect(response.body.detail).toMatch(message);
    }
  });

  it("never shows another tenant's data", async () => {
    const theirs = await get('/api/v2/telemetry/summary?hours=720', other);
    expect(theirs.device_count).toBe(1);
    const chart = await get('/api/v2/telemetry/chart?metric=temp_c&hours=720', other);
    expect(chart.series.reduce((sum: number, p: any) => sum + p.samples, 0)).toBe(theirs.sample_count);
    const grouped = await get('/api/v2/telemetry/summary?hours=720&group_by=site', other);
    expect(Object.keys(grouped.groups)).toEqual(['site-1']);
    expect(grouped.groups['site-1'].device_count).toBe(1);
    expect((await get('/api/v2/telemetry/chart?metric=temp_c&hours=24&tag=x', other)).series).toEqual([]);
    const response = await pulse.call('/api/v2/devices/a-1/telemetry/series?hours=24', {
      admin: false,
      headers: bearer(other),
    });
    expect(response.status).toBe(404);
  });
});
