-- Rollups per site (issue 32): per tenant, site and metric, 1-minute and 1-hour buckets with min, max, sum
-- and count, as the fleet's (024). A dashboard narrowed to a site, or drawing one line or bar per site,
-- reads a month of a site in 720 rows per metric instead of every device's (ADR 035). A message counts at
-- the site it was sent from (telemetry.site_id). Built by the rollup worker with the others, kept, pruned
-- and rebuilt like them.
CREATE TABLE telemetry_site_1m (LIKE telemetry_fleet_1m INCLUDING DEFAULTS);
-- Keyed by metric first: a widget reads one metric of every site, or of one, over a range.
ALTER TABLE telemetry_site_1m ADD COLUMN site_id TEXT NOT NULL, ADD PRIMARY KEY (tenant_id, metric, bucket, site_id);
CREATE TABLE telemetry_site_1h (LIKE telemetry_site_1m INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE telemetry_site_1h ADD PRIMARY KEY (tenant_id, metric, bucket, site_id);
CREATE INDEX telemetry_site_1m_bucket_brin ON telemetry_site_1m USING brin (bucket);
CREATE INDEX telemetry_site_1h_bucket_brin ON telemetry_site_1h USING brin (bucket);

DO $$
DECLARE
  rollup TEXT;
BEGIN
  FOREACH rollup IN ARRAY ARRAY['telemetry_site_1m', 'telemetry_site_1h'] LOOP
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

-- What is rolled up already, per site: each device's rollups counted at the site the registry gives it now
-- (the rollups do not keep the site of each message; a device that moved counts at its new site for its
-- past here, unless `pulse rollup rebuild` recomputes those days from raw rows).
INSERT INTO telemetry_site_1m (tenant_id, site_id, metric, bucket, min, max, sum, count, bool)
SELECT r.tenant_id, dr.site_id, r.metric, r.bucket, min(r.min), max(r.max), sum(r.sum), sum(r.count), bool_and(r.bool)
FROM telemetry_rollup_1m r JOIN device_registry dr ON dr.tenant_id = r.tenant_id AND dr.device_id = r.device_id
GROUP BY 1, 2, 3, 4;
INSERT INTO telemetry_site_1h (tenant_id, site_id, metric, bucket, min, max, sum, count, bool)
SELECT r.tenant_id, dr.site_id, r.metric, r.bucket, min(r.min), max(r.max), sum(r.sum), sum(r.count), bool_and(r.bool)
FROM telemetry_rollup_1h r JOIN device_registry dr ON dr.tenant_id = r.tenant_id AND dr.device_id = r.device_id
GROUP BY 1, 2, 3, 4;
