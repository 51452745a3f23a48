// The device registry: registration, credentials and activation codes (provisioning), and the lookups
// ingest authenticates messages with.
import type { ServiceTx } from '../db/database.js';

/** What ingest needs of a registered device to accept its messages. */
export interface RegistryEntry {
  site_id: string;
  status: string;
  provision_token_hash: string | null;
}

export interface DeviceKey {
  tenantId: string;
  deviceId: string;
}

/** Registry entries for `keys`, in their order; null where a device is not registered. */
export async function registryEntries(tx: ServiceTx, keys: DeviceKey[]): Promise<(RegistryEntry | null)[]> {
  const { rows } = await tx.query<RegistryEntry & { position: string }>(
    `SELECT k.position, r.site_id, r.status, r.provision_token_hash
     FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k (tenant_id, device_id, position)
     JOIN device_registry r ON r.tenant_id = k.tenant_id AND r.device_id = k.device_id`,
    [keys.map((key) => key.tenantId), keys.map((key) => key.deviceId)],
  );
  const entries: (RegistryEntry | null)[] = keys.map(() => null);
  for (const { position, ...entry } of rows) entries[Number(position) - 1] = entry;
  return entries;
}

/** The most recently changed registry entries, to warm the auth cache at start. */
export async function recentRegistryEntries(tx: ServiceTx, limit: number) {
  const { rows } = await tx.query<RegistryEntry & { tenant_id: string; device_id: string }>(
    `SELECT tenant_id, device_id, site_id, status, provision_token_hash FROM device_registry
     ORDER BY updated_at DESC LIMIT $1`,
    [limit],
  );
  return rows.map(({ tenant_id, device_id, ...entry }) => ({ tenant_id, device_id, entry }));
}
