// An operator admin's users (issue 19): every tenant's and the operators, created with an initial
// password, re-roled within their kind, reset, removed. Audited like every operator request; with an
// external issuer, users live there and these routes say so.
import { Type } from '@sinclair/typebox';
import { AppError } from '../../errors.js';
import type { App } from '../../http/server.js';
import { NoContent, Nullable, Obj, OneOf } from '../../lib/schema.js';
import { addUser, changeUser, removeUser } from '../../identity/users.js';
import * as tenants from '../../model/tenants.js';
import { listUsers, ROLES } from '../../model/users.js';
import { User } from '../../model/views.js';
import { builtInUsersOnly, Password, refuseSelf, type UserRouteDeps } from '../customer/users.js';
import { noteAudit, userChangeSummary } from '../audit-note.js';
import type { Audited } from './audit.js';

const tags = ['operator/users'];
const Role = OneOf(ROLES);
const UserParams = Type.Object({ username: Type.String({ minLength: 1 }) });

export function registerOperatorUserRoutes(app: App, deps: UserRouteDeps & { audited: Audited }): void {
  const { audited } = deps;
  const preHandler = builtInUsersOnly(deps.externalIssuer);
  // Every route here is operator_admin's, listing included: users' names and e-mails are personal data.
  const entry = (action: string, username?: string, tenantFilter?: string) => ({
    action,
    admin: true,
    tenantFilter,
    resourceType: 'user',
    resourceId: username,
  });

  app.get(
    '/operator/users',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Users of every tenant and the operators (operator_admin)',
        querystring: Type.Object({ tenant_filter: Type.Optional(Type.String()) }),
        response: { 200: Obj({ users: Type.Array(User), tenant_filter: Nullable(Type.String()) }) },
      },
    },
    (request) => {
      const { tenant_filter } = request.query;
      return audited(request, entry('list_users', undefined, tenant_filter), async (tx) => ({
        users: await listUsers(tx, tenant_filter),
        tenant_filter: tenant_filter ?? null,
      }));
    },
  );

  app.post(
    '/operator/users',
    {
      preHandler,
      schema: {
        tags,
        summary: "Create a user (operator_admin): a tenant's first admin, or an operator",
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 100 }),
            password: Password,
            role: Role,
            tenant_id: Type.Optional(Type.String({ description: 'for customer roles' })),
            email: Type.Optional(Type.String({ maxLength: 254 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: User },
      },
    },
    async (request, reply) => {
      const { tenant_id, ...user } = request.body;
      const created = await audited(request, entry('create_user', user.username, tenant_id), async (tx) => {
        if (tenant_id) {
          const tenant = await tenants.findTenant(tx, tenant_id);
          if (!tenant || tenant.status === 'DELETED') {
            throw new AppError('INVALID_REQUEST', `Tenant ${tenant_id} does not exist; create it first`);
          }
        }
        const added = await addUser(tx, { ...user, tenantId: tenant_id });
        noteAudit(request, { summary: `created user ${added.username} (${added.role})` });
        return added;
      });
      return reply.status(201).send(created);
    },
  );

  app.patch(
    '/operator/users/:username',
    {
      preHandler,
      schema: {
        tags,
        summary:
          "Change a user's role (within customer or operator roles), set a new password, disable or enable it (operator_admin)",
        params: UserParams,
        body: Type.Object(
          {
            role: Type.Optional(Role),
            password: Type.Optional(Password),
            disabled: Type.Optional(Type.Boolean({ description: 'true: no more sign-ins, its tokens refused' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: User },
      },
    },
    async (request) => {
      const { username } = request.params;
      if (request.body.role) refuseSelf(request, username, 'change your own role');
      if (request.body.disabled) refuseSelf(request, username, 'disable yourself');
      const changed = await audited(request, entry('update_user', username), async (tx) => {
        const user = await changeUser(tx, username, request.body);
        noteAudit(request, { summary: userChangeSummary(username, request.body) });
        return user;
      });
      deps.usersChanged();
      return changed;
    },
  );

  app.delete(
    '/operator/users/:username',
    {
      preHandler,
      schema: { tags, summary: 'Remove a user (operator_admin)', params: UserParams, response: { 204: NoContent } },
    },
    async (request, reply) => {
      const { username } = request.params;
      refuseSelf(request, username, 'remove yourself');
      await audited(request, entry('delete_user', username), async (tx) => {
        await removeUser(tx, username);
        noteAudit(request, { summary: `removed user ${username}` });
      });
      deps.usersChanged();
      return reply.status(204).send(null);
    },
  );
}
