// Users of the built-in issuer: a customer admin's own tenant (/users), or, for an operator admin, every
// tenant's and the operators (/operator/users). Add with an initial password to hand over, change the
// role, set a new password, remove. With an external issuer the API says where users live instead.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { QueryTable } from '../components/table';
import { PasswordForm } from '../components/password';
import { ErrorBox, Field, Modal, Page, TenantLink } from '../components/ui';
import { api, unwrap } from '../lib/api';
import { useAuth } from '../lib/auth';
import { timeAgo } from '../lib/format';
import type { Answer, Body, Role } from '../lib/types';

type User = Answer<'/customer/users'>['users'][number];
type Change = Body<'/operator/users/{username}', 'patch'>;
const CUSTOMER_ROLES = ['customer_viewer', 'customer_admin'] as const satisfies Role[];
/** A customer admin's forms offer only these: its API takes no other. */
type CustomerRole = (typeof CUSTOMER_ROLES)[number];
const OPERATOR_ROLES = ['operator', 'operator_admin'] as const satisfies Role[];

function UserForm({ operator, onDone }: { operator: boolean; onDone: () => void }) {
  const client = useQueryClient();
  const [role, setRole] = useState<Role>('customer_viewer');
  const create = useMutation({
    mutationFn: (body: Body<'/operator/users', 'post'>) =>
      operator
        ? unwrap(api.POST('/operator/users', { body }))
        : unwrap(api.POST('/customer/users', { body: { ...body, role: body.role as CustomerRole } })),
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: ['users'] });
      onDone();
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get('email') ?? '').trim();
    const tenant = String(form.get('tenant_id') ?? '').trim();
    create.mutate({
      username: String(form.get('username')).trim(),
      password: String(form.get('password')),
      role,
      ...(email && { email }),
      ...(operator && tenant && { tenant_id: tenant }),
    });
  };
  const customerRole = (CUSTOMER_ROLES as readonly Role[]).includes(role);
  return (
    <form onSubmit={submit} className="space-y-3" aria-label="New user">
      <Field label="Username">
        <input className="input" name="username" required autoComplete="off" />
      </Field>
      <Field label="E-mail">
        <input className="input" name="email" type="email" />
      </Field>
      <Field label="Role">
        <select className="input" value={role} onChange={(e) => setRole(e.target.value as Role)} aria-label="Role">
          {[...CUSTOMER_ROLES, ...(operator ? OPERATOR_ROLES : [])].map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      </Field>
      {operator && customerRole && (
        <Field label="Tenant">
          <input className="input" name="tenant_id" required />
        </Field>
      )}
      <Field
        label="Initial password"
        hint="At least 8 characters, not containing the login name, not a common password; hand it over and ask for a change."
      >
        <input className="input" name="password" type="password" required minLength={8} autoComplete="new-password" />
      </Field>
      {create.error && <ErrorBox error={create.error} />}
      <button className="btn-primary" disabled={create.isPending}>
        Add user
      </button>
    </form>
  );
}

export default function Users() {
  const session = useAuth((s) => s.session)!;
  const operator = session.role === 'operator_admin';
  const client = useQueryClient();
  const [adding, setAdding] = useState(false);
  const users = useQuery({
    queryKey: ['users', operator],
    queryFn: (): Promise<{ users: User[] }> =>
      operator ? unwrap(api.GET('/operator/users')) : unwrap(api.GET('/customer/users')),
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['users'] });
  const patchUser = ([username, body]: [string, Change]) =>
    operator
      ? unwrap(api.PATCH('/operator/users/{username}', { params: { path: { username } }, body }))
      : unwrap(
          api.PATCH('/customer/users/{username}', {
            params: { path: { username } },
            body: { ...body, role: body.role as CustomerRole | undefined },
          }),
        );
  const change = useMutation({ mutationFn: patchUser, onSuccess: refresh });
  // The user whose password the "Set password" dialog sets.
  const [settingPassword, setSettingPassword] = useState<string>();
  const setPassword = useMutation({
    mutationFn: patchUser,
    onSuccess: async () => {
      setSettingPassword(undefined);
      await refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (username: string) =>
      operator
        ? unwrap(api.DELETE('/operator/users/{username}', { params: { path: { username } } }))
        : unwrap(api.DELETE('/customer/users/{username}', { params: { path: { username } } })),
    onSuccess: refresh,
  });
  const roles = (user: User) =>
    (CUSTOMER_ROLES as readonly Role[]).includes(user.role) ? CUSTOMER_ROLES : OPERATOR_ROLES;
  return (
    <Page
      title="Users"
      actions={
        <button className="btn-primary" onClick={() => setAdding(true)}>
          Add user
        </button>
      }
    >
      <Modal open={adding} title="Add a user" onClose={() => setAdding(false)}>
        <UserForm operator={operator} onDone={() => setAdding(false)} />
      </Modal>
      <Modal
        open={settingPassword !== undefined}
        title={`New password for ${settingPassword ?? ''}`}
        onClose={() => setSettingPassword(undefined)}
      >
        <p className="mb-3 text-sm">Their sessions end; hand the new password over and ask them to change it.</p>
        <PasswordForm
          label="Set password"
          pending={setPassword.isPending}
          error={setPassword.error}
          onSubmit={({ next }) => setPassword.mutate([settingPassword!, { password: next }])}
        />
      </Modal>
      {[change.error, remove.error].map((error, i) => error && <ErrorBox key={i} error={error} />)}
      <QueryTable
        query={users}
        rows={(data) => data.users}
        rowKey={(user) => user.user_id}
        empty="No users yet."
        testId="users-table"
        columns={[
          { header: 'Username', cell: (user) => user.username },
          operator && {
            header: 'Tenant',
            cell: (user) => (user.tenant_id ? <TenantLink tenantId={user.tenant_id} /> : 'operators'),
          },
          {
            header: 'Role',
            cell: (user) =>
              user.username === session.name ? (
                user.role
              ) : (
                <select
                  className="input py-0.5"
                  aria-label={`Role of ${user.username}`}
                  value={user.role}
                  onChange={(e) => change.mutate([user.username, { role: e.target.value as Role }])}
                >
                  {roles(user).map((r) => (
                    <option key={r}>{r}</option>
                  ))}
                </select>
              ),
          },
          { header: 'E-mail', cell: (user) => user.email ?? '—' },
          {
            header: 'Status',
            cell: (user) =>
              user.disabled ? (
                <span className="text-rose-600">disabled</span>
              ) : (
                <span className="text-emerald-600">active</span>
              ),
          },
          { header: 'Created', cell: (user) => timeAgo(user.created_at) },
          {
            header: <span className="sr-only">Actions</span>,
            cell: (user) =>
              user.username !== session.name && (
                <span className="flex gap-1">
                  <button className="btn-ghost" onClick={() => setSettingPassword(user.username)}>
                    Set password
                  </button>
                  <button
                    className="btn-ghost"
                    onClick={() =>
                      (user.disabled ||
                        confirm(`Disable ${user.username}? They cannot sign in and their sessions end.`)) &&
                      change.mutate([user.username, { disabled: !user.disabled }])
                    }
                  >
                    {user.disabled ? 'Enable' : 'Disable'}
                  </button>
                  <button
                    className="btn-ghost"
                    onClick={() =>
                      confirm(`Remove ${user.username}? Their sessions end.`) && remove.mutate(user.username)
                    }
                  >
                    Remove
                  </button>
                </span>
              ),
          },
        ]}
      />
    </Page>
  );
}
