// Rows for API tests, written directly as the pipeline would (devices, telemetry, alerts, rules).
import type { Database } from '../../src/db/database.js';

export async function seedDevice(
  db: Database,
  tenantId: string,
  deviceId: string,
  siteId = 'site-1',
  status = 'ONLINE',
) {
  await db.withService(async (tx) => {
    await tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING`, [tenantId]);
    await tx.query(`INSERT INTO device_registry (tenant_id, device_id, site_id) VALUES ($1, $2, $3)`, [
      tenantId,
      deviceId,
      siteId,
    ]);
    await tx.query(
      `INSERT INTO device_state (tenant_id, site_id, device_id, status, last_seen_at, last_telemetry_at, state)
       VALUES ($1, $3, $2, $4, now(), now(), '{"temp_c": 21.5}')`,
      [tenantId, deviceId, siteId, status],
    );
  });
}

export async function seedTelemetry(
  db: Database,
  row: {
    tenantId: string;
    deviceId: string;
    time: Date;
    msgType?: string;
    seq: number;
    metrics?: Record<string, number | boolean>;
  },
) {
  await db.withService((tx) =>
    tx.query(
      `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics) VALUES ($1, $2, $3, 'site-1', $4, $5, $6)`,
      [row.time, row.tenantId, row.deviceId, row.msgType ?? 'telemetry', row.seq, JSON.stringify(row.metrics ?? {})],
    ),
  );
}

export async function seedAlert(
  db: Database,
  alert: {
    tenantId: string;
    deviceId: string;
    status?: string;
    alertType?: string;
    fingerprint?: string;
    createdAt?: Date;
  },
): Promise<number> {
  return db.withService(async (tx) => {
    const { rows } = await tx.query<{ id: number }>(
      `INSERT INTO fleet_alert (tenant_id, site_id, device_id, alert_type, fingerprint, status, severity, confidence,
                                summary, details, created_at, closed_at)
       VALUES ($1, 'site-1', $2, $3, $4, $5, 3, 0.9, 'test alert', '{"reason": "test", "value": 41}',
               COALESCE($6, now()), CASE WHEN $5 = 'CLOSED' THEN now() END)
       RETURNING id`,
      [
        alert.tenantId,
        alert.deviceId,
        alert.alertType ?? 'NO_HEARTBEAT',
        alert.fingerprint ?? `NO_HEARTBEAT:${alert.deviceId}:${Math.random()}`,
        alert.status ?? 'OPEN',
        alert.createdAt ?? null,
      ],
    );
    return rows[0]!.id;
  });
}

export async function seedRule(db: Database, tenantId: string, name: string): Promise<string> {
  return db.withTenant(tenantId, async (tx) => {
    const { rows } = await tx.query<{ rule_id: string }>(
      `INSERT INTO alert_rules (tenant_id, name, metric_name, operator, threshold, severity)
       VALUES ($1, $2, 'temp_c', 'GT', 30, 3) RETURNING rule_id`,
      [tx.tenantId, name],
    );
    return rows[0]!.rule_id;
  });
}

/** How many telemetry rows (any message type) a device has stored. */
export async function storedRows(db: Database, tenantId: string, deviceId: string): Promise<number> {
  const { rows } = await db.withService((tx) =>
    tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM telemetry WHERE tenant_id = $1 AND device_id = $2`, [
      tenantId,
      deviceId,
    ]),
  );
  return rows[0]!.n;
}

/**
 * `count` readings of each device, `stepMinutes` apart up to now, each made by `metricsOf(device, i)` (the
 * i-th reading, oldest first): a few hours of data in one transaction, without simulating it.
 */
export async function seedReadings(
  db: Database,
  tenantId: string,
  devices: string[],
  { count, stepMinutes }: { count: number; stepMinutes: number },
  metricsOf: (device: string, i: number) => Record<string, unknown>,
) {
  const now = Date.now();
  await db.withService(async (tx) => {
    for (let i = 0; i < count; i += 1)
      for (const device of devices)
        await tx.query(
          // From the device's site, as ingest accepts it (site-1 for a device not registered).
          `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
           VALUES ($1, $2, $3, COALESCE((SELECT site_id FROM device_registry WHERE tenant_id = $2 AND device_id = $3),
                                        'site-1'), 'telemetry', $4, $5)`,
          [
            new Date(now - (count - i) * stepMinutes * 60_000),
            tenantId,
            device,
            i,
            JSON.stringify(metricsOf(device, i)),
          ],
        );
  });
}
