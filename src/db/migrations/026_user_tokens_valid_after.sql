-- Changing a user's password or role, or disabling it, ends what it signed in with before (issue 36):
-- access tokens issued, and refresh tokens and browser sessions from sign-ins, before this moment are
-- refused. NULL: nothing ended yet.
ALTER TABLE users ADD COLUMN tokens_valid_after TIMESTAMPTZ;
