// Alert readers: a tenant's MQTT logins allowed to subscribe to alerts/<tenant>/# on Pulse's broker.
// Managed by customer admins under row-level security; checked by the broker before a tenant is known.
import type { ServiceTx, TenantTx } from '../db/database.js';

export interface MqttReader {
  name: string;
  created_at: Date;
  created_by: string | null;
}

export async function listReaders(tx: TenantTx): Promise<MqttReader[]> {
  const { rows } = await tx.query<MqttReader>(
    `SELECT name, created_at, created_by FROM mqtt_readers WHERE tenant_id = $1 ORDER BY name`,
    [tx.tenantId],
  );
  return rows;
}

/** Adds the reader; false when the tenant has one of that name already. */
export async function addReader(
  tx: TenantTx,
  reader: { name: string; passwordHash: string; createdBy: string },
): Promise<MqttReader | undefined> {
  const { rows } = await tx.query<MqttReader>(
    `INSERT INTO mqtt_readers (tenant_id, name, password_hash, created_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, name) DO NOTHING
     RETURNING name, created_at, created_by`,
    [tx.tenantId, reader.name, reader.passwordHash, reader.createdBy],
  );
  return rows[0];
}

export async function removeReader(tx: TenantTx, name: string): Promise<boolean> {
  const { rowCount } = await tx.query(`DELETE FROM mqtt_readers WHERE tenant_id = $1 AND name = $2`, [
    tx.tenantId,
    name,
  ]);
  return (rowCount ?? 0) > 0;
}

/** The reader's password hash, for the broker's login check; null when there is no such reader. */
export async function readerPasswordHash(tx: ServiceTx, tenantId: string, name: string): Promise<string | null> {
  const { rows } = await tx.query<{ password_hash: string }>(
    `SELECT password_hash FROM mqtt_readers WHERE tenant_id = $1 AND name = $2`,
    [tenantId, name],
  );
  return rows[0]?.password_hash ?? null;
}
