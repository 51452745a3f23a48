-- What `pulse import original` brought over from an OpsConductor-Pulse database (issue 33, ADR 032), so a
-- second run changes nothing and an interrupted one goes on where it stopped. Everything else the import
-- writes keeps the original's own key (tenant, device, rule, integration and route ids) and is inserted
-- only when absent; alerts get new ids and telemetry has no key at all, so these two are remembered here.
-- `source` names the original database (host:port/database, without credentials).

-- An original alert and the Pulse alert it became: never imported twice, even after Pulse closed it.
CREATE TABLE imported_alerts (
  source          TEXT NOT NULL,
  tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  source_alert_id BIGINT NOT NULL,
  alert_id        BIGINT NOT NULL,
  imported_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (source, tenant_id, source_alert_id)
);

-- The telemetry of a tenant imported so far: every original row with since <= time <= through. Kept as
-- the original's own timestamps (microseconds), committed with each batch.
CREATE TABLE imported_telemetry (
  source     TEXT NOT NULL,
  tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  since      TIMESTAMPTZ NOT NULL,
  through    TIMESTAMPTZ NOT NULL,
  rows       BIGINT NOT NULL DEFAULT 0,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (source, tenant_id),
  CHECK (since <= through)
);

ALTER TABLE imported_alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE imported_alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON imported_alerts FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
ALTER TABLE imported_telemetry ENABLE ROW LEVEL SECURITY;
ALTER TABLE imported_telemetry FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON imported_telemetry FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
-- The import runs as the pipeline; customers and operators may read what it did.
GRANT SELECT, INSERT, UPDATE ON imported_alerts, imported_telemetry TO pulse_service;
GRANT SELECT ON imported_alerts, imported_telemetry TO pulse_app, pulse_operator;
