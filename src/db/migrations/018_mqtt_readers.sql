-- Alert readers (issue 16): logins a tenant gives to its own MQTT clients (a SCADA, a dashboard, a
-- phone app) so they may subscribe to alerts/<tenant>/# on Pulse's broker, where its MQTT integrations
-- publish — and nobody else may. The password is random and shown once; only its SHA-256 is kept.
CREATE TABLE mqtt_readers (
  tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id),
  name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  created_by TEXT NULL,
  PRIMARY KEY (tenant_id, name)
);

ALTER TABLE mqtt_readers ENABLE ROW LEVEL SECURITY;
ALTER TABLE mqtt_readers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON mqtt_readers FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, DELETE ON mqtt_readers TO pulse_app;
-- The broker checks logins before a tenant is known (as device logins).
GRANT SELECT ON mqtt_readers TO pulse_service, pulse_operator;
