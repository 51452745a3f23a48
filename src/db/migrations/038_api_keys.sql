-- API keys for machine clients (issue 33 item 2, ADR 031): a tenant's named bearer secrets with a customer
-- role, an optional expiry and an optional list of source networks. Only the SHA-256 of the secret is
-- stored; `prefix` (the secret's first characters) is what lists show to tell keys apart. A revoked key
-- stays, for the audit log's sake, and is refused. last_used_at and use_count are written at most once a
-- minute per key and process (use_count counts every request, reads included, since the last write).
CREATE TABLE api_keys (
  tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id),
  key_id        UUID NOT NULL DEFAULT gen_random_uuid(),
  name          TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('customer_viewer', 'customer_admin')),
  prefix        TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL UNIQUE,
  allowed_cidrs TEXT[] NOT NULL DEFAULT '{}',
  expires_at    TIMESTAMPTZ,
  created_by    TEXT NOT NULL,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_used_at  TIMESTAMPTZ,
  last_used_ip  INET,
  use_count     BIGINT NOT NULL DEFAULT 0,
  revoked_at    TIMESTAMPTZ,
  revoked_by    TEXT,
  PRIMARY KEY (tenant_id, key_id)
);
-- A name names one live key of its tenant.
CREATE UNIQUE INDEX api_keys_live_name_idx ON api_keys (tenant_id, name) WHERE revoked_at IS NULL;

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON api_keys FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
-- Customers manage their own; operators list and revoke any; the API looks a key up by its hash before it
-- knows the tenant (as the pipeline's role) and records its use.
GRANT SELECT, INSERT, UPDATE (revoked_at, revoked_by) ON api_keys TO pulse_app;
GRANT SELECT, UPDATE (revoked_at, revoked_by) ON api_keys TO pulse_operator;
GRANT SELECT, UPDATE (last_used_at, last_used_ip, use_count) ON api_keys TO pulse_service;
