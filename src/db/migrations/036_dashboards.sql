-- Dashboards customers build themselves (issue 32): a tenant's boards, each one JSON document (the
-- versioned schema of docs/dashboards.md, checked by the application: widgets, their grid places, the
-- default time range and the variables), and the read-only links that show one board without a login.
CREATE TABLE dashboards (
  tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id),
  dashboard_id UUID NOT NULL DEFAULT gen_random_uuid(),
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  definition JSONB NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
  created_by TEXT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, dashboard_id)
);

-- A share link is a random token the link carries; only its SHA-256 is kept. It shows its dashboard until
-- it expires or an admin revokes it, and goes with the dashboard.
CREATE TABLE dashboard_shares (
  share_id UUID NOT NULL DEFAULT gen_random_uuid(),
  tenant_id TEXT NOT NULL,
  dashboard_id UUID NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  expires_at TIMESTAMPTZ NOT NULL,
  revoked_at TIMESTAMPTZ NULL,
  created_by TEXT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, share_id),
  FOREIGN KEY (tenant_id, dashboard_id) REFERENCES dashboards (tenant_id, dashboard_id) ON DELETE CASCADE
);
CREATE INDEX dashboard_shares_dashboard_idx ON dashboard_shares (tenant_id, dashboard_id);

ALTER TABLE dashboards ENABLE ROW LEVEL SECURITY;
ALTER TABLE dashboards FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON dashboards FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
ALTER TABLE dashboard_shares ENABLE ROW LEVEL SECURITY;
ALTER TABLE dashboard_shares FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON dashboard_shares FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON dashboards, dashboard_shares TO pulse_app;
GRANT SELECT ON dashboards TO pulse_operator;
-- The public share route finds a link's tenant by its token hash, before any tenant is known.
GRANT SELECT ON dashboard_shares TO pulse_service;
