-- Delivery failures are seen (issue 29 item 4, ADR 025 note): each integration's health, updated in the
-- transaction that records a delivery attempt, so the worker whose update changes the state is the only
-- one that logs it and opens or closes the integration's INTEGRATION_FAILING alert. No row: unknown.
CREATE TABLE integration_health (
  tenant_id            TEXT NOT NULL,
  integration_id       UUID NOT NULL,
  state                TEXT NOT NULL DEFAULT 'unknown' CHECK (state IN ('unknown', 'healthy', 'failing')),
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  last_success_at      TIMESTAMPTZ NULL,
  last_failure_at      TIMESTAMPTZ NULL,
  last_error           TEXT NULL,
  updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, integration_id),
  FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, integration_id) ON DELETE CASCADE
);
CREATE INDEX integration_health_failing_idx ON integration_health (tenant_id) WHERE state = 'failing';

ALTER TABLE integration_health ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration_health FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON integration_health FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT ON integration_health TO pulse_app, pulse_operator;
GRANT SELECT, INSERT, UPDATE ON integration_health TO pulse_service;

-- An alert about an integration rather than a device (INTEGRATION_FAILING) names it here; its device_id
-- and site_id are '' (NOT NULL is kept so every device-alert reader works unchanged, and '' matches no
-- route's or silence's site or device prefix). No foreign key: like a device alert, it outlives what it
-- was about, and its details keep the integration's name.
ALTER TABLE fleet_alert ADD COLUMN integration_id UUID NULL;
ALTER TABLE fleet_alert ADD CONSTRAINT fleet_alert_subject_check
  CHECK (integration_id IS NULL OR (device_id = '' AND site_id = ''));
