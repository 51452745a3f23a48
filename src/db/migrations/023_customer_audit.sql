-- Customers' changes are audited too (issue 18): every /customer request that changes something (rules,
-- integrations, routes, silences, acknowledgements, devices, users…) — who, what, on which resource, how
-- it ended, when, from where. Customers read their own tenant's entries and can only add; the log is
-- append-only for them.
CREATE TABLE customer_audit_log (
  id BIGSERIAL PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  username TEXT NULL,
  role TEXT NOT NULL,
  action TEXT NOT NULL,
  resource_id TEXT NULL,
  fields TEXT[] NULL,
  status_code SMALLINT NOT NULL,
  ip_address INET NULL,
  user_agent TEXT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX customer_audit_log_tenant_idx ON customer_audit_log (tenant_id, created_at DESC);

ALTER TABLE customer_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE customer_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON customer_audit_log FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT ON customer_audit_log TO pulse_app;
GRANT SELECT ON customer_audit_log TO pulse_operator;
GRANT SELECT, DELETE ON customer_audit_log TO pulse_service;
GRANT USAGE, SELECT ON SEQUENCE customer_audit_log_id_seq TO pulse_app;

-- "Retry now" on a FAILED delivery: customers may put their own jobs back in the queue, nothing more.
GRANT UPDATE (status, next_run_at, updated_at) ON delivery_jobs TO pulse_app;
