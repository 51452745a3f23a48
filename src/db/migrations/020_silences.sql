-- Silences (issue 18): maintenance windows in which a tenant's matching alerts still open and close but
-- their notifications are held. A silence matches by site, device id, device id prefix and alert type
-- (each list optional; all given lists must match). An event silenced gets its delivery job all the same,
-- as SILENCED with the silence that held it: the catch-up after a restart then finds the job and sends
-- nothing, so an expired silence delivers nothing retroactively, and the alert shows it was silenced.
CREATE TABLE silences (
  silence_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id),
  site_ids TEXT[] NULL,
  device_ids TEXT[] NULL,
  device_prefixes TEXT[] NULL,
  alert_types TEXT[] NULL,
  starts_at TIMESTAMPTZ NOT NULL,
  ends_at TIMESTAMPTZ NOT NULL CHECK (ends_at > starts_at),
  comment TEXT NOT NULL,
  created_by TEXT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX silences_tenant_ends_idx ON silences (tenant_id, ends_at);

ALTER TABLE silences ENABLE ROW LEVEL SECURITY;
ALTER TABLE silences FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON silences FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON silences TO pulse_app;
GRANT SELECT ON silences TO pulse_service, pulse_operator;

ALTER TABLE delivery_jobs DROP CONSTRAINT delivery_jobs_status_check;
ALTER TABLE delivery_jobs ADD CONSTRAINT delivery_jobs_status_check
  CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'SILENCED'));
ALTER TABLE delivery_jobs ADD COLUMN silence_id UUID NULL;

ALTER TABLE fleet_alert ADD COLUMN silenced_by UUID NULL;
