-- Rollups of text metrics (issue 31): per device and metric, 1-minute and 1-hour buckets with the first and
-- the last value of the bucket (and when they came) and how many times the value changed in it — a change
-- counted in the bucket of the sample that brought the new value, the previous value looked up across
-- buckets. Built by the rollup worker with the numeric rollups (ADR 024), kept and pruned like them.
CREATE TABLE telemetry_text_1m (
  tenant_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  metric TEXT NOT NULL,
  bucket TIMESTAMPTZ NOT NULL,
  first TEXT NOT NULL,
  first_time TIMESTAMPTZ NOT NULL,
  last TEXT NOT NULL,
  last_time TIMESTAMPTZ NOT NULL,
  changes INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, device_id, metric, bucket)
);
CREATE TABLE telemetry_text_1h (LIKE telemetry_text_1m INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE telemetry_text_1h ADD PRIMARY KEY (tenant_id, device_id, metric, bucket);
CREATE INDEX telemetry_text_1m_bucket_brin ON telemetry_text_1m USING brin (bucket);
CREATE INDEX telemetry_text_1h_bucket_brin ON telemetry_text_1h USING brin (bucket);

DO $$
DECLARE
  rollup TEXT;
BEGIN
  FOREACH rollup IN ARRAY ARRAY['telemetry_text_1m', 'telemetry_text_1h'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', rollup);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', rollup);
    EXECUTE format(
      'CREATE POLICY tenant_isolation_policy ON %I FOR ALL TO pulse_app '
      'USING (tenant_id = current_setting(''app.tenant_id'', true)) '
      'WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', rollup);
    EXECUTE format('GRANT SELECT ON %I TO pulse_app', rollup);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO pulse_service, pulse_operator', rollup);
  END LOOP;
END
$$;
