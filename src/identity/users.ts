// Users of the built-in issuer. Logins happen before a tenant is known, so these queries run as the
// pipeline role; the API never returns password hashes.
import type { Database, ServiceTx } from '../db/database.js';
import { AppError } from '../errors.js';
import { ensureTenants } from '../model/tenants.js';
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.js';

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
  created_at: Date;
}

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  tenantId?: string | undefined;
  email?: string | undefined;
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;
const COLUMNS = 'user_id, username, email, tenant_id, role, created_at';

function checkNewUser(user: NewUser): void {
  if (!USERNAME.test(user.username)) {
    throw new AppError(
      'INVALID_REQUEST',
      'username must be 1-100 characters: letters, digits, ".", "_", "@" or "-", starting with a letter or digit',
    );
  }
  if (!isRole(user.role)) throw new AppError('INVALID_REQUEST', `role must be one of ${ROLES.join(', ')}`);
  const customer = CUSTOMER_ROLES.includes(user.role);
  if (customer && !user.tenantId) throw new AppError('INVALID_REQUEST', `role ${user.role} needs a tenant`);
  if (!customer && user.tenantId)
    throw new AppError('INVALID_REQUEST', 'operators belong to no tenant; omit the tenant');
  checkPassword(user.password);
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new AppError('INVALID_REQUEST', `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
}

export interface Users {
  create(user: NewUser): Promise<User>;
  /** Creates the user unless one with that username exists; returns whether it created it. */
  ensure(user: NewUser): Promise<boolean>;
  list(): Promise<User[]>;
  find(userId: string): Promise<User | undefined>;
  findByUsername(username: string): Promise<User | undefined>;
  /** The user when the password is right; undefined otherwise (unknown user or wrong password alike). */
  authenticate(username: string, password: string): Promise<User | undefined>;
  setPassword(username: string, password: string): Promise<void>;
  delete(username: string): Promise<void>;
}

export function createUsers(db: Database): Users {
  const one = async (sql: string, params: unknown[]) =>
    db.withService(async (tx) => (await tx.query<User>(sql, params)).rows[0]);

  async function insert(tx: ServiceTx, user: NewUser, onConflict: string) {
    checkNewUser(user);
    if (user.tenantId) {
      await ensureTenants(tx, [user.tenantId]);
    }
    return tx.query<User>(
      `INSERT INTO users (username, email, tenant_id, role, password_hash) VALUES ($1, $2, $3, $4, $5)
       ${onConflict} RETURNING ${COLUMNS}`,
      [user.username, user.email ?? null, user.tenantId ?? null, user.role, await hashPassword(user.password)],
    );
  }

  return {
    async create(user) {
      return db.withService(async (tx) => {
        const existing = await tx.query(`SELECT 1 FROM users WHERE username = $1`, [user.username]);
        if (existing.rowCount) throw new AppError('CONFLICT', `User ${user.username} already exists`);
        return (await insert(tx, user, ''))!.rows[0]!;
      });
    },
    async ensure(user) {
      return db.withService(
        async (tx) => ((await insert(tx, user, 'ON CONFLICT (username) DO NOTHING')).rowCount ?? 0) > 0,
      );
    },
    list: () =>
      db.withService(async (tx) => (await tx.query<User>(`SELECT ${COLUMNS} FROM users ORDER BY username`)).rows),
    find: (userId) => one(`SELECT ${COLUMNS} FROM users WHERE user_id = $1`, [userId]),
    findByUsername: (username) => one(`SELECT ${COLUMNS} FROM users WHERE username = $1`, [username]),
    async authenticate(username, password) {
      const row = await db.withService(
        async (tx) =>
          (
            await tx.query<User & { password_hash: string }>(
              `SELECT ${COLUMNS}, password_hash FROM users WHERE username = $1`,
              [username],
            )
          ).rows[0],
      );
      // An unknown user costs the same scrypt work as a known one, so timing does not tell them apart.
      const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
      if (!row || !ok) return undefined;
      const { password_hash: _omitted, ...user } = row;
      return user;
    },
    async setPassword(username, password) {
      checkPassword(password);
      const hash = await hashPassword(password);
      const updated = await db.withService((tx) =>
        tx.query(`UPDATE users SET password_hash = $2, updated_at = now() WHERE username = $1`, [username, hash]),
      );
      if (!updated.rowCount) throw new AppError('NOT_FOUND', `User ${username} not found`);
    },
    async delete(username) {
      const deleted = await db.withService((tx) => tx.query(`DELETE FROM users WHERE username = $1`, [username]));
      if (!deleted.rowCount) throw new AppError('NOT_FOUND', `User ${username} not found`);
      // Sessions and refresh tokens of the user stop working with the user: the issuer looks users up.
    },
  };
}

const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
