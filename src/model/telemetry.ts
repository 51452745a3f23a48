// Telemetry: written by ingest in batches (ServiceTx), read per tenant (TenantTx).
import type { Engine } from '../db/connection.js';
import type { ServiceTx, TenantTx } from '../db/database.js';

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

/** avg/min/max of every numeric metric the tenant's devices sent in the window. */
export async function telemetrySummary(tx: TenantTx, since: Date) {
  const [totals, metrics] = await Promise.all([
    tx.query<{ sample_count: number; device_count: number }>(
      `SELECT count(*)::int AS sample_count, count(DISTINCT device_id)::int AS device_count FROM telemetry
       WHERE tenant_id = $1 AND time >= $2 AND msg_type = 'telemetry'`,
      [tx.tenantId, since],
    ),
    tx.query<{ metric: string; avg: number; min: number; max: number; samples: number }>(
      `SELECT m.key AS metric, avg(m.value::text::float8) AS avg, min(m.value::text::float8) AS min,
              max(m.value::text::float8) AS max, count(*)::int AS samples
       FROM telemetry t CROSS JOIN LATERAL jsonb_each(t.metrics) AS m(key, value)
       WHERE t.tenant_id = $1 AND t.time >= $2 AND t.msg_type = 'telemetry' AND jsonb_typeof(m.value) = 'number'
       GROUP BY m.key ORDER BY m.key`,
      [tx.tenantId, since],
    ),
  ]);
  return { ...totals.rows[0]!, metrics: metrics.rows };
}

export interface ChartQuery {
  metric: string;
  deviceId?: string | undefined;
  start: Date;
  end: Date;
  bucketSeconds: number;
}

/** One metric in fixed time buckets (date_bin), aligned to the epoch so buckets are stable across calls. */
export async function telemetryChart(tx: TenantTx, query: ChartQuery) {
  const { rows } = await tx.query<{ time: Date; avg: number; min: number; max: number; samples: number }>(
    `SELECT date_bin(make_interval(secs => $5::int), time, timestamptz '1970-01-01 00:00:00+00') AS time,
            avg((metrics ->> $2)::float8) AS avg, min((metrics ->> $2)::float8) AS min,
            max((metrics ->> $2)::float8) AS max, count(*)::int AS samples
     FROM telemetry
     WHERE tenant_id = $1 AND time >= $3 AND time <= $4 AND ($6::text IS NULL OR device_id = $6)
       AND msg_type = 'telemetry' AND jsonb_typeof(metrics -> $2) = 'number'
     GROUP BY 1 ORDER BY 1`,
    [tx.tenantId, query.metric, query.start, query.end, query.bucketSeconds, query.deviceId ?? null],
  );
  return rows;
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
