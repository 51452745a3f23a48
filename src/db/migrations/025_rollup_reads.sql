-- Faster reads of the rollups (ADR 024, "Reads stay cheap as the fleet grows").
--
-- 1. A device's chart reads its buckets of every metric for a time range from the per-device rollups:
--    thousands of rows for a week, written minute by minute for the whole fleet, so each sat on its own
--    heap page, and the key (device, metric, bucket) made a range of all metrics walk the device's whole
--    retention. Keyed (device, bucket, metric) and carrying the values a chart reads, that read is an
--    index-only scan of one contiguous key range. `last` stays in the heap: no read needs it.
--    Rebuilding the keys locks each table meanwhile: 2 min 42 s for 75 M rollup rows on the 2-core test
--    machine (docs/production.md).
ALTER TABLE telemetry_rollup_1m DROP CONSTRAINT telemetry_rollup_1m_pkey;
ALTER TABLE telemetry_rollup_1m ADD PRIMARY KEY (tenant_id, device_id, bucket, metric) INCLUDE (min, max, sum, count, bool);
ALTER TABLE telemetry_rollup_1h DROP CONSTRAINT telemetry_rollup_1h_pkey;
ALTER TABLE telemetry_rollup_1h ADD PRIMARY KEY (tenant_id, device_id, bucket, metric) INCLUDE (min, max, sum, count, bool);

-- 2. How many devices sent telemetry in a window: per device, the two newest 1-minute buckets it sent in
--    (hours, for a device the 1-minute rollups no longer keep). Either one inside the window answers yes;
--    the newer before it, or the older before it and the newer after, answers no; only when both are after
--    it (a window ending in the past, a clock ahead) does the count look into the rollups themselves. Kept
--    by the rollup worker.
CREATE TABLE telemetry_rollup_devices (
  tenant_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  last_bucket TIMESTAMPTZ NULL,
  previous_bucket TIMESTAMPTZ NULL,
  PRIMARY KEY (tenant_id, device_id)
);
ALTER TABLE telemetry_rollup_devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE telemetry_rollup_devices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON telemetry_rollup_devices FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT ON telemetry_rollup_devices TO pulse_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON telemetry_rollup_devices TO pulse_service, pulse_operator;

-- A device's two newest buckets as the rollups hold them now, newest first.
CREATE FUNCTION rollup_newest_buckets(p_tenant TEXT, p_device TEXT) RETURNS TIMESTAMPTZ[]
LANGUAGE sql STABLE SET search_path = public, pg_catalog, pg_temp AS $$
  SELECT COALESCE(
    NULLIF(ARRAY(SELECT bucket FROM telemetry_rollup_1m
                 WHERE tenant_id = p_tenant AND device_id = p_device AND metric = '#messages'
                 ORDER BY bucket DESC LIMIT 2), '{}'),
    ARRAY(SELECT bucket FROM telemetry_rollup_1h
          WHERE tenant_id = p_tenant AND device_id = p_device AND metric = '#messages'
          ORDER BY bucket DESC LIMIT 2))
$$;

INSERT INTO telemetry_rollup_devices (tenant_id, device_id, last_bucket, previous_bucket)
SELECT tenant_id, device_id, newest[1], newest[2]
FROM (SELECT DISTINCT tenant_id, device_id FROM telemetry_rollup_1h) d,
     LATERAL rollup_newest_buckets(d.tenant_id, d.device_id) AS newest;
