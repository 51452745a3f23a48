// Telemetry: written by ingest in batches (ServiceTx), read per tenant (TenantTx).
import type { Engine } from '../db/connection.js';
import type { Database, ServiceTx, TenantTx } from '../db/database.js';
import type { AcceptedMessage, Metrics } from '../contracts/messages.js';
import type { Plan } from './resolution.js';

export interface TelemetryRow {
  timestamp: Date;
  metrics: Metrics;
  seq: number;
  msg_type: string;
}

export async function telemetryRange(tx: TenantTx, deviceId: string, start: Date, end: Date, limit: number) {
  const { rows } = await tx.query<TelemetryRow>(
    `SELECT time AS timestamp, metrics, seq, msg_type FROM telemetry
     WHERE tenant_id = $1 AND device_id = $2 AND time >= $3 AND time <= $4
     ORDER BY time DESC LIMIT $5`,
    [tx.tenantId, deviceId, start, end, limit],
  );
  return rows;
}

/** Newest telemetry rows (heartbeats carry no metrics and never count as the latest values). */
export async function latestTelemetry(tx: TenantTx, deviceId: string, count: number) {
  const { rows } = await tx.query<Omit<TelemetryRow, 'msg_type'>>(
    `SELECT time AS timestamp, metrics, seq FROM telemetry
     WHERE tenant_id = $1 AND device_id = $2 AND msg_type = 'telemetry'
     ORDER BY time DESC LIMIT $3`,
    [tx.tenantId, deviceId, count],
  );
  return rows;
}

const EPOCH = `timestamptz '1970-01-01 00:00:00+00'`;
/** A metric's value as a number: booleans count 0/1, so averages are the share of true. */
const valueOf = (json: string) =>
  `CASE jsonb_typeof(${json}) WHEN 'number' THEN (${json})::text::float8 ELSE CASE WHEN ${json} = 'true'::jsonb THEN 1 ELSE 0 END END`;

/** A bucket's or window's statistics over sample rows (sum/count/min/max). */
const STATS = 'sum(sum) / sum(count) AS avg, min(min) AS min, max(max) AS max, sum(count)::int AS samples';

export interface MetricStats {
  metric: string;
  avg: number;
  min: number;
  max: number;
  samples: number;
}

export interface SeriesQuery {
  /** One metric, or every metric when undefined. */
  metric?: string | undefined;
  /** One device, or the whole fleet when undefined. */
  deviceId?: string | undefined;
  /** Instead of one device or the fleet: these devices, each counted in its group (devicesByGroup). */
  groups?: { device_id: string; group: string }[] | undefined;
  /**
   * Instead of one device or the fleet: sites, from their own rollups (a message counts at the site it was
   * sent from) — `only` these (every site when undefined), each its own group when `grouped`, else summed.
   */
  sites?: { only?: string[] | undefined; grouped: boolean } | undefined;
  plan: Plan;
}

/** Every telemetry row ingested up to the watermark is in the rollups. */
async function readWatermark(tx: TenantTx): Promise<Date> {
  const { rows } = await tx.query<{ ingested_through: Date }>(`SELECT ingested_through FROM rollup_state`);
  return rows[0]!.ingested_through;
}

/**
 * Runs a read of rollups and raw rows for one watermark. It is read first and passed as a value, so the
 * planner sees how recent it is (ingested_at's BRIN index then finds the few rows past it); when the
 * rollup worker moved it meanwhile, the read is repeated, so no row is counted in both. These reads are
 * small: parallel workers and JIT compilation would cost more than they save.
 */
async function atWatermark<T>(
  tx: TenantTx,
  read: (tiers: Tiers) => Promise<T>,
  plan: Plan,
  options: { wholeDays?: boolean } = {},
): Promise<T> {
  await tx.query(`SET LOCAL max_parallel_workers_per_gather = 0`);
  // Their estimated cost over a month of partitions crosses jit_above_cost: compiling took 100 ms of 105.
  await tx.query(`SET LOCAL jit = off`);
  for (let attempt = 1; ; attempt += 1) {
    const watermark = await readWatermark(tx);
    const result = await read(tiers(plan, watermark, options.wholeDays));
    if (attempt >= 5 || (await readWatermark(tx)).getTime() === watermark.getTime()) return result;
  }
}

const floorTo = (date: Date, seconds: number) =>
  new Date(Math.floor(date.getTime() / (seconds * 1000)) * seconds * 1000);

const ceilTo = (date: Date, seconds: number) => new Date(Math.ceil(date.getTime() / (seconds * 1000)) * seconds * 1000);
const DAY_SECONDS = 86_400;

/**
 * Where a window's data comes from: rollup tables over time ranges, each from where the one before ends,
 * then raw rows from `rawFrom` on, and before it the raw rows ingested after the watermark (late or
 * backfilled: not rolled up yet). A 1-hour plan reads 1-hour buckets up to the watermark's hour, then
 * 1-minute buckets up to its minute; a 1-minute plan 1-minute buckets up to its minute; a raw plan raw rows
 * only. With `wholeDays` (a statistic over the window of devices' own rollups, not a series) a 1-hour plan
 * reads the window's whole days, up to the watermark's, from the 1-day rollups, and its hours before and
 * after them from the 1-hour ones.
 */
interface Tiers {
  rollups: { resolution: '1m' | '1h' | '1d'; until: Date }[];
  rawFrom: Date | undefined;
  watermark: Date;
}

function tiers(plan: Plan, watermark: Date, wholeDays = false): Tiers {
  if (plan.resolution === 'raw') return { rollups: [], rawFrom: undefined, watermark };
  const minute = floorTo(watermark, 60);
  if (plan.resolution === '1m') return { rollups: [{ resolution: '1m', until: minute }], rawFrom: minute, watermark };
  const hour = floorTo(watermark, 3600);
  const hours: Tiers['rollups'] = [
    { resolution: '1h', until: hour },
    { resolution: '1m', until: minute },
  ];
  if (!wholeDays) return { rollups: hours, rawFrom: minute, watermark };
  // Never past the watermark's hour, and each tier's end at or after the one before (an empty range).
  const firstDay = new Date(Math.min(ceilTo(plan.start, DAY_SECONDS).getTime(), hour.getTime()));
  const lastDay = new Date(
    Math.max(
      firstDay.getTime(),
      Math.min(floorTo(watermark, DAY_SECONDS).getTime(), floorTo(plan.end, DAY_SECONDS).getTime()),
    ),
  );
  const days: Tiers['rollups'] = [
    { resolution: '1h', until: firstDay },
    { resolution: '1d', until: lastDay },
  ];
  return { rollups: [...days, ...hours], rawFrom: minute, watermark };
}

/**
 * The parts of a window as SQL over one row shape, with their parameters. `rollup(table, from, until)` and
 * `raw(condition)` write a part; placeholders from $1 are the caller's `params`, the parts' own follow.
 */
function parts(
  tiers: Tiers,
  params: unknown[],
  start: Date,
  end: Date,
  write: { rollup: (table: string, range: string) => string; raw: (range: string) => string },
): { sql: string; params: unknown[] } {
  const all = [...params];
  const at = (value: unknown) => `$${all.push(value)}::timestamptz`;
  const [from, to] = [at(start), at(end)];
  if (tiers.rawFrom === undefined) return { sql: write.raw(`t.time >= ${from} AND t.time < ${to}`), params: all };
  const sql: string[] = [];
  let since = from;
  for (const tier of tiers.rollups) {
    const until = at(tier.until);
    sql.push(write.rollup(tier.resolution, `r.bucket >= ${since} AND r.bucket < LEAST(${to}, ${until})`));
    since = `GREATEST(${from}, ${until})`;
  }
  const rawFrom = at(tiers.rawFrom);
  sql.push(write.raw(`t.time >= GREATEST(${from}, ${rawFrom}) AND t.time < ${to}`));
  sql.push(
    write.raw(`t.time >= ${from} AND t.time < LEAST(${to}, ${rawFrom}) AND t.ingested_at > ${at(tiers.watermark)}`),
  );
  return { sql: sql.join('\n UNION ALL '), params: all };
}

/**
 * A window's samples as (grp, metric, time, min, max, sum, count, bool) rows: rollup buckets and raw rows.
 * The fleet's own rollups answer for the whole fleet, the sites' for sites; a device's, for one device or
 * for groups of them (each device's rows joined to its groups, found by index one device at a time).
 */
function samples(tx: TenantTx, query: SeriesQuery, tiers: Tiers) {
  const value = valueOf('m.value');
  const { groups, sites } = query;
  const params: unknown[] = [tx.tenantId, query.metric ?? null, query.deviceId ?? null];
  if (groups)
    params.push(
      groups.map((row) => row.device_id),
      groups.map((row) => row.group),
    );
  if (sites) params.push(sites.only ?? null);
  const table = sites ? 'site' : query.deviceId === undefined && groups === undefined ? 'fleet' : 'rollup';
  /** The group column, the join that finds it and the condition that picks the rows of one source. */
  const scope = (alias: string) => {
    if (groups)
      return {
        group: 'g.grp',
        join: `JOIN unnest($4::text[], $5::text[]) AS g(device_id, grp) ON g.device_id = ${alias}.device_id`,
        where: 'true',
      };
    if (sites)
      return {
        group: sites.grouped ? `${alias}.site_id` : 'NULL::text',
        join: '',
        where: `($4::text[] IS NULL OR ${alias}.site_id = ANY ($4::text[]))`,
      };
    return { group: 'NULL::text', join: '', where: 'true' };
  };
  return parts(tiers, params, query.plan.start, query.plan.end, {
    rollup: (resolution, range) => `
      SELECT ${scope('r').group} AS grp, r.metric, r.bucket AS time, r.min, r.max, r.sum, r.count, r.bool
      FROM telemetry_${table}_${resolution} r ${scope('r').join}
      WHERE r.tenant_id = $1 AND ${table === 'rollup' && query.deviceId !== undefined ? 'r.device_id = $3' : '$3::text IS NULL'}
        AND ${scope('r').where} AND ($2::text IS NULL OR r.metric = $2) AND r.metric <> '#messages' AND ${range}`,
    raw: (range) => `
      SELECT ${scope('t').group} AS grp, m.key AS metric, t.time, ${value} AS min, ${value} AS max, ${value} AS sum,
             1 AS count, jsonb_typeof(m.value) = 'boolean' AS bool
      FROM telemetry t ${scope('t').join} CROSS JOIN LATERAL jsonb_each(t.metrics) AS m(key, value)
      WHERE t.tenant_id = $1 AND ($3::text IS NULL OR t.device_id = $3) AND ${scope('t').where}
        AND t.msg_type = 'telemetry' AND ${range}
        AND ($2::text IS NULL OR m.key = $2) AND jsonb_typeof(m.value) IN ('number', 'boolean')`,
  });
}

export interface SeriesPoint {
  /** The group of a grouped read. */
  group?: string;
  metric: string;
  time: Date;
  avg: number;
  min: number;
  max: number;
  samples: number;
}

/** Metrics in the plan's buckets (epoch-aligned, so stable across calls), per metric in time order. */
export function telemetrySeries(tx: TenantTx, query: SeriesQuery): Promise<SeriesPoint[]> {
  return atWatermark(
    tx,
    async (tiers) => {
      const { sql, params } = samples(tx, query, tiers);
      const bucket = `$${params.length + 1}`;
      const { rows } = await tx.query<SeriesPoint>(
        `SELECT date_bin(make_interval(secs => ${bucket}::int), time, ${EPOCH}) AS time,
                ${query.groups || query.sites?.grouped ? 'grp AS group, ' : ''}metric, ${STATS}
         FROM (${sql}) s GROUP BY 1, grp, metric ORDER BY grp, metric, 1`,
        [...params, query.plan.bucketSeconds],
      );
      return rows;
    },
    query.plan,
  );
}

export interface TextPoint {
  metric: string;
  time: Date;
  /** The value in force at the bucket's end. */
  last: string;
  /** How many times the value changed within the bucket (into it, from the one before, included). */
  changes: number;
  samples: number;
}

/**
 * A device's text metrics in the plan's buckets: from the text rollups (changes counted as they were
 * rolled up) and raw rows (a change wherever a value differs from the one before it in the window).
 */
export function textSeries(tx: TenantTx, deviceId: string, plan: Plan): Promise<TextPoint[]> {
  return atWatermark(
    tx,
    async (tiers) => {
      const { sql, params } = parts(tiers, [tx.tenantId, deviceId], plan.start, plan.end, {
        rollup: (resolution, range) => `
          SELECT r.metric, r.first_time, r.first, r.last_time, r.last, r.changes, r.count, false AS raw
          FROM telemetry_text_${resolution} r WHERE r.tenant_id = $1 AND r.device_id = $2 AND ${range}`,
        raw: (range) => `
          SELECT m.key AS metric, t.time AS first_time, m.value #>> '{}' AS first, t.time AS last_time,
                 m.value #>> '{}' AS last, 0 AS changes, 1 AS count, true AS raw
          FROM telemetry t CROSS JOIN LATERAL jsonb_each(t.metrics) AS m(key, value)
          WHERE t.tenant_id = $1 AND t.device_id = $2 AND t.msg_type = 'telemetry' AND ${range}
            AND jsonb_typeof(m.value) = 'string'`,
      });
      const { rows } = await tx.query<TextPoint>(
        `SELECT metric, date_bin(make_interval(secs => $${params.length + 1}::int), first_time, ${EPOCH}) AS time,
                (array_agg(last ORDER BY last_time DESC))[1] AS last,
                sum(changes + CASE WHEN raw AND previous <> first THEN 1 ELSE 0 END)::int AS changes,
                sum(count)::int AS samples
         FROM (SELECT p.*, lag(p.last) OVER (PARTITION BY p.metric ORDER BY p.first_time) AS previous
               FROM (${sql}) p) s
         GROUP BY 1, 2 ORDER BY 1, 2`,
        [...params, plan.bucketSeconds],
      );
      return rows;
    },
    plan,
  );
}

/**
 * avg/min/max of a metric (every numeric metric when undefined) per group over the plan's window (booleans
 * left out): groups of devices, or sites from their own rollups.
 */
export function groupedSummary(tx: TenantTx, plan: Plan, grouping: Pick<SeriesQuery, 'groups' | 'sites' | 'metric'>) {
  return atWatermark(
    tx,
    async (tiers) => {
      const { sql, params } = samples(tx, { ...grouping, plan }, tiers);
      const { rows } = await tx.query<MetricStats & { group: string }>(
        `SELECT grp AS group, metric, ${STATS} FROM (${sql}) s WHERE NOT bool GROUP BY 1, 2 ORDER BY 1, 2`,
        params,
      );
      return rows;
    },
    plan,
    // Only devices' own rollups have days.
    { wholeDays: grouping.groups !== undefined },
  );
}

/** avg/min/max of every numeric metric of the tenant's devices over the plan's window, and what sent them. */
export function telemetrySummary(tx: TenantTx, plan: Plan) {
  return atWatermark(
    tx,
    async (tiers) => {
      const { sql, params } = samples(tx, { plan }, tiers);
      const metrics = await tx.query<MetricStats>(
        `SELECT metric, ${STATS}
         FROM (${sql}) s WHERE NOT bool GROUP BY 1 ORDER BY 1`,
        params,
      );
      return { ...(await messageTotals(tx, plan, tiers)), metrics: metrics.rows };
    },
    plan,
  );
}

/**
 * Telemetry messages in the window and the devices that sent them: the fleet's '#messages' rollups and the
 * raw rows not in them. Where rollups answer, a device counts when one of its two newest buckets lies in
 * their part of the window; only a device whose two newest buckets both lie after it (a window ending in
 * the past, a clock ahead) is looked up in the rollups, one index probe per tier.
 */
async function messageTotals(tx: TenantTx, plan: Plan, tiers: Tiers) {
  const counted = parts(tiers, [tx.tenantId], plan.start, plan.end, {
    rollup: (resolution, range) => `
      SELECT NULL::text AS device_id, r.count FROM telemetry_fleet_${resolution} r
      WHERE r.tenant_id = $1 AND r.metric = '#messages' AND ${range}`,
    raw: (range) => `
      SELECT t.device_id, 1 AS count FROM telemetry t WHERE t.tenant_id = $1 AND t.msg_type = 'telemetry' AND ${range}`,
  });
  // $2..$3: the part of the window the rollups answer (empty for a raw plan).
  const rolledUpUntil = tiers.rawFrom === undefined ? plan.start : tiers.rawFrom < plan.end ? tiers.rawFrom : plan.end;
  const present = parts(tiers, [tx.tenantId, plan.start, rolledUpUntil], plan.start, plan.end, {
    rollup: (resolution, range) => `
      SELECT d.device_id FROM telemetry_rollup_devices d CROSS JOIN LATERAL (
        SELECT 1 FROM telemetry_rollup_${resolution} r
        WHERE r.tenant_id = d.tenant_id AND r.device_id = d.device_id AND r.metric = '#messages' AND ${range}
        LIMIT 1) seen
      WHERE d.tenant_id = $1 AND d.last_bucket >= $3::timestamptz
        AND (d.previous_bucket IS NULL OR d.previous_bucket >= $3::timestamptz)`,
    raw: (range) => `
      SELECT DISTINCT t.device_id FROM telemetry t WHERE t.tenant_id = $1 AND t.msg_type = 'telemetry' AND ${range}`,
  });
  const [messages, devices] = await Promise.all([
    tx.query<{ sample_count: number }>(
      `SELECT COALESCE(sum(count), 0)::int AS sample_count FROM (${counted.sql}) s`,
      counted.params,
    ),
    tx.query<{ device_count: number }>(
      `SELECT count(DISTINCT device_id)::int AS device_count FROM (
         SELECT device_id FROM telemetry_rollup_devices
         WHERE tenant_id = $1 AND (last_bucket >= $2::timestamptz AND last_bucket < $3::timestamptz
                                   OR previous_bucket >= $2::timestamptz AND previous_bucket < $3::timestamptz)
         UNION ALL ${present.sql}) s`,
      present.params,
    ),
  ]);
  return { sample_count: messages.rows[0]!.sample_count, device_count: devices.rows[0]!.device_count };
}

/** An accepted message and its metrics as JSON text (as the device sent them, when they could be cut out). */
export interface TelemetryInsert {
  message: AcceptedMessage;
  metricsJson: string;
}

const COPY_TELEMETRY = 'COPY telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics) FROM STDIN';

function copyText(rows: TelemetryInsert[]): string {
  let text = '';
  for (const row of rows) text += copyRow(row);
  return text;
}

/**
 * Stores a batch in a transaction of its own, as ingest does: on PostgreSQL one COPY that commits by
 * itself (fewer round trips per batch, `copyAsService`), on PGlite `insertTelemetry`.
 */
export function storeTelemetry(db: Database, rows: TelemetryInsert[]): Promise<void> {
  if (db.engine === 'postgres') return db.copyAsService(COPY_TELEMETRY, copyText(rows));
  return db.withService((tx) => insertTelemetry(tx, db.engine, rows));
}

/**
 * Writes a batch in the caller's transaction: COPY on PostgreSQL (the pipeline role bypasses RLS, which COPY
 * requires), one multi-row INSERT from seven unnested arrays on PGlite.
 */
export async function insertTelemetry(tx: ServiceTx, engine: Engine, rows: TelemetryInsert[]): Promise<void> {
  if (engine === 'postgres') {
    await tx.copyFrom(COPY_TELEMETRY, copyText(rows));
    return;
  }
  const messages = rows.map((row) => row.message);
  await tx.query(
    `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
     SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::jsonb[])`,
    [
      messages.map((m) => m.time),
      messages.map((m) => m.tenant_id),
      messages.map((m) => m.device_id),
      messages.map((m) => m.site_id),
      messages.map((m) => m.msg_type),
      messages.map((m) => m.seq),
      rows.map((row) => row.metricsJson),
    ],
  );
}

/** The newest stored message of a device newer than `after` (a sign of life), for the evaluator's stale check. */
export interface StoredSignOfLife {
  tenant_id: string;
  device_id: string;
  time: Date;
  msg_type: string;
}

/**
 * For each device, its newest stored message with a time after `after` and up to `until`, if any (one index
 * probe per device). The evaluator asks before it opens NO_HEARTBEAT: a message may be stored before the
 * bus brings it (ADR 009).
 */
export async function latestSignsOfLife(
  tx: ServiceTx,
  devices: { tenant_id: string; device_id: string; after: Date; until: Date }[],
): Promise<StoredSignOfLife[]> {
  if (devices.length === 0) return [];
  const { rows } = await tx.query<StoredSignOfLife>(
    `SELECT d.tenant_id, d.device_id, newest.time, newest.msg_type
     FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS d(tenant_id, device_id, after, until)
     JOIN LATERAL (SELECT t.time, t.msg_type FROM telemetry t
                   WHERE t.tenant_id = d.tenant_id AND t.device_id = d.device_id
                     AND t.time > d.after AND t.time <= d.until
                   ORDER BY t.time DESC LIMIT 1) newest ON true`,
    [
      devices.map((d) => d.tenant_id),
      devices.map((d) => d.device_id),
      devices.map((d) => d.after),
      devices.map((d) => d.until),
    ],
  );
  return rows;
}

/** One row of COPY's text format: tab-separated, backslash escapes for the separators themselves. */
function copyRow({ message: m, metricsJson }: TelemetryInsert): string {
  return `${m.time.toISOString()}\t${escapeCopy(m.tenant_id)}\t${escapeCopy(m.device_id)}\t${escapeCopy(m.site_id)}\t${escapeCopy(m.msg_type)}\t${m.seq}\t${escapeCopy(metricsJson)}\n`;
}

const COPY_SPECIAL = /[\\\t\n\r]/g;

const HAS_COPY_SPECIAL = /[\\\t\n\r]/;

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function escapeCopy(value: string): string {
  if (!HAS_COPY_SPECIAL.test(value)) return value;
  return value.replace(COPY_SPECIAL, (char) => COPY_ESCAPES[char]!);
}
