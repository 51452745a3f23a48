// Users of the built-in issuer. Logins happen before a tenant is known, so those queries run as the
// pipeline role (ServiceTx); a customer admin manages its tenant's users in a TenantTx (row-level
// security), an operator admin anyone's. A password hash leaves only through userWithPasswordHash.
import type { OperatorTx, ServiceTx, TenantTx } from '../db/database.js';
import { isUuid } from '../lib/uuid.js';

export const ROLES = ['customer_viewer', 'customer_admin', 'operator', 'operator_admin'] as const;

export type Role = (typeof ROLES)[number];

export const CUSTOMER_ROLES: readonly Role[] = ['customer_viewer', 'customer_admin'];

export const OPERATOR_ROLES: readonly Role[] = ['operator', 'operator_admin'];

export const isRole = (value: unknown): value is Role => ROLES.includes(value as Role);

export interface User {
  user_id: string;
  username: string;
  email: string | null;
  tenant_id: string | null;
  role: Role;
  /** Signs in no more and its tokens are refused, until enabled again. */
  disabled: boolean;
  created_at: Date;
}

const COLUMNS = 'user_id, username, email, tenant_id, role, disabled, created_at';

/**
 * A user as its tokens are checked against it. Changing the password or the role, or disabling the user,
 * sets `tokens_valid_after`: tokens issued and sign-ins made before then no longer count (migration 026).
 */
export interface TokenUser extends User {
  tokens_valid_after: Date | null;
}

/**
 * Whether a token (or sign-in) of `user` from `issuedAt` (seconds since the epoch, as in `iat`; undefined:
 * unknown) predates the user's last password or role change or disabling. Seconds are whole in tokens of
 * oidc-provider, so one signed in the same second just after the change counts as before it: that user
 * signs in again, where the other way round a token from just before would live on.
 */
export function tokensRevoked(user: TokenUser, issuedAt: number | undefined): boolean {
  if (!user.tokens_valid_after) return false;
  return issuedAt === undefined || issuedAt < user.tokens_valid_after.getTime() / 1000;
}

export async function findTokenUser(tx: ServiceTx, userId: string): Promise<TokenUser | undefined> {
  if (!isUuid(userId)) return undefined; // not an id this issuer gave
  const { rows } = await tx.query<TokenUser>(`SELECT ${COLUMNS}, tokens_valid_after FROM users WHERE user_id = $1`, [
    userId,
  ]);
  return rows[0];
}

export async function usernameTaken(tx: ServiceTx | OperatorTx, username: string): Promise<boolean> {
  const { rowCount } = await tx.query(`SELECT 1 FROM users WHERE username = $1`, [username]);
  return (rowCount ?? 0) > 0;
}

/** Inserts a user; with `skipExisting`, an existing username is left alone and undefined returned. */
export async function insertUser(
  tx: ServiceTx | OperatorTx | TenantTx,
  user: { username: string; email: string | null; tenantId: string | null; role: Role; passwordHash: string },
  skipExisting: boolean,
): Promise<User | undefined> {
  const { rows } = await tx.query<User>(
    `INSERT INTO users (username, email, tenant_id, role, password_hash) VALUES ($1, $2, $3, $4, $5)
     ${skipExisting ? 'ON CONFLICT (username) DO NOTHING' : ''} RETURNING ${COLUMNS}`,
    [user.username, user.email, user.tenantId, user.role, user.passwordHash],
  );
  return rows[0];
}

/** Every user an operator may see (optionally of one tenant), or a customer's tenant's users (RLS). */
export async function listUsers(tx: ServiceTx | OperatorTx | TenantTx, tenantId?: string): Promise<User[]> {
  return (
    await tx.query<User>(`SELECT ${COLUMNS} FROM users WHERE ($1::text IS NULL OR tenant_id = $1) ORDER BY username`, [
      tenantId ?? null,
    ])
  ).rows;
}

/** Changes a user's role, ending its earlier tokens; undefined when there is no such user (in the caller's view). */
export async function setRole(tx: OperatorTx | TenantTx, username: string, role: Role): Promise<User | undefined> {
  const { rows } = await tx.query<User>(
    `UPDATE users SET role = $2, updated_at = now(), tokens_valid_after = now() WHERE username = $1
     RETURNING ${COLUMNS}`,
    [username, role],
  );
  return rows[0];
}

/**
 * Disables a user, ending its tokens for good (enabling it again does not bring them back), or enables
 * it; undefined when there is no such user (in the caller's view).
 */
export async function setDisabled(
  tx: OperatorTx | TenantTx,
  username: string,
  disabled: boolean,
): Promise<User | undefined> {
  const { rows } = await tx.query<User>(
    `UPDATE users SET disabled = $2, updated_at = now(),
       tokens_valid_after = CASE WHEN $2 THEN now() ELSE tokens_valid_after END
     WHERE username = $1 RETURNING ${COLUMNS}`,
    [username, disabled],
  );
  return rows[0];
}

export async function findUser(
  tx: ServiceTx | OperatorTx | TenantTx,
  by: { userId: string } | { username: string },
): Promise<User | undefined> {
  if ('userId' in by && !isUuid(by.userId)) return undefined; // not an id this issuer gave
  const { rows } =
    'userId' in by
      ? await tx.query<User>(`SELECT ${COLUMNS} FROM users WHERE user_id = $1`, [by.userId])
      : await tx.query<User>(`SELECT ${COLUMNS} FROM users WHERE username = $1`, [by.username]);
  return rows[0];
}

export async function userWithPasswordHash(tx: ServiceTx, username: string) {
  const { rows } = await tx.query<User & { password_hash: string }>(
    `SELECT ${COLUMNS}, password_hash FROM users WHERE username = $1`,
    [username],
  );
  return rows[0];
}

/** Sets a new password, ending the user's earlier tokens and sign-ins; false when there is no such user. */
export async function setPasswordHash(
  tx: ServiceTx | OperatorTx | TenantTx,
  username: string,
  passwordHash: string,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE users SET password_hash = $2, updated_at = now(), tokens_valid_after = now() WHERE username = $1`,
    [username, passwordHash],
  );
  return (rowCount ?? 0) > 0;
}

/** False when there is no such user. */
export async function deleteUser(tx: ServiceTx | OperatorTx | TenantTx, username: string): Promise<boolean> {
  const { rowCount } = await tx.query(`DELETE FROM users WHERE username = $1`, [username]);
  return (rowCount ?? 0) > 0;
}
