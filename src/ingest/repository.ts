// SQL of the ingest role. It serves every tenant, so it runs as the pipeline role (withService).
import type { AcceptedMessage } from '../bus/index.js';
import type { Database } from '../db/database.js';
import type { DeviceKey } from './auth-cache.js';
import type { RegistryEntry } from './validate.js';

/** Registry entries for `keys`, in their order; null where a device is not registered. */
export async function findDevices(db: Database, keys: DeviceKey[]): Promise<(RegistryEntry | null)[]> {
  const { rows } = await db.withService((tx) =>
    tx.query<RegistryEntry & { position: string }>(
      `SELECT k.position, r.site_id, r.status, r.provision_token_hash
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k (tenant_id, device_id, position)
       JOIN device_registry r ON r.tenant_id = k.tenant_id AND r.device_id = k.device_id`,
      [keys.map((key) => key.tenantId), keys.map((key) => key.deviceId)],
    ),
  );
  const entries: (RegistryEntry | null)[] = keys.map(() => null);
  for (const { position, ...entry } of rows) entries[Number(position) - 1] = entry;
  return entries;
}

/** The most recently changed registry entries, to warm the auth cache at start. */
export async function recentDevices(db: Database, limit: number) {
  const { rows } = await db.withService((tx) =>
    tx.query<RegistryEntry & { tenant_id: string; device_id: string }>(
      `SELECT tenant_id, device_id, site_id, status, provision_token_hash FROM device_registry
       ORDER BY updated_at DESC LIMIT $1`,
      [limit],
    ),
  );
  return rows.map(({ tenant_id, device_id, ...entry }) => ({ tenant_id, device_id, entry }));
}

/** An accepted message and its metrics as JSON text (as the device sent them, when they could be cut out). */
export interface TelemetryRow {
  message: AcceptedMessage;
  metricsJson: string;
}

/**
 * Writes a batch: COPY on PostgreSQL (the pipeline role bypasses RLS, which COPY requires), one multi-row
 * INSERT from seven unnested arrays on PGlite.
 */
export async function insertTelemetry(db: Database, rows: TelemetryRow[]): Promise<void> {
  if (db.engine === 'postgres') {
    let text = '';
    for (const row of rows) text += copyRow(row);
    await db.withService((tx) =>
      tx.copyFrom('COPY telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics) FROM STDIN', text),
    );
    return;
  }
  const messages = rows.map((row) => row.message);
  await db.withService((tx) =>
    tx.query(
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
    ),
  );
}

export interface CounterIncrement {
  bucketMinute: Date;
  tenantId: string;
  reason: string;
  count: number;
}

export interface QuarantineEventRow {
  eventTs: Date | null;
  topic: string;
  tenantId: string | null;
  siteId: string | null;
  deviceId: string | null;
  msgType: string | null;
  reason: string;
  payload: unknown;
}

// PostgreSQL text and jsonb cannot hold U+0000, which rejected input may well contain.
const text = (value: string | null) => (value === null ? null : value.replaceAll('\u0000', '\ufffd'));
const json = (value: unknown) => (JSON.stringify(value) ?? 'null').replaceAll('\\u0000', '\\ufffd');

export async function saveQuarantine(db: Database, counters: CounterIncrement[], events: QuarantineEventRow[]) {
  await db.withService(async (tx) => {
    if (counters.length > 0) {
      await tx.query(
        `INSERT INTO quarantine_counters_minute (bucket_minute, tenant_id, reason, cnt)
         SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::bigint[])
         ON CONFLICT (bucket_minute, tenant_id, reason) DO UPDATE SET cnt = quarantine_counters_minute.cnt + EXCLUDED.cnt`,
        [
          counters.map((c) => c.bucketMinute),
          counters.map((c) => text(c.tenantId)),
          counters.map((c) => c.reason),
          counters.map((c) => c.count),
        ],
      );
    }
    if (events.length > 0) {
      await tx.query(
        `INSERT INTO quarantine_events (event_ts, topic, tenant_id, site_id, device_id, msg_type, reason, payload)
         SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[])`,
        [
          events.map((e) => e.eventTs),
          events.map((e) => text(e.topic)),
          events.map((e) => text(e.tenantId)),
          events.map((e) => text(e.siteId)),
          events.map((e) => text(e.deviceId)),
          events.map((e) => text(e.msgType)),
          events.map((e) => e.reason),
          events.map((e) => json(e.payload)),
        ],
      );
    }
  });
}

/** One row of COPY's text format: tab-separated, backslash escapes for the separators themselves. */
function copyRow({ message: m, metricsJson }: TelemetryRow): string {
  return `${m.time.toISOString()}\t${escapeCopy(m.tenant_id)}\t${escapeCopy(m.device_id)}\t${escapeCopy(m.site_id)}\t${escapeCopy(m.msg_type)}\t${m.seq}\t${escapeCopy(metricsJson)}\n`;
}

const COPY_SPECIAL = /[\\\t\n\r]/g;
const HAS_COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function escapeCopy(value: string): string {
  if (!HAS_COPY_SPECIAL.test(value)) return value;
  return value.replace(COPY_SPECIAL, (char) => COPY_ESCAPES[char]!);
}
