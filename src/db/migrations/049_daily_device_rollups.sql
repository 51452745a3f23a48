-- Daily rollups per device (issue 32, ADR 036): a statistic over a long window of many devices' own
-- rollups — a bar or a stat per tag, where tags change and cannot be rolled up as they come (ADR 035) —
-- reads one row per device, metric and whole day instead of 24 hourly rows of every metric. Built by the
-- rollup worker with the others from the same minutes, kept, pruned (with the hours) and rebuilt like them.
-- Keyed by metric before the day: such a read wants one metric of a device over a range of days.
CREATE TABLE telemetry_rollup_1d (LIKE telemetry_rollup_1h INCLUDING DEFAULTS);
ALTER TABLE telemetry_rollup_1d ADD PRIMARY KEY (tenant_id, device_id, metric, bucket) INCLUDE (min, max, sum, count, bool);
CREATE INDEX telemetry_rollup_1d_bucket_brin ON telemetry_rollup_1d USING brin (bucket);
ALTER TABLE telemetry_rollup_1d ENABLE ROW LEVEL SECURITY;
ALTER TABLE telemetry_rollup_1d FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON telemetry_rollup_1d FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT ON telemetry_rollup_1d TO pulse_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON telemetry_rollup_1d TO pulse_service, pulse_operator;
-- Read by index-only scans, as the hours (043).
ALTER TABLE telemetry_rollup_1d SET (autovacuum_vacuum_insert_threshold = 5000, autovacuum_vacuum_insert_scale_factor = 0);

-- What is rolled up already, from the hours (the newest value of a day: of its newest hour).
INSERT INTO telemetry_rollup_1d (tenant_id, device_id, metric, bucket, min, max, sum, count, last, last_time, bool)
SELECT tenant_id, device_id, metric, date_bin(interval '1 day', bucket, timestamptz '1970-01-01 00:00:00+00'),
       min(min), max(max), sum(sum), sum(count)::int, (max(ARRAY[extract(epoch FROM last_time)::float8, last]))[2],
       max(last_time), bool_and(bool)
FROM telemetry_rollup_1h GROUP BY 1, 2, 3, 4;
