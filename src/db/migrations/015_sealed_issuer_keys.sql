-- The built-in issuer's private key and cookie keys are sealed with SECRETS_KEY, as integration secrets
-- are: the database files alone no longer let anyone sign a token. A row from before is sealed (and its
-- clear columns emptied) the next time Pulse reads it.
ALTER TABLE oidc_issuer_state
  ADD COLUMN sealed_keys TEXT,
  ALTER COLUMN signing_key DROP NOT NULL,
  ALTER COLUMN cookie_keys DROP NOT NULL,
  ADD CONSTRAINT oidc_issuer_state_keys CHECK (sealed_keys IS NOT NULL OR signing_key IS NOT NULL);
