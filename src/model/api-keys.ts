// API keys (ADR 031): a tenant's named secrets for machine clients. Customers create, list and revoke their
// own under row-level security; operators list and revoke any; the API finds a key by its secret's
// SHA-256 as the pipeline's role (it does not know the tenant yet) and records its use.
import type { OperatorTx, ServiceTx, TenantScope, TenantTx } from '../db/database.js';

export type ApiKeyRole = 'customer_viewer' | 'customer_admin';

export interface ApiKey {
  tenant_id: string;
  key_id: string;
  name: string;
  role: ApiKeyRole;
  /** The secret's first characters, to tell keys apart. */
  prefix: string;
  allowed_cidrs: string[];
  expires_at: Date | null;
  created_by: string;
  created_at: Date;
  last_used_at: Date | null;
  last_used_ip: string | null;
  use_count: number;
  revoked_at: Date | null;
  revoked_by: string | null;
}

const COLUMNS = `tenant_id, key_id, name, role, prefix, allowed_cidrs, expires_at, created_by, created_at, last_used_at,
  host(last_used_ip) AS last_used_ip, use_count::float8 AS use_count, revoked_at, revoked_by`;

export interface NewApiKey {
  name: string;
  role: ApiKeyRole;
  prefix: string;
  secretSha256: string;
  allowedCidrs: string[];
  expiresAt: Date | null;
  createdBy: string;
}

/** The new key, or undefined when a live key of the tenant has this name already. */
export async function insertApiKey(tx: TenantTx, key: NewApiKey): Promise<ApiKey | undefined> {
  const { rows } = await tx.query<ApiKey>(
    `INSERT INTO api_keys (tenant_id, name, role, prefix, secret_sha256, allowed_cidrs, expires_at, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (tenant_id, name) WHERE revoked_at IS NULL DO NOTHING
     RETURNING ${COLUMNS}`,
    [tx.tenantId, key.name, key.role, key.prefix, key.secretSha256, key.allowedCidrs, key.expiresAt, key.createdBy],
  );
  return rows[0];
}

/** The tenant's keys not revoked (expired ones included: they still name a client to renew). */
export async function countLiveApiKeys(tx: TenantTx): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL`,
    [tx.tenantId],
  );
  return rows[0]!.n;
}

/** The tenant's keys, live ones first, newest first. */
export async function listApiKeys(tx: TenantTx): Promise<ApiKey[]> {
  const { rows } = await tx.query<ApiKey>(
    `SELECT ${COLUMNS} FROM api_keys WHERE tenant_id = $1
     ORDER BY revoked_at IS NOT NULL, created_at DESC, key_id LIMIT 1000`,
    [tx.tenantId],
  );
  return rows;
}

/** Keys of every tenant, or of one (operators). */
export async function apiKeysOfAnyTenant(tx: OperatorTx, tenantId: string | undefined): Promise<ApiKey[]> {
  const { rows } = await tx.query<ApiKey>(
    `SELECT ${COLUMNS} FROM api_keys WHERE ($1::text IS NULL OR tenant_id = $1)
     ORDER BY tenant_id, revoked_at IS NOT NULL, created_at DESC, key_id LIMIT 5000`,
    [tenantId ?? null],
  );
  return rows;
}

/**
 * Revokes the key now; answers it (revoked now or before), or undefined when the tenant has no such key.
 * `tx` is the tenant's, or an operator's narrowed to the tenant.
 */
export async function revokeApiKey(tx: TenantScope, keyId: string, by: string): Promise<ApiKey | undefined> {
  const { rows } = await tx.query<ApiKey>(
    `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()), revoked_by = COALESCE(revoked_by, $3)
     WHERE tenant_id = $1 AND key_id::text = $2 RETURNING ${COLUMNS}`,
    [tx.tenantId, keyId, by],
  );
  return rows[0];
}

/** What a request's key check needs: the key, and whether its tenant is still active. */
export interface KeyForRequests {
  tenant_id: string;
  key_id: string;
  name: string;
  role: ApiKeyRole;
  allowed_cidrs: string[];
  expires_at: Date | null;
  revoked: boolean;
  tenant_active: boolean;
}

export async function findKeyBySecret(tx: ServiceTx, secretSha256: string): Promise<KeyForRequests | undefined> {
  const { rows } = await tx.query<KeyForRequests>(
    `SELECT k.tenant_id, k.key_id, k.name, k.role, k.allowed_cidrs, k.expires_at, k.revoked_at IS NOT NULL AS revoked,
            t.status = 'ACTIVE' AS tenant_active
     FROM api_keys k JOIN tenants t ON t.tenant_id = k.tenant_id
     WHERE k.secret_sha256 = $1`,
    [secretSha256],
  );
  return rows[0];
}

/** Adds `uses` to each key's count and sets its last use (one statement for every key a process used). */
export async function recordKeyUses(
  tx: ServiceTx,
  uses: { keyId: string; uses: number; at: Date; ip: string }[],
): Promise<void> {
  if (uses.length === 0) return;
  await tx.query(
    `UPDATE api_keys k SET use_count = k.use_count + u.uses, last_used_at = greatest(k.last_used_at, u.at),
                           last_used_ip = u.ip::inet
     FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::text[]) AS u(key_id, uses, at, ip)
     WHERE k.key_id = u.key_id`,
    [uses.map((u) => u.keyId), uses.map((u) => u.uses), uses.map((u) => u.at), uses.map((u) => u.ip)],
  );
}
