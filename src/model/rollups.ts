// Rollups of telemetry (ADR 024): per device, per site (ADR 035) and per tenant (fleet), 1-minute and 1-hour
// buckets, and per device 1-day ones (ADR 036). Built by the rollup worker from telemetry by ingested_at up
// to a watermark, moved in the same transaction; rebuilt per day from raw rows by `pulse rollup rebuild`;
// read through the resolution the caller chose (resolution.ts). Booleans count as 0/1 (avg = share of true).
import type { ServiceTx } from '../db/database.js';

/**
 * The slice of telemetry a statement aggregates: its placeholders start at $1. `fresh`: no rollup bucket of
 * the slice exists yet (a rebuilt day, emptied first), so its rows are inserted, not merged.
 */
type Slice = { where: string; params: unknown[]; fresh?: boolean };

/** Merges a row into the bucket already there, unless the slice is fresh (nothing can be there). */
const mergeOn = (slice: Slice, key: string, merge: string) =>
  slice.fresh ? '' : `ON CONFLICT (${key}) DO UPDATE SET ${merge}`;

const VALUE = `CASE jsonb_typeof(m.value) WHEN 'number' THEN (m.value)::text::float8
                 ELSE CASE WHEN m.value = 'true'::jsonb THEN 1 ELSE 0 END END`;
const EPOCH = `timestamptz '1970-01-01 00:00:00+00'`;
/** The newest of a group's values: the largest [epoch, value] pair (hash-aggregable, unlike ORDER BY). */
const LAST = (time: string, value: string) => `(max(ARRAY[extract(epoch FROM ${time})::float8, ${value}]))[2]`;

const MERGE_DEVICE = `
    min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max), sum = r.sum + EXCLUDED.sum,
    count = r.count + EXCLUDED.count,
    last = CASE WHEN EXCLUDED.last_time >= r.last_time THEN EXCLUDED.last ELSE r.last END,
    last_time = GREATEST(r.last_time, EXCLUDED.last_time), bool = r.bool AND EXCLUDED.bool`;
const MERGE_TEXT = `
    first = CASE WHEN EXCLUDED.first_time < r.first_time THEN EXCLUDED.first ELSE r.first END,
    first_time = LEAST(r.first_time, EXCLUDED.first_time),
    last = CASE WHEN EXCLUDED.last_time >= r.last_time THEN EXCLUDED.last ELSE r.last END,
    last_time = GREATEST(r.last_time, EXCLUDED.last_time), changes = r.changes + EXCLUDED.changes,
    count = r.count + EXCLUDED.count`;
const MERGE_FLEET = `
    min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max), sum = r.sum + EXCLUDED.sum,
    count = r.count + EXCLUDED.count, bool = r.bool AND EXCLUDED.bool`;

/** A device's buckets of `source` (`minutes` or `hours` of aggregate) folded into buckets of `width`. */
const deviceBuckets = (source: string, width: string) => `
       SELECT tenant_id, device_id, metric, date_bin(interval '${width}', bucket, ${EPOCH}) AS bucket, min(min) AS min,
              max(max) AS max, sum(sum) AS sum, sum(count)::int AS count, ${LAST('last_time', 'last')} AS last,
              max(last_time) AS last_time, bool_and(bool) AS bool
       FROM ${source} GROUP BY 1, 2, 3, 4`;

/** Inserts (or merges) a device rollup's rows, in the order of its primary key (`order`: select positions). */
const deviceInsert = (slice: Slice, table: string, select: string, order: string) => `
       INSERT INTO ${table} AS r (tenant_id, device_id, metric, bucket, min, max, sum, count, last, last_time, bool)
       ${select} ORDER BY ${order}
       ${mergeOn(slice, 'tenant_id, device_id, metric, bucket', MERGE_DEVICE)}`;

/**
 * Folds the telemetry of a slice into every rollup (device, site, fleet; numbers and texts), and each
 * device's two newest buckets; returns how many messages it read. The messages' metrics are aggregated
 * once per device, metric and minute; the hour, site and fleet rollups are built from those minutes (far
 * fewer rows than samples when devices report often), the days and the fleet's hours from the devices' hours.
 * The newest buckets are read, then written: one instance at a time holds the watermark.
 * Rows go in in each table's key order: a day's inserts walk its index once, whatever history it holds,
 * instead of jumping between pages that no longer fit in memory.
 */
async function aggregate(tx: ServiceTx, slice: Slice, workMem = '64MB'): Promise<number> {
  // Sorts and hashes get this much memory: a worker's slice fits in 64 MB; a rebuilt day asks for more.
  await tx.query(`SELECT set_config('work_mem', $1, true)`, [workMem]);
  const { rows } = await tx.query<{ messages: number }>(
    `WITH messages AS MATERIALIZED (
       SELECT tenant_id, device_id, site_id, time, metrics FROM telemetry t WHERE msg_type = 'telemetry' AND ${slice.where}),
     src AS (
       SELECT t.tenant_id, t.device_id, t.site_id, m.key AS metric, t.time, ${VALUE} AS v,
              jsonb_typeof(m.value) = 'boolean' AS bool
       FROM messages t CROSS JOIN LATERAL jsonb_each(t.metrics) AS m(key, value)
       WHERE jsonb_typeof(m.value) IN ('number', 'boolean')
       UNION ALL
       SELECT tenant_id, device_id, site_id, '#messages', time, 1, false FROM messages),
     -- A device that moves within a minute counts that minute at one of its sites.
     minutes AS MATERIALIZED (
       SELECT tenant_id, device_id, metric, date_bin(interval '1 minute', time, ${EPOCH}) AS bucket, min(v) AS min,
              max(v) AS max, sum(v) AS sum, count(*)::int AS count, ${LAST('time', 'v')} AS last, max(time) AS last_time,
              bool_and(bool) AS bool, max(site_id) AS site_id
       FROM src GROUP BY 1, 2, 3, 4),
     hours AS MATERIALIZED (${deviceBuckets('minutes', '1 hour')}),
     d1m AS (${deviceInsert(
       slice,
       'telemetry_rollup_1m',
       'SELECT tenant_id, device_id, metric, bucket, min, max, sum, count, last, last_time, bool FROM minutes',
       '1, 2, 4, 3',
     )}),
     d1h AS (${deviceInsert(slice, 'telemetry_rollup_1h', 'SELECT * FROM hours', '1, 2, 4, 3')}),
     d1d AS (${deviceInsert(slice, 'telemetry_rollup_1d', deviceBuckets('hours', '1 day'), '1, 2, 3, 4')}),
     f1m AS (
       INSERT INTO telemetry_fleet_1m AS r (tenant_id, metric, bucket, min, max, sum, count, bool)
       SELECT tenant_id, metric, bucket, min(min), max(max), sum(sum), sum(count)::int, bool_and(bool)
       FROM minutes GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
       ${mergeOn(slice, 'tenant_id, metric, bucket', MERGE_FLEET)}),
     f1h AS (
       INSERT INTO telemetry_fleet_1h AS r (tenant_id, metric, bucket, min, max, sum, count, bool)
       SELECT tenant_id, metric, bucket, min(min), max(max), sum(sum), sum(count)::int, bool_and(bool)
       FROM hours GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
       ${mergeOn(slice, 'tenant_id, metric, bucket', MERGE_FLEET)}),
     s1m AS (
       INSERT INTO telemetry_site_1m AS r (tenant_id, site_id, metric, bucket, min, max, sum, count, bool)
       SELECT tenant_id, site_id, metric, bucket, min(min), max(max), sum(sum), sum(count)::int, bool_and(bool)
       FROM minutes GROUP BY 1, 2, 3, 4 ORDER BY 1, 3, 4, 2
       ${mergeOn(slice, 'tenant_id, site_id, metric, bucket', MERGE_FLEET)}),
     -- A site's hours come from the minutes, not the devices' hours: a device that moves counts each minute
     -- at the site it was at then.
     s1h AS (
       INSERT INTO telemetry_site_1h AS r (tenant_id, site_id, metric, bucket, min, max, sum, count, bool)
       SELECT tenant_id, site_id, metric, date_bin(interval '1 hour', bucket, ${EPOCH}), min(min), max(max), sum(sum),
              sum(count)::int, bool_and(bool)
       FROM minutes GROUP BY 1, 2, 3, 4 ORDER BY 1, 3, 4, 2
       ${mergeOn(slice, 'tenant_id, site_id, metric, bucket', MERGE_FLEET)}),
     -- Text metrics: a change is counted where the new value arrives; a device's first sample in the slice
     -- is compared with the last value rolled up before it.
     texts AS (
       SELECT t.tenant_id, t.device_id, m.key AS metric, t.time, m.value #>> '{}' AS v,
              CASE WHEN row_number() OVER w = 1 THEN (
                SELECT r.last FROM telemetry_text_1m r
                WHERE r.tenant_id = t.tenant_id AND r.device_id = t.device_id AND r.metric = m.key
                  AND r.bucket <= date_bin(interval '1 minute', t.time, ${EPOCH}) AND r.last_time < t.time
                ORDER BY r.bucket DESC LIMIT 1)
              ELSE lag(m.value #>> '{}') OVER w END AS previous
       FROM messages t CROSS JOIN LATERAL jsonb_each(t.metrics) AS m(key, value)
       WHERE jsonb_typeof(m.value) = 'string'
       WINDOW w AS (PARTITION BY t.tenant_id, t.device_id, m.key ORDER BY t.time)),
     text_minutes AS MATERIALIZED (
       SELECT tenant_id, device_id, metric, date_bin(interval '1 minute', time, ${EPOCH}) AS bucket,
              (array_agg(v ORDER BY time))[1] AS first, min(time) AS first_time,
              (array_agg(v ORDER BY time DESC))[1] AS last, max(time) AS last_time,
              count(*) FILTER (WHERE previous <> v)::int AS changes, count(*)::int AS count
       FROM texts GROUP BY 1, 2, 3, 4),
     t1m AS (
       INSERT INTO telemetry_text_1m AS r (tenant_id, device_id, metric, bucket, first, first_time, last, last_time,
                                           changes, count)
       SELECT * FROM text_minutes ORDER BY 1, 2, 3, 4
       ${mergeOn(slice, 'tenant_id, device_id, metric, bucket', MERGE_TEXT)}),
     t1h AS (
       INSERT INTO telemetry_text_1h AS r (tenant_id, device_id, metric, bucket, first, first_time, last, last_time,
                                           changes, count)
       SELECT tenant_id, device_id, metric, date_bin(interval '1 hour', bucket, ${EPOCH}),
              (array_agg(first ORDER BY first_time))[1], min(first_time),
              (array_agg(last ORDER BY last_time DESC))[1], max(last_time), sum(changes)::int, sum(count)::int
       FROM text_minutes GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
       ${mergeOn(slice, 'tenant_id, device_id, metric, bucket', MERGE_TEXT)}),
     newest AS (
       SELECT n.tenant_id, n.device_id, top.buckets[1] AS last_bucket, top.buckets[2] AS previous_bucket
       -- Each device's two newest minutes of the slice, ranked by a sort: an array of all of a day's minutes
       -- per device made the rebuild's hash aggregate spill.
       FROM (SELECT tenant_id, device_id, array_agg(bucket) AS buckets
             FROM (SELECT tenant_id, device_id, bucket,
                          row_number() OVER (PARTITION BY tenant_id, device_id ORDER BY bucket DESC) AS rank
                   FROM minutes WHERE metric = '#messages') ranked
             WHERE rank <= 2 GROUP BY 1, 2) n
       LEFT JOIN telemetry_rollup_devices d ON d.tenant_id = n.tenant_id AND d.device_id = n.device_id
       CROSS JOIN LATERAL (
         SELECT ARRAY(SELECT DISTINCT b FROM unnest(n.buckets || ARRAY[d.last_bucket, d.previous_bucket]) b
                      WHERE b IS NOT NULL ORDER BY b DESC LIMIT 2) AS buckets) top
       WHERE d.last_bucket IS DISTINCT FROM top.buckets[1] OR d.previous_bucket IS DISTINCT FROM top.buckets[2]),
     devices AS (
       INSERT INTO telemetry_rollup_devices AS r (tenant_id, device_id, last_bucket, previous_bucket)
       SELECT * FROM newest
       ON CONFLICT (tenant_id, device_id)
       DO UPDATE SET last_bucket = EXCLUDED.last_bucket, previous_bucket = EXCLUDED.previous_bucket)
     SELECT (SELECT count(*)::int FROM messages) AS messages`,
    slice.params,
  );
  return rows[0]!.messages;
}

/** The latest moment the rollups may reach now; in its own transaction, before the one that rolls up. */
export async function rollupHorizon(tx: ServiceTx, lagSeconds: number): Promise<Date> {
  const { rows } = await tx.query<{ horizon: Date }>('SELECT rollup_horizon($1) AS horizon', [lagSeconds]);
  return rows[0]!.horizon;
}

export interface RollupState {
  ingested_through: Date;
  rebuild_since: string | null;
  rebuild_done_through: string | null;
}

/** The watermark, locked for this transaction; undefined when another instance holds it. */
async function lockState(tx: ServiceTx, wait: boolean): Promise<RollupState | undefined> {
  const { rows } = await tx.query<RollupState>(
    `SELECT ingested_through, rebuild_since::text, rebuild_done_through::text FROM rollup_state WHERE id = 1
     FOR UPDATE ${wait ? '' : 'SKIP LOCKED'}`,
  );
  return rows[0];
}

export async function rollupState(tx: ServiceTx): Promise<RollupState> {
  const { rows } = await tx.query<RollupState>(
    `SELECT ingested_through, rebuild_since::text, rebuild_done_through::text FROM rollup_state WHERE id = 1`,
  );
  return rows[0]!;
}

/**
 * Rolls up the telemetry ingested after the watermark, up to `horizon` but at most `sliceSeconds` of
 * ingest, and moves the watermark there — one transaction. Undefined when another instance is at it.
 */
export async function rollUpSlice(
  tx: ServiceTx,
  horizon: Date,
  sliceSeconds: number,
): Promise<{ messages: number; through: Date; caughtUp: boolean } | undefined> {
  const state = await lockState(tx, false);
  if (!state) return undefined;
  const from = state.ingested_through;
  const sliceEnd = new Date(from.getTime() + sliceSeconds * 1000);
  const through = sliceEnd < horizon ? sliceEnd : horizon;
  if (through <= from) return { messages: 0, through: from, caughtUp: true };
  const messages = await aggregate(tx, {
    where: 't.ingested_at > $1 AND t.ingested_at <= $2',
    params: [from, through],
  });
  await tx.query(`UPDATE rollup_state SET ingested_through = $1, updated_at = now() WHERE id = 1`, [through]);
  return { messages, through, caughtUp: through.getTime() === horizon.getTime() };
}

const ROLLUP_TABLES = [
  'telemetry_rollup_1m',
  'telemetry_rollup_1h',
  'telemetry_rollup_1d',
  'telemetry_fleet_1m',
  'telemetry_fleet_1h',
  'telemetry_site_1m',
  'telemetry_site_1h',
  'telemetry_text_1m',
  'telemetry_text_1h',
] as const;
type RollupTable = (typeof ROLLUP_TABLES)[number];

/** What a rollup table's primary key leads with before `bucket`: one time series per value of these. */
const SERIES: Record<RollupTable, string[]> = {
  telemetry_rollup_1m: ['tenant_id', 'device_id'],
  telemetry_rollup_1h: ['tenant_id', 'device_id'],
  telemetry_rollup_1d: ['tenant_id', 'device_id'],
  telemetry_fleet_1m: ['tenant_id', 'metric'],
  telemetry_fleet_1h: ['tenant_id', 'metric'],
  telemetry_site_1m: ['tenant_id', 'metric'],
  telemetry_site_1h: ['tenant_id', 'metric'],
  telemetry_text_1m: ['tenant_id', 'device_id', 'metric'],
  telemetry_text_1h: ['tenant_id', 'device_id', 'metric'],
};

/**
 * Before a rebuild of the days from `from` on: moves the watermark to `horizon`, rolling up on the way only
 * what the rebuild will not recompute (rows ingested since the watermark whose time is before `from`), so
 * rows stored after the watermark (a bulk load, say) are counted once — by the rebuild.
 */
export async function takeOverForRebuild(tx: ServiceTx, from: string, horizon: Date): Promise<number> {
  const state = (await lockState(tx, true))!;
  if (horizon <= state.ingested_through) return 0;
  const messages = await aggregate(tx, {
    where: `t.ingested_at > $1 AND t.ingested_at <= $2 AND t.time < $3::date::timestamp AT TIME ZONE 'UTC'`,
    params: [state.ingested_through, horizon, from],
  });
  await tx.query(`UPDATE rollup_state SET ingested_through = $1, updated_at = now() WHERE id = 1`, [horizon]);
  return messages;
}

/**
 * Recomputes one UTC day of every rollup from raw rows: what the watermark covers now (rows ingested
 * later are the worker's). Holds the watermark meanwhile, so the two never count a row twice.
 */
export async function rebuildDay(tx: ServiceTx, day: string, since: string): Promise<number> {
  const state = (await lockState(tx, true))!;
  const start = `${day}T00:00:00Z`;
  for (const table of ROLLUP_TABLES) {
    const key = SERIES[table];
    const of = (alias: string) => key.map((column) => `${alias}.${column}`).join(', ');
    // The day's buckets of each series, found through the primary key: one index range per series (the
    // series listed by a skip scan of the same key), not a scan of every bucket kept — the cost of a day
    // stays the same however much history the table holds.
    await tx.query(
      `WITH RECURSIVE series AS (
         (SELECT ${key.join(', ')} FROM ${table} ORDER BY ${key.join(', ')} LIMIT 1)
         UNION ALL
         SELECT next.* FROM series s CROSS JOIN LATERAL (
           SELECT ${of('r')} FROM ${table} r WHERE (${of('r')}) > (${of('s')})
           ORDER BY ${of('r')} LIMIT 1) next)
       DELETE FROM ${table} r USING series s
       WHERE ${key.map((column) => `r.${column} = s.${column}`).join(' AND ')}
         AND r.bucket >= $1::timestamptz AND r.bucket < $1::timestamptz + interval '1 day'`,
      [start],
    );
  }
  // The day's buckets were just emptied: its rows are inserted, not merged. A day's minutes (millions of rows
  // for a large fleet) are hashed and sorted with more memory, so less of them spills to disk.
  const messages = await aggregate(
    tx,
    {
      where: `t.time >= $1::timestamptz AND t.time < $1::timestamptz + interval '1 day' AND t.ingested_at <= $2`,
      params: [start, state.ingested_through],
      fresh: true,
    },
    '256MB',
  );
  // A newest bucket in this day may be gone with the raw rows it came from: read it again from the rollups.
  await tx.query(
    `UPDATE telemetry_rollup_devices d
     SET (last_bucket, previous_bucket) = (SELECT n[1], n[2] FROM rollup_newest_buckets(d.tenant_id, d.device_id) n)
     WHERE d.last_bucket >= $1::timestamptz AND d.last_bucket < $1::timestamptz + interval '1 day'
        OR d.previous_bucket >= $1::timestamptz AND d.previous_bucket < $1::timestamptz + interval '1 day'`,
    [start],
  );
  await tx.query(
    `UPDATE rollup_state SET rebuild_since = $1::date, rebuild_done_through = $2::date, updated_at = now() WHERE id = 1`,
    [since, day],
  );
  return messages;
}

/** Deletes up to `batch` rollup rows older than `days` from one table; returns how many went. */
export async function pruneRollups(tx: ServiceTx, table: RollupTable, days: number, batch: number): Promise<number> {
  if (!ROLLUP_TABLES.includes(table)) throw new Error(`not a rollup table: ${table}`);
  const { rowCount } = await tx.query(
    `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(
       SELECT ctid FROM ${table} WHERE bucket < now() - make_interval(days => $1::int) LIMIT $2))`,
    [days, batch],
  );
  return rowCount ?? 0;
}

/** Drops rollup rows past their resolution's retention (0 keeps), in bounded batches: never a long lock. */
export async function pruneExpiredRollups(
  db: { withService<T>(fn: (tx: ServiceTx) => Promise<T>): Promise<T> },
  retention: { minuteDays: number; hourDays: number },
  batch = 10_000,
): Promise<number> {
  let pruned = 0;
  for (const [table, days] of [
    ['telemetry_rollup_1m', retention.minuteDays],
    ['telemetry_fleet_1m', retention.minuteDays],
    ['telemetry_site_1m', retention.minuteDays],
    ['telemetry_text_1m', retention.minuteDays],
    ['telemetry_rollup_1h', retention.hourDays],
    ['telemetry_rollup_1d', retention.hourDays],
    ['telemetry_fleet_1h', retention.hourDays],
    ['telemetry_site_1h', retention.hourDays],
    ['telemetry_text_1h', retention.hourDays],
  ] as const) {
    if (days === 0) continue;
    for (;;) {
      const deleted = await db.withService((tx) => pruneRollups(tx, table, days, batch));
      pruned += deleted;
      if (deleted < batch) break;
    }
  }
  return pruned;
}
