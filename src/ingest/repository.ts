// SQL of the ingest role. It serves every tenant, so it runs as the pipeline role (withService).
import type { AcceptedMessage } from '../bus/index.js';
import type { Database } from '../db/database.js';
import type { RegistryEntry } from './validate.js';

export async function findDevice(db: Database, tenantId: string, deviceId: string): Promise<RegistryEntry | null> {
  const { rows } = await db.withService((tx) =>
    tx.query<RegistryEntry>(
      `SELECT site_id, status, provision_token_hash FROM device_registry WHERE tenant_id = $1 AND device_id = $2`,
      [tenantId, deviceId],
    ),
  );
  return rows[0] ?? null;
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

/**
 * Writes a batch: COPY on PostgreSQL (the pipeline role bypasses RLS, which COPY requires), one multi-row
 * INSERT from seven unnested arrays on PGlite.
 */
export async function insertTelemetry(db: Database, messages: AcceptedMessage[]): Promise<void> {
  if (db.engine === 'postgres') {
    await db.withService((tx) =>
      tx.copyFrom(
        'COPY telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics) FROM STDIN',
        messages.map(copyRow).join(''),
      ),
    );
    return;
  }
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
        messages.map((m) => JSON.stringify(m.metrics)),
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
function copyRow(m: AcceptedMessage): string {
  return `${m.time.toISOString()}\t${escapeCopy(m.tenant_id)}\t${escapeCopy(m.device_id)}\t${escapeCopy(m.site_id)}\t${escapeCopy(m.msg_type)}\t${m.seq}\t${escapeCopy(JSON.stringify(m.metrics))}\n`;
}

const COPY_SPECIAL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function escapeCopy(value: string): string {
  return value.replace(COPY_SPECIAL, (char) => COPY_ESCAPES[char]!);
}
