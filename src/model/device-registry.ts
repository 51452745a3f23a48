// The device registry: registration, credentials and activation codes, and the lookups ingest
// authenticates messages with. Admin operations run in a service transaction (they span tenants);
// activation runs inside the device's own tenant, under row-level security.
import type { ServiceTx, TenantScope, TenantTx } from '../db/database.js';
import { AppError } from '../errors.js';
import type { DeviceSpec } from './device-spec.js';
import { MAX_TAGS, type Attributes } from './device-tags.js';

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

/** Batches at least this large refresh planner statistics first (see migration 009). */
const LARGE_WRITE = 1000;

export interface NewDeviceRow extends DeviceSpec {
  activation_code_hash: string;
}

export interface UpsertedDevice {
  tenant_id: string;
  device_id: string;
  site_id: string;
  created: boolean;
}

/**
 * Registers or re-registers devices and issues each a new activation code. Re-registering keeps the
 * current token working until the new code is activated, retires the device's older unused codes, and
 * keeps its metadata, tags and attributes unless the row brings some (the admin API sends metadata `{}` to
 * clear it, as the original's did).
 */
export async function upsertDevices(
  tx: ServiceTx | TenantScope,
  devices: NewDeviceRow[],
  expiresAt: Date,
): Promise<UpsertedDevice[]> {
  const payload = JSON.stringify(devices);
  const { rows } = await tx.query<UpsertedDevice>(
    `INSERT INTO device_registry (tenant_id, device_id, site_id, status, fw_version, metadata, tags, attributes)
     SELECT d.tenant_id, d.device_id, d.site_id, 'ACTIVE', d.fw_version, COALESCE(d.metadata, r.metadata, '{}'),
            COALESCE(d.tags, r.tags, '{}'), COALESCE(d.attributes, r.attributes, '{}')
     FROM jsonb_to_recordset($1::jsonb) AS d(tenant_id text, device_id text, site_id text, fw_version text,
       metadata jsonb, tags text[], attributes jsonb)
     LEFT JOIN device_registry r ON r.tenant_id = d.tenant_id AND r.device_id = d.device_id
     ON CONFLICT (tenant_id, device_id) DO UPDATE SET
       site_id = EXCLUDED.site_id,
       status = 'ACTIVE',
       fw_version = COALESCE(EXCLUDED.fw_version, device_registry.fw_version),
       metadata = EXCLUDED.metadata,
       tags = EXCLUDED.tags,
       attributes = EXCLUDED.attributes,
       updated_at = now()
     RETURNING tenant_id, device_id, site_id, (xmax = 0) AS created`,
    [payload],
  );
  // Foreign-key checks below would otherwise reuse a plan made while the registry was small, and selections
  // by tags and attributes one made while their tables were.
  if (devices.length >= LARGE_WRITE)
    await tx.query(
      `SELECT pulse_analyze(ARRAY['device_registry', 'device_activation', 'device_tags', 'device_attribute_values'])`,
    );
  await tx.query(
    `UPDATE device_activation a SET expires_at = now()
     FROM jsonb_to_recordset($1::jsonb) AS d(tenant_id text, device_id text)
     WHERE a.tenant_id = d.tenant_id AND a.device_id = d.device_id AND a.used_at IS NULL AND a.expires_at > now()`,
    [payload],
  );
  await tx.query(
    `INSERT INTO device_activation (tenant_id, device_id, activation_code_hash, site_id, expires_at)
     SELECT d.tenant_id, d.device_id, d.activation_code_hash, d.site_id, $2
     FROM jsonb_to_recordset($1::jsonb) AS d(tenant_id text, device_id text, activation_code_hash text, site_id text)`,
    [payload, expiresAt],
  );
  return rows;
}

export interface RegistryFilter {
  tenant_id?: string | undefined;
  site_id?: string | undefined;
  status?: string | undefined;
  limit: number;
}

export interface RegistryListRow {
  tenant_id: string;
  device_id: string;
  site_id: string;
  status: string;
  provisioned_at: Date;
  fw_version: string | null;
  token_set: boolean;
}

export async function listRegistered(tx: ServiceTx, filter: RegistryFilter): Promise<RegistryListRow[]> {
  const { rows } = await tx.query<RegistryListRow>(
    `SELECT tenant_id, device_id, site_id, status, provisioned_at, fw_version,
            provision_token_hash IS NOT NULL AS token_set
     FROM device_registry
     WHERE ($1::text IS NULL OR tenant_id = $1)
       AND ($2::text IS NULL OR site_id = $2)
       AND ($3::text IS NULL OR status = $3)
     ORDER BY tenant_id, site_id, device_id
     LIMIT $4`,
    [filter.tenant_id ?? null, filter.site_id ?? null, filter.status ?? null, filter.limit],
  );
  return rows;
}

/** Revokes a device: status REVOKED, token cleared and closed in the history, unused codes retired. */
export async function revokeDevice(tx: TenantScope, deviceId: string): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE device_registry SET status = 'REVOKED', provision_token_hash = NULL, updated_at = now()
     WHERE tenant_id = $1 AND device_id = $2`,
    [tx.tenantId, deviceId],
  );
  if (rowCount === 0) return false;
  await closeTokenHistory(tx, deviceId, 'REVOKED');
  await tx.query(
    `UPDATE device_activation SET expires_at = now()
     WHERE tenant_id = $1 AND device_id = $2 AND used_at IS NULL AND expires_at > now()`,
    [tx.tenantId, deviceId],
  );
  return true;
}

/** What a device's owner may change of its registration; undefined fields stay. */
export interface DeviceChanges {
  site_id?: string | undefined;
  fw_version?: string | null | undefined;
  metadata?: Record<string, unknown> | undefined;
  /** Replaces the tags; add_tags and remove_tags apply after it. */
  tags?: string[] | undefined;
  add_tags?: string[] | undefined;
  remove_tags?: string[] | undefined;
  /** Replaces the attributes. */
  attributes?: Attributes | undefined;
}

/**
 * Changes a registered device's site, firmware, metadata, tags or attributes; false when there is no such
 * device. Throws (rolling the change back) when the device would end up with more than MAX_TAGS tags.
 */
export async function updateDevice(tx: TenantScope, deviceId: string, changes: DeviceChanges): Promise<boolean> {
  const { rows } = await tx.query<{ tag_count: number }>(
    `UPDATE device_registry SET
       site_id = COALESCE($3, site_id),
       fw_version = CASE WHEN $4::boolean THEN $5 ELSE fw_version END,
       metadata = COALESCE($6::jsonb, metadata),
       tags = ARRAY(SELECT DISTINCT tag COLLATE "C" FROM unnest(COALESCE($7::text[], tags) || $8::text[]) AS tag
                    WHERE tag <> ALL ($9::text[]) ORDER BY 1),
       attributes = COALESCE($10::jsonb, attributes),
       updated_at = now()
     WHERE tenant_id = $1 AND device_id = $2
     RETURNING cardinality(tags) AS tag_count`,
    [
      tx.tenantId,
      deviceId,
      changes.site_id ?? null,
      changes.fw_version !== undefined,
      changes.fw_version ?? null,
      changes.metadata === undefined ? null : JSON.stringify(changes.metadata),
      changes.tags ?? null,
      changes.add_tags ?? [],
      changes.remove_tags ?? [],
      changes.attributes === undefined ? null : JSON.stringify(changes.attributes),
    ],
  );
  const tagCount = rows[0]?.tag_count;
  if (tagCount !== undefined && tagCount > MAX_TAGS)
    throw new AppError(
      'INVALID_REQUEST',
      `Device ${deviceId} would have ${tagCount} tags; at most ${MAX_TAGS}: remove some (remove_tags) first`,
    );
  return tagCount !== undefined;
}

/** What a device reports of itself replaces what it reported before; true when that changed anything. */
export async function setReportedAttributes(
  tx: ServiceTx,
  device: { tenant_id: string; device_id: string },
  attributes: Attributes,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE device_registry SET reported_attributes = $3, updated_at = now()
     WHERE tenant_id = $1 AND device_id = $2 AND reported_attributes IS DISTINCT FROM $3::jsonb`,
    [device.tenant_id, device.device_id, JSON.stringify(attributes)],
  );
  return (rowCount ?? 0) > 0;
}

/** Replaces the device's token; returns false when the device does not exist. */
export async function replaceToken(
  tx: TenantScope,
  deviceId: string,
  tokenHash: string,
  reason: 'ROTATED' | 'REACTIVATED',
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE device_registry SET provision_token_hash = $3, updated_at = now()
     WHERE tenant_id = $1 AND device_id = $2`,
    [tx.tenantId, deviceId, tokenHash],
  );
  if (rowCount === 0) return false;
  await closeTokenHistory(tx, deviceId, reason);
  await tx.query('INSERT INTO device_token_history (tenant_id, device_id, token_hash) VALUES ($1, $2, $3)', [
    tx.tenantId,
    deviceId,
    tokenHash,
  ]);
  return true;
}

/**
 * Revokes every device of a tenant (its deletion): tokens stop working, unused activation codes are
 * retired. Returns the ids of the devices it revoked.
 */
export async function revokeTenantDevices(tx: TenantScope): Promise<string[]> {
  const { rows } = await tx.query<{ device_id: string }>(
    `UPDATE device_registry SET status = 'REVOKED', provision_token_hash = NULL, updated_at = now()
     WHERE tenant_id = $1 AND status <> 'REVOKED' RETURNING device_id`,
    [tx.tenantId],
  );
  await tx.query(
    `UPDATE device_token_history SET revoked_at = now(), reason = 'REVOKED'
     WHERE tenant_id = $1 AND revoked_at IS NULL`,
    [tx.tenantId],
  );
  await tx.query(
    `UPDATE device_activation SET expires_at = now() WHERE tenant_id = $1 AND used_at IS NULL AND expires_at > now()`,
    [tx.tenantId],
  );
  return rows.map((row) => row.device_id);
}

async function closeTokenHistory(tx: TenantScope, deviceId: string, reason: string) {
  await tx.query(
    `UPDATE device_token_history SET revoked_at = now(), reason = $3
     WHERE tenant_id = $1 AND device_id = $2 AND revoked_at IS NULL`,
    [tx.tenantId, deviceId, reason],
  );
}

/**
 * Marks an activation code used if it is unused and unexpired, in one statement: of any number of
 * concurrent attempts with the same code, exactly one gets a row back.
 */
export async function consumeActivationCode(tx: TenantTx, deviceId: string, codeHash: string): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE device_activation SET used_at = now()
     WHERE tenant_id = $1 AND device_id = $2 AND activation_code_hash = $3
       AND used_at IS NULL AND expires_at > now()`,
    [tx.tenantId, deviceId, codeHash],
  );
  return rowCount === 1;
}

/** Why a code could not be consumed: unknown, already used, or expired. */
export async function activationCodeProblem(
  tx: TenantTx,
  deviceId: string,
  codeHash: string,
): Promise<'invalid' | 'used' | 'expired'> {
  const { rows } = await tx.query<{ used: boolean }>(
    `SELECT used_at IS NOT NULL AS used FROM device_activation
     WHERE tenant_id = $1 AND device_id = $2 AND activation_code_hash = $3`,
    [tx.tenantId, deviceId, codeHash],
  );
  const row = rows[0];
  if (!row) return 'invalid';
  return row.used ? 'used' : 'expired';
}

export async function registryStatus(tx: ServiceTx, tenantId: string, deviceId: string): Promise<string | null> {
  const { rows } = await tx.query<{ status: string }>(
    `SELECT status FROM device_registry WHERE tenant_id = $1 AND device_id = $2`,
    [tenantId, deviceId],
  );
  return rows[0]?.status ?? null;
}
