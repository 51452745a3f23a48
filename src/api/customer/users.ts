// A customer admin's users (issue 19): list, invite with an initial password, change the role within the
// tenant, reset a password, remove — in its own tenant only (row-level security on users). With an
// external issuer, users live there and these routes say so.
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import type { App } from '../../http/server.js';
import { NoContent, Obj } from '../../lib/schema.js';
import { MAX_PASSWORD_LENGTH, PASSWORD_RULES } from '../../identity/passwords.js';
import { addUser, changeUser, removeUser } from '../../identity/users.js';
import { noteAudit, userChangeSummary } from '../audit-note.js';
import { listUsers } from '../../model/users.js';
import { User } from '../../model/views.js';
import { customerAdminOnly, principalOf, type InTenant } from '../guard.js';

const tags = ['customer/users'];
const CustomerRole = Type.Union([Type.Literal('customer_viewer'), Type.Literal('customer_admin')]);
const UserParams = Type.Object({ username: Type.String({ minLength: 1 }) });
/** The rules are checked in characters (passwords.ts); a schema counts UTF-16 units, up to two a character. */
export const Password = Type.String({
  minLength: 1,
  maxLength: 2 * MAX_PASSWORD_LENGTH,
  description: PASSWORD_RULES,
});
const CreateUser = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 100 }),
    password: Password,
    role: CustomerRole,
    email: Type.Optional(Type.String({ maxLength: 254 })),
  },
  { additionalProperties: false },
);
const ChangeUser = Type.Object(
  {
    role: Type.Optional(CustomerRole),
    password: Type.Optional(Password),
    disabled: Type.Optional(Type.Boolean({ description: 'true: no more sign-ins, its tokens refused' })),
  },
  { additionalProperties: false },
);

/** An admin does not demote or remove itself: a tenant (or the platform) would be left without one. */
export function refuseSelf(request: FastifyRequest, username: string, doing: string): void {
  if (username === principalOf(request).username)
    throw new AppError('INVALID_REQUEST', `You cannot ${doing}; ask another admin`);
}

/** Refuses user management when an external issuer holds the users. */
export function builtInUsersOnly(externalIssuer: string | undefined) {
  return async () => {
    if (externalIssuer) {
      throw new AppError('CONFLICT', `Users live in the external issuer ${externalIssuer}; manage them there`);
    }
  };
}

/** What the user routes need: `usersChanged` after a change commits, so this process's token checks read it. */
export interface UserRouteDeps {
  externalIssuer: string | undefined;
  usersChanged: () => void;
}

export function registerUserRoutes(app: App, deps: UserRouteDeps & { inTenant: InTenant }): void {
  const { inTenant } = deps;
  const preHandler = [customerAdminOnly, builtInUsersOnly(deps.externalIssuer)];

  app.get(
    '/customer/users',
    {
      preHandler,
      schema: {
        tags,
        summary: "The tenant's users (customer_admin)",
        response: { 200: Obj({ tenant_id: Type.String(), users: Type.Array(User) }) },
      },
    },
    (request) => inTenant(request, async (tx) => ({ tenant_id: tx.tenantId, users: await listUsers(tx) })),
  );

  app.post(
    '/customer/users',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Add a user to the tenant with an initial password to hand over',
        body: CreateUser,
        response: { 201: User },
      },
    },
    async (request, reply) => {
      const created = await inTenant(request, (tx) => addUser(tx, { ...request.body, tenantId: tx.tenantId }));
      noteAudit(request, {
        resourceId: created.username,
        summary: `created user ${created.username} (${created.role})`,
      });
      return reply.status(201).send(created);
    },
  );

  app.patch(
    '/customer/users/:username',
    {
      preHandler,
      schema: {
        tags,
        summary: "Change a user's role within the tenant, set a new password, disable or enable it",
        params: UserParams,
        body: ChangeUser,
        response: { 200: User },
      },
    },
    async (request) => {
      const { username } = request.params;
      if (request.body.role) refuseSelf(request, username, 'change your own role');
      if (request.body.disabled) refuseSelf(request, username, 'disable yourself');
      const changed = await inTenant(request, (tx) => changeUser(tx, username, request.body));
      deps.usersChanged();
      noteAudit(request, { summary: userChangeSummary(username, request.body) });
      return changed;
    },
  );

  app.delete(
    '/customer/users/:username',
    {
      preHandler,
      schema: { tags, summary: 'Remove a user of the tenant', params: UserParams, response: { 204: NoContent } },
    },
    async (request, reply) => {
      const { username } = request.params;
      refuseSelf(request, username, 'remove yourself');
      await inTenant(request, (tx) => removeUser(tx, username));
      deps.usersChanged();
      noteAudit(request, { summary: `removed user ${username}` });
      return reply.status(204).send(null);
    },
  );
}
