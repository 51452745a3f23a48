// Quarantine: what ingest rejected, counted per minute and reason and (DEV, or STORE_REJECTS) kept as
// events; read by operators, and by each tenant's admins for their own.
import type { OperatorTx, ServiceTx, TenantScope } from '../db/database.js';

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

// PostgreSQL text and jsonb cannot hold U+0000, and jsonb no unpaired surrogate either: rejected input
// may well contain both, so they become U+FFFD (text columns get surrogates replaced on encoding).
const text = (value: string | null) => (value === null ? null : value.replaceAll('\u0000', '\ufffd'));
// JSON.stringify writes exactly these as \uXXXX escapes (paired surrogates stay characters); an escape is
// one whose backslash is not itself escaped: the run of backslashes before the u is odd.
const UNSTORABLE_ESCAPE = /(\\+)u(0000|d[89a-f][0-9a-f]{2})/gi;
export const storableJson = (value: unknown) =>
  (JSON.stringify(value) ?? 'null').replace(UNSTORABLE_ESCAPE, (match, slashes: string) =>
    slashes.length % 2 === 1 ? `${slashes}ufffd` : match,
  );

export async function saveQuarantine(tx: ServiceTx, counters: CounterIncrement[], events: QuarantineEventRow[]) {
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
        events.map((e) => storableJson(e.payload)),
      ],
    );
  }
}

/**
 * The rejects of the last `minutes`: stored events (newest first) and counts per minute and reason. Of one
 * tenant when `tx` names one — a customer's, or an operator's narrowed to it — else of every tenant.
 */
export async function recentQuarantine(tx: OperatorTx | TenantScope, filter: { minutes: number; limit: number }) {
  const tenantId = 'tenantId' in tx ? tx.tenantId : null;
  const [events, counts] = await Promise.all([
    tx.query<{
      id: number;
      ingested_at: Date;
      tenant_id: string | null;
      site_id: string | null;
      device_id: string | null;
      msg_type: string | null;
      reason: string;
      topic: string;
      payload: unknown;
    }>(
      // payload is {} for an event stored without it (PROD with STORE_REJECTS) and never holds a token.
      `SELECT id, ingested_at, tenant_id, site_id, device_id, msg_type, reason, topic, payload FROM quarantine_events
       WHERE ingested_at > now() - make_interval(mins => $1::int) AND ($2::text IS NULL OR tenant_id = $2)
       ORDER BY ingested_at DESC, id DESC LIMIT $3`,
      [filter.minutes, tenantId, filter.limit],
    ),
    // Counted for every reject, whether or not its event row was stored (PROD stores none).
    tx.query<{ minute: Date; reason: string; count: number }>(
      `SELECT bucket_minute AS minute, reason, sum(cnt)::int AS count FROM quarantine_counters_minute
       WHERE bucket_minute > now() - make_interval(mins => $1::int) AND ($2::text IS NULL OR tenant_id = $2)
       GROUP BY bucket_minute, reason ORDER BY bucket_minute, reason`,
      [filter.minutes, tenantId],
    ),
  ]);
  return { events: events.rows, counts: counts.rows };
}
