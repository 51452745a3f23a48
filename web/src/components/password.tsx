// A new password typed twice, and with `askCurrent` the current one first: the admin's "Set password"
// dialog and a user's own profile page use the same form.
import { useState, type FormEvent } from 'react';
import { ErrorBox, Field } from './ui';

export const PASSWORD_HINT = 'At least 8 characters, not containing the login name, not a common password.';

export function PasswordForm({
  label,
  askCurrent = false,
  pending,
  error,
  onSubmit,
}: {
  label: string;
  askCurrent?: boolean;
  pending: boolean;
  error: unknown;
  onSubmit: (passwords: { current: string; next: string }) => void;
}) {
  const [mismatch, setMismatch] = useState(false);
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const next = String(form.get('new_password'));
    setMismatch(next !== String(form.get('repeat_password')));
    if (next === String(form.get('repeat_password')))
      onSubmit({ current: String(form.get('current_password') ?? ''), next });
  };
  return (
    <form onSubmit={submit} className="space-y-3" aria-label={label}>
      {askCurrent && (
        <Field label="Current password">
          <input className="input" name="current_password" type="password" required autoComplete="current-password" />
        </Field>
      )}
      <Field label="New password" hint={PASSWORD_HINT}>
        <input
          className="input"
          name="new_password"
          type="password"
          required
          minLength={8}
          autoComplete="new-password"
        />
      </Field>
      <Field label="New password again">
        <input className="input" name="repeat_password" type="password" required autoComplete="new-password" />
      </Field>
      {mismatch && <ErrorBox error={new Error('The two new passwords differ; type the same one twice.')} />}
      {Boolean(error) && <ErrorBox error={error} />}
      <button className="btn-primary" disabled={pending}>
        {label}
      </button>
    </form>
  );
}
