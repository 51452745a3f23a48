-- An admin disables a user instead of removing it (issue 19): the user can no longer sign in and its
-- tokens are refused, but it keeps its name, role and history and can be enabled again.
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT false;
