-- The built-in OpenID Connect issuer: its users, its signing key and what it must remember between
-- requests (sessions, codes, refresh tokens). An external issuer (OIDC_ISSUER) uses none of this.
-- Only the pipeline role reads users: logins happen before any tenant is known.
CREATE TABLE users (
  user_id       TEXT PRIMARY KEY DEFAULT gen_random_uuid()::text,
  username      TEXT NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$'),
  email         TEXT,
  tenant_id     TEXT REFERENCES tenants (tenant_id),
  role          TEXT NOT NULL CHECK (role IN ('customer_viewer', 'customer_admin', 'operator', 'operator_admin')),
  -- scrypt$N$r$p$salt$hash (base64url)
  password_hash TEXT NOT NULL,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  -- Customers belong to exactly one tenant; operators to none.
  CONSTRAINT users_tenant_matches_role CHECK (
    (role IN ('customer_viewer', 'customer_admin')) = (tenant_id IS NOT NULL)
  )
);

-- One row: the issuer's RS256 key pair and cookie keys, created on first start and shared by every
-- instance and by `pulse token`; and the issuer URL last served, which `pulse token` puts in `iss`.
CREATE TABLE oidc_issuer_state (
  singleton   BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
  signing_key JSONB NOT NULL,
  cookie_keys TEXT[] NOT NULL,
  issuer      TEXT,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- oidc-provider's storage adapter: one row per stored model instance.
CREATE TABLE oidc_models (
  model       TEXT NOT NULL,
  id          TEXT NOT NULL,
  payload     JSONB NOT NULL,
  grant_id    TEXT,
  user_code   TEXT,
  uid         TEXT,
  expires_at  TIMESTAMPTZ,
  consumed_at TIMESTAMPTZ,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_models_grant_idx ON oidc_models (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_models_uid_idx ON oidc_models (uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_models_expires_idx ON oidc_models (expires_at) WHERE expires_at IS NOT NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON users, oidc_issuer_state, oidc_models TO pulse_service;
-- Operators list users in the tenants pages; they never see hashes through the API.
GRANT SELECT ON users TO pulse_operator;
