// The built-in issuer's users as use cases: checked input, hashed passwords, constant-time login. Their
// SQL is model/users.ts; the API never returns password hashes.
import type { Database, OperatorTx, ServiceTx, TenantTx } from '../db/database.js';
import { isUniqueViolation } from '../lib/sqlstate.js';
import { AppError, requireChanges } from '../errors.js';
import { ensureTenants } from '../model/tenants.js';
import * as model from '../model/users.js';
import { CUSTOMER_ROLES, isRole, ROLES, type Role, type TokenUser, type User } from '../model/users.js';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  tenantId?: string | undefined;
  email?: string | undefined;
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;
function checkNewUser(user: NewUser, options: PasswordOptions = {}): void {
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
  checkPassword(user.password, user.username, options);
}

type PasswordOptions = Parameters<typeof passwordProblem>[2];

function checkPassword(password: string, username: string, options?: PasswordOptions): void {
  const problem = passwordProblem(password, username, options);
  if (problem) throw new AppError('INVALID_REQUEST', problem);
}

/** One answer whichever tenant holds the name: a customer admin learns nothing about other tenants' users. */
const usernameTaken = (username: string) =>
  new AppError('CONFLICT', `The username ${username} is not available; choose another`);

export interface Users {
  create(user: NewUser): Promise<User>;
  /**
   * Creates the user unless one with that username exists; returns whether it created it. For seeding
   * (the demo, tests): `allowGuessable` lets the demo keep its published password.
   */
  ensure(user: NewUser, options?: PasswordOptions): Promise<boolean>;
  list(): Promise<User[]>;
  find(userId: string): Promise<User | undefined>;
  /** The user as its tokens are checked against it (see `tokensRevoked`). */
  findForTokens(userId: string): Promise<TokenUser | undefined>;
  findByUsername(username: string): Promise<User | undefined>;
  /**
   * The user when the password is right; 'disabled' when it is right but the user is disabled (only someone
   * who knows the password learns that); undefined otherwise (unknown user or wrong password alike).
   */
  authenticate(username: string, password: string): Promise<User | 'disabled' | undefined>;
  /** A user changes its own password, proving the current one; its earlier tokens and sign-ins end. */
  changeOwnPassword(userId: string, currentPassword: string, newPassword: string): Promise<void>;
  setPassword(username: string, password: string): Promise<void>;
  delete(username: string): Promise<void>;
}

export function createUsers(db: Database): Users {
  async function insert(tx: ServiceTx, user: NewUser, skipExisting: boolean, options?: PasswordOptions) {
    checkNewUser(user, options);
    if (user.tenantId) await ensureTenants(tx, [user.tenantId]);
    return insertChecked(tx, user, skipExisting);
  }

  return {
    create: (user) =>
      db.withService(async (tx) => {
        if (await model.usernameTaken(tx, user.username))
          throw new AppError('CONFLICT', `User ${user.username} already exists`);
        return (await insert(tx, user, false))!;
      }),
    ensure: (user, options) => db.withService(async (tx) => (await insert(tx, user, true, options)) !== undefined),
    list: () => db.withService(model.listUsers),
    find: (userId) => db.withService((tx) => model.findUser(tx, { userId })),
    findForTokens: (userId) => db.withService((tx) => model.findTokenUser(tx, userId)),
    findByUsername: (username) => db.withService((tx) => model.findUser(tx, { username })),
    async authenticate(username, password) {
      const row = await db.withService((tx) => model.userWithPasswordHash(tx, username));
      // An unknown user costs the same scrypt work as a known one, so timing does not tell them apart.
      const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
      if (!row || !ok) return undefined;
      if (row.disabled) return 'disabled';
      const { password_hash: _omitted, ...user } = row;
      return user;
    },
    async changeOwnPassword(userId, currentPassword, newPassword) {
      const user = await db.withService((tx) => model.findUser(tx, { userId }));
      if (!user) throw new AppError('NOT_FOUND', 'Your user no longer exists; sign in again');
      const row = await db.withService((tx) => model.userWithPasswordHash(tx, user.username));
      if (!row || !(await verifyPassword(currentPassword, row.password_hash)))
        throw new AppError('WRONG_PASSWORD', 'The current password is not right; type the one you sign in with');
      if (newPassword === currentPassword)
        throw new AppError('INVALID_REQUEST', 'The new password is the current one; choose another');
      checkPassword(newPassword, user.username);
      const hash = await hashPassword(newPassword);
      await db.withService((tx) => model.setPasswordHash(tx, user.username, hash));
    },
    async setPassword(username, password) {
      checkPassword(password, username);
      const hash = await hashPassword(password);
      if (!(await db.withService((tx) => model.setPasswordHash(tx, username, hash))))
        throw new AppError('NOT_FOUND', `User ${username} not found`);
    },
    async delete(username) {
      if (!(await db.withService((tx) => model.deleteUser(tx, username))))
        throw new AppError('NOT_FOUND', `User ${username} not found`);
      // Sessions and refresh tokens of the user stop working with the user: the issuer looks users up.
    },
  };
}

const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** A transaction users are managed in: an operator admin's (anyone), a customer admin's (its tenant, RLS). */
type ManagingTx = OperatorTx | TenantTx;

/** Adds a user of the built-in issuer; a customer admin's land in its tenant, whatever they say. */
export async function addUser(tx: ManagingTx, user: NewUser): Promise<User> {
  checkNewUser(user);
  try {
    return (await insertChecked(tx, user, false))!;
  } catch (error) {
    // Usernames are unique across tenants; under RLS the other tenant's row is invisible, not free.
    if (isUniqueViolation(error)) throw usernameTaken(user.username);
    throw error;
  }
}

/** Inserts a user whose fields were checked, with its password hashed. */
async function insertChecked(tx: ServiceTx | ManagingTx, user: NewUser, skipExisting: boolean) {
  return model.insertUser(
    tx,
    {
      username: user.username,
      email: user.email ?? null,
      tenantId: user.tenantId ?? null,
      role: user.role,
      passwordHash: await hashPassword(user.password),
    },
    skipExisting,
  );
}

/** Changes a user's role (within its kind: customer or operator), sets a new password, disables or enables it. */
export async function changeUser(
  tx: ManagingTx,
  username: string,
  changes: { role?: Role | undefined; password?: string | undefined; disabled?: boolean | undefined },
): Promise<User> {
  let user = await model.findUser(tx, { username });
  if (!user) throw new AppError('NOT_FOUND', `User ${username} not found`);
  requireChanges(changes);
  if (changes.password !== undefined) {
    checkPassword(changes.password, username);
    await model.setPasswordHash(tx, username, await hashPassword(changes.password));
  }
  if (changes.disabled !== undefined && changes.disabled !== user.disabled) {
    user = (await model.setDisabled(tx, username, changes.disabled))!;
  }
  if (changes.role === undefined || changes.role === user.role) return user;
  if (!isRole(changes.role)) throw new AppError('INVALID_REQUEST', `role must be one of ${ROLES.join(', ')}`);
  if (CUSTOMER_ROLES.includes(changes.role) !== CUSTOMER_ROLES.includes(user.role)) {
    throw new AppError(
      'INVALID_REQUEST',
      'A customer user stays a customer and an operator an operator; create a new user instead',
    );
  }
  return (await model.setRole(tx, username, changes.role))!;
}

export async function removeUser(tx: ManagingTx, username: string): Promise<void> {
  if (!(await model.deleteUser(tx, username))) throw new AppError('NOT_FOUND', `User ${username} not found`);
}
