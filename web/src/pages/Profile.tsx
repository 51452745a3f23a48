// The signed-in user's own page, whatever its role: who it is, and changing its password (the current one
// required). A new password ends every session of the user, this one included: it signs in again.
import { useMutation } from '@tanstack/react-query';
import { PasswordForm } from '../components/password';
import { Page } from '../components/ui';
import { api, unwrap } from '../lib/api';
import { signOut, useAuth } from '../lib/auth';

export default function Profile() {
  const session = useAuth((s) => s.session)!;
  const change = useMutation({
    mutationFn: ({ current, next }: { current: string; next: string }) =>
      unwrap(api.POST('/api/me/password', { body: { current_password: current, new_password: next } })),
  });
  return (
    <Page title="Profile">
      <div className="card space-y-1 text-sm">
        <div>
          <span className="label">User</span> {session.name}
        </div>
        <div>
          <span className="label">Role</span> {session.role}
          {session.tenantId && ` of ${session.tenantId}`}
        </div>
      </div>
      <div className="card max-w-md space-y-3">
        <h2 className="font-semibold">Change password</h2>
        {change.isSuccess ? (
          <div role="status" className="space-y-3 text-sm">
            <p>Your password is changed. Your sessions have ended; sign in again with the new password.</p>
            <button className="btn-primary" onClick={() => void signOut()}>
              Sign in again
            </button>
          </div>
        ) : (
          <PasswordForm
            label="Change password"
            askCurrent
            pending={change.isPending}
            error={change.error}
            onSubmit={(passwords) => change.mutate(passwords)}
          />
        )}
      </div>
    </Page>
  );
}
