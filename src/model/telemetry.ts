// Telemetry: written by ingest in batches (ServiceTx), read per tenant (TenantTx).
import type { Engine } from '../db/connection.js';
import type { ServiceTx, TenantTx } from '../db/database.js';
import type { Plan } from './resolution.js';

export interface TelemetryRow {
  timestamp: Date;
  metrics: Record<string, number | boolean>;
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

export interface SeriesQuery {
  /** One metric, or every metric when undefined. */
  metric?: string | undefined;
  /** One device, or the whole fleet when undefined. */
  deviceId?: string | undefined;
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
 * rollup worker moved it meanwhile, the read is repeated, so no row is counted in both.
 */
async function atWatermark<T>(tx: TenantTx, read: (watermark: Date) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    const watermark = await readWatermark(tx);
    const result = await read(watermark);
    if (attempt >= 5 || (await readWatermark(tx)).getTime() === watermark.getTime()) return result;
  }
}

/** Where a rollup plan switches from rollup buckets to raw rows: the watermark floored to the resolution. */
const cutAt = (plan: Plan, watermark: Date) => {
  const ms = (plan.resolution === '1m' ? 60 : 3600) * 1000;
  return new Date(Math.floor(watermark.getTime() / ms) * ms);
};

/**
 * The samples of a window as (metric, time, min, max, sum, count, bool) rows, with their parameters: for a
 * rollup plan, its buckets before the cut, the raw rows from the cut on, and before it the raw rows ingested
 * after the watermark (late or backfilled: not rolled up yet); for a raw plan, raw rows. A window reaching
 * now, or holding messages that arrived late, is whole. Parameters: $1 tenant, $2 metric, $3 device,
 * $4 start, $5 end, then $6 cut and $7 watermark.
 */
function samples(tx: TenantTx, query: SeriesQuery, watermark: Date): { sql: string; params: unknown[] } {
  const { plan } = query;
  const value = valueOf('m.value');
  const raw = (part: string) => `
    SELECT m.key AS metric, t.time, ${value} AS min, ${value} AS max, ${value} AS sum, 1 AS count,
           jsonb_typeof(m.value) = 'boolean' AS bool
    FROM telemetry t CROSS JOIN LATERAL jsonb_each(t.metrics) AS m(key, value)
    WHERE t.tenant_id = $1 AND ($3::text IS NULL OR t.device_id = $3) AND t.msg_type = 'telemetry' AND ${part}
      AND ($2::text IS NULL OR m.key = $2) AND jsonb_typeof(m.value) IN ('number', 'boolean')`;
  const params = [tx.tenantId, query.metric ?? null, query.deviceId ?? null, plan.start, plan.end];
  if (plan.resolution === 'raw') return { sql: raw('t.time >= $4 AND t.time < $5'), params };
  const table =
    query.deviceId === undefined ? `telemetry_fleet_${plan.resolution}` : `telemetry_rollup_${plan.resolution}`;
  return {
    sql: `
      SELECT r.metric, r.bucket AS time, r.min, r.max, r.sum, r.count, r.bool FROM ${table} r
      WHERE r.tenant_id = $1 AND ${query.deviceId === undefined ? '$3::text IS NULL' : 'r.device_id = $3'}
        AND ($2::text IS NULL OR r.metric = $2) AND r.metric <> '#messages'
        AND r.bucket >= $4 AND r.bucket < LEAST($5, $6::timestamptz)
      UNION ALL ${raw('t.time >= GREATEST($4, $6::timestamptz) AND t.time < $5')}
      UNION ALL ${raw('t.time >= $4 AND t.time < LEAST($5, $6::timestamptz) AND t.ingested_at > $7')}`,
    params: [...params, cutAt(plan, watermark), watermark],
  };
}

export interface SeriesPoint {
  metric: string;
  time: Date;
  avg: number;
  min: number;
  max: number;
  samples: number;
}

/** Metrics in the plan's buckets (epoch-aligned, so stable across calls), per metric in time order. */
export function telemetrySeries(tx: TenantTx, query: SeriesQuery): Promise<SeriesPoint[]> {
  return atWatermark(tx, async (watermark) => {
    const { sql, params } = samples(tx, query, watermark);
    const bucket = `$${params.length + 1}`;
    const { rows } = await tx.query<SeriesPoint>(
      `SELECT metric, date_bin(make_interval(secs => ${bucket}::int), time, ${EPOCH}) AS time,
              sum(sum) / sum(count) AS avg, min(min) AS min, max(max) AS max, sum(count)::int AS samples
       FROM (${sql}) s GROUP BY 1, 2 ORDER BY 1, 2`,
      [...params, query.plan.bucketSeconds],
    );
    return rows;
  });
}

/** avg/min/max of every numeric metric of the tenant's devices over the plan's window, and what sent them. */
export function telemetrySummary(tx: TenantTx, plan: Plan) {
  return atWatermark(tx, async (watermark) => {
    const { sql, params } = samples(tx, { plan }, watermark);
    const metrics = await tx.query<{ metric: string; avg: number; min: number; max: number; samples: number }>(
      `SELECT metric, sum(sum) / sum(count) AS avg, min(min) AS min, max(max) AS max, sum(count)::int AS samples
       FROM (${sql}) s WHERE NOT bool GROUP BY 1 ORDER BY 1`,
      params,
    );
    const totals = await messageTotals(tx, plan, watermark);
    return { ...totals, metrics: metrics.rows };
  });
}

/**
 * Messages and the devices that sent them: from raw rows, or from the '#messages' rollups (a device's: an
 * index probe per registered device) and the raw rows not rolled up yet.
 */
async function messageTotals(tx: TenantTx, plan: Plan, watermark: Date) {
  const window = [tx.tenantId, plan.start, plan.end];
  if (plan.resolution === 'raw') {
    const { rows } = await tx.query<{ sample_count: number; device_count: number }>(
      `SELECT count(*)::int AS sample_count, count(DISTINCT device_id)::int AS device_count FROM telemetry
       WHERE tenant_id = $1 AND time >= $2 AND time < $3 AND msg_type = 'telemetry'`,
      window,
    );
    return rows[0]!;
  }
  const { rows } = await tx.query<{ sample_count: number; device_count: number }>(
    `WITH recent AS (
       SELECT device_id FROM telemetry
       WHERE tenant_id = $1 AND msg_type = 'telemetry' AND time >= GREATEST($2, $4::timestamptz) AND time < $3
       UNION ALL
       SELECT device_id FROM telemetry
       WHERE tenant_id = $1 AND msg_type = 'telemetry' AND time >= $2 AND time < LEAST($3, $4::timestamptz)
         AND ingested_at > $5)
     SELECT
       ((SELECT COALESCE(sum(count), 0) FROM telemetry_fleet_${plan.resolution}
         WHERE tenant_id = $1 AND metric = '#messages' AND bucket >= $2 AND bucket < LEAST($3, $4::timestamptz))
        + (SELECT count(*) FROM recent))::int AS sample_count,
       (SELECT count(*) FROM device_registry d WHERE d.tenant_id = $1 AND (
          EXISTS (SELECT 1 FROM telemetry_rollup_${plan.resolution} r
                  WHERE r.tenant_id = d.tenant_id AND r.device_id = d.device_id AND r.metric = '#messages'
                    AND r.bucket >= $2 AND r.bucket < LEAST($3, $4::timestamptz))
          OR d.device_id IN (SELECT device_id FROM recent)))::int AS device_count`,
    [...window, cutAt(plan, watermark), watermark],
  );
  return rows[0]!;
}

/** An accepted message and its metrics as JSON text (as the device sent them, when they could be cut out). */
export interface TelemetryInsert {
  message: AcceptedMessage;
  metricsJson: string;
}

/**
 * Writes a batch: COPY on PostgreSQL (the pipeline role bypasses RLS, which COPY requires), one multi-row
 * INSERT from seven unnested arrays on PGlite.
 */
export async function insertTelemetry(tx: ServiceTx, engine: Engine, rows: TelemetryInsert[]): Promise<void> {
  if (engine === 'postgres') {
    let text = '';
    for (const row of rows) text += copyRow(row);
    await tx.copyFrom('COPY telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics) FROM STDIN', text);
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

export interface AcceptedMessage {
  time: Date;
  tenant_id: string;
  device_id: string;
  site_id: string;
  msg_type: string;
  seq: number;
  metrics: Record<string, number | boolean>;
}
