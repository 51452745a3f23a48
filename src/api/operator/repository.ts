// Cross-tenant reads and tenant administration for /operator, as pulse_operator (BYPASSRLS). Every
// function takes an OperatorTx: they are only reachable through the audited operator routes.
import type { OperatorTx } from '../../db/database.js';

export async function quarantine(
  tx: OperatorTx,
  filter: { tenantId: string | undefined; minutes: number; limit: number },
) {
  const [events, counts] = await Promise.all([
    tx.query(
      `SELECT id, ingested_at, tenant_id, site_id, device_id, msg_type, reason, topic FROM quarantine_events
       WHERE ingested_at > now() - make_interval(mins => $1::int) AND ($2::text IS NULL OR tenant_id = $2)
       ORDER BY ingested_at DESC, id DESC LIMIT $3`,
      [filter.minutes, filter.tenantId ?? null, filter.limit],
    ),
    // Counted for every reject, whether or not its event row was stored (PROD stores none).
    tx.query(
      `SELECT bucket_minute AS minute, reason, sum(cnt)::int AS count FROM quarantine_counters_minute
       WHERE bucket_minute > now() - make_interval(mins => $1::int) AND ($2::text IS NULL OR tenant_id = $2)
       GROUP BY bucket_minute, reason ORDER BY bucket_minute, reason`,
      [filter.minutes, filter.tenantId ?? null],
    ),
  ]);
  return { events: events.rows, counts: counts.rows };
}

export async function listIntegrations(tx: OperatorTx, tenantId: string | undefined) {
  const { rows } = await tx.query(
    `SELECT tenant_id, integration_id, name, type, enabled, config_json ->> 'url' AS url, snmp_host, mqtt_topic,
            created_at, updated_at
     FROM integrations WHERE ($1::text IS NULL OR tenant_id = $1) ORDER BY created_at DESC LIMIT 500`,
    [tenantId ?? null],
  );
  return rows;
}

export async function auditLog(
  tx: OperatorTx,
  filter: {
    userId?: string | undefined;
    action?: string | undefined;
    tenantId?: string | undefined;
    since?: Date | undefined;
    limit: number;
  },
) {
  const { rows } = await tx.query(
    `SELECT l.id, l.user_id, u.username, l.action, l.tenant_filter, l.resource_type, l.resource_id,
            host(l.ip_address) AS ip_address, l.user_agent, l.rls_bypassed, l.created_at
     FROM operator_audit_log l LEFT JOIN users u ON u.user_id = l.user_id
     WHERE ($1::text IS NULL OR l.user_id = $1 OR u.username = $1) AND ($2::text IS NULL OR l.action = $2)
       AND ($3::text IS NULL OR l.tenant_filter = $3) AND ($4::timestamptz IS NULL OR l.created_at >= $4)
     ORDER BY l.created_at DESC, l.id DESC LIMIT $5`,
    [filter.userId ?? null, filter.action ?? null, filter.tenantId ?? null, filter.since ?? null, filter.limit],
  );
  return rows;
}

export async function settingRows(tx: OperatorTx) {
  return (
    await tx.query<{ key: string; value: string; updated_at: Date }>(`SELECT key, value, updated_at FROM app_settings`)
  ).rows;
}

export async function saveSettings(tx: OperatorTx, values: Record<string, string>) {
  await tx.query(
    `INSERT INTO app_settings (key, value) SELECT key, value FROM jsonb_each_text($1::jsonb)
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [JSON.stringify(values)],
  );
}
