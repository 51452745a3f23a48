-- Rollups (issue 17): per device and metric, and per tenant (the fleet) and metric, 1-minute and 1-hour
-- buckets with min, max, sum and count (and, per device, the last value). Booleans count as 0/1, so
-- avg = sum / count is their share of true; `bool` says which metrics those are. The '#messages' metric of
-- the fleet tables counts telemetry messages (metric names never start with '#').
-- They are built from what ingest stores by a worker that reads telemetry by ingested_at up to a
-- watermark (rollup_state), in the same transaction as it moves the watermark: a restart neither skips
-- nor double-counts, and a late message is folded into the bucket of its own time (ADR 024).
CREATE TABLE telemetry_rollup_1m (
  tenant_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  metric TEXT NOT NULL,
  bucket TIMESTAMPTZ NOT NULL,
  min DOUBLE PRECISION NOT NULL,
  max DOUBLE PRECISION NOT NULL,
  sum DOUBLE PRECISION NOT NULL,
  count INTEGER NOT NULL,
  last DOUBLE PRECISION NOT NULL,
  last_time TIMESTAMPTZ NOT NULL,
  bool BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (tenant_id, device_id, metric, bucket)
);
CREATE TABLE telemetry_rollup_1h (LIKE telemetry_rollup_1m INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE telemetry_rollup_1h ADD PRIMARY KEY (tenant_id, device_id, metric, bucket);

CREATE TABLE telemetry_fleet_1m (
  tenant_id TEXT NOT NULL,
  metric TEXT NOT NULL,
  bucket TIMESTAMPTZ NOT NULL,
  min DOUBLE PRECISION NOT NULL,
  max DOUBLE PRECISION NOT NULL,
  sum DOUBLE PRECISION NOT NULL,
  count INTEGER NOT NULL,
  bool BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (tenant_id, metric, bucket)
);
CREATE TABLE telemetry_fleet_1h (LIKE telemetry_fleet_1m INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE telemetry_fleet_1h ADD PRIMARY KEY (tenant_id, metric, bucket);

-- Retention deletes by bucket in bounded batches: BRIN indexes cost next to nothing to keep.
CREATE INDEX telemetry_rollup_1m_bucket_brin ON telemetry_rollup_1m USING brin (bucket);
CREATE INDEX telemetry_rollup_1h_bucket_brin ON telemetry_rollup_1h USING brin (bucket);
CREATE INDEX telemetry_fleet_1m_bucket_brin ON telemetry_fleet_1m USING brin (bucket);
CREATE INDEX telemetry_fleet_1h_bucket_brin ON telemetry_fleet_1h USING brin (bucket);
-- The rollup worker, and charts looking for rows not rolled up yet, read telemetry by ingested_at, which
-- grows with every partition's appends. A range is summarised once the next one fills (autosummarize);
-- the last, partial range of each partition by maintenance (telemetry_summarize_ingested below).
CREATE INDEX telemetry_ingested_brin ON telemetry USING brin (ingested_at) WITH (pages_per_range = 32, autosummarize = on);
-- ingested_at as each row is written, not the writing transaction's start: a transaction that has not
-- written yet can only add rows later than the rollup horizon (rollup_horizon below).
ALTER TABLE telemetry ALTER COLUMN ingested_at SET DEFAULT clock_timestamp();

DO $$
DECLARE
  rollup TEXT;
BEGIN
  FOREACH rollup IN ARRAY ARRAY['telemetry_rollup_1m', 'telemetry_rollup_1h', 'telemetry_fleet_1m', 'telemetry_fleet_1h'] LOOP
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

-- The watermark: every telemetry row with ingested_at up to ingested_through is in the rollups. Rows from
-- before this migration are not: `pulse rollup rebuild --since <date>` builds them.
CREATE TABLE rollup_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  ingested_through TIMESTAMPTZ NOT NULL,
  -- `pulse rollup rebuild`: the day it started from and the last day it finished, to resume.
  rebuild_since DATE NULL,
  rebuild_done_through DATE NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO rollup_state (id, ingested_through) VALUES (1, clock_timestamp());
GRANT SELECT, UPDATE ON rollup_state TO pulse_service, pulse_operator;
GRANT SELECT ON rollup_state TO pulse_app;

-- How far the rollups may go now: no later than p_lag_seconds ago, and before the start of any
-- transaction that has written something and not finished (its rows are not visible yet). Rows are
-- stamped when written (clock_timestamp()), so a transaction yet to write can only add later rows.
-- SECURITY DEFINER: it reads every Pulse session's transaction start, which a pipeline role may not.
-- Call it in its own transaction, before the one that reads telemetry (activity is read once a transaction).
CREATE FUNCTION rollup_horizon(p_lag_seconds INTEGER) RETURNS TIMESTAMPTZ
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
  SELECT LEAST(
    clock_timestamp() - make_interval(secs => p_lag_seconds),
    (SELECT min(xact_start) FROM pg_stat_activity
     WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()))
$$;
REVOKE ALL ON FUNCTION rollup_horizon(INTEGER) FROM PUBLIC;

-- Summarises every telemetry partition's ingested_at ranges not summarised yet, the partial last one
-- included (VACUUM leaves it): a partition no longer written to then answers "ingested after X?" with no
-- page read. Returns how many ranges it summarised.
CREATE FUNCTION telemetry_summarize_ingested() RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
DECLARE
  summarized INTEGER := 0;
  brin REGCLASS;
BEGIN
  FOR brin IN
    SELECT i.indexrelid::regclass FROM pg_inherits h
    JOIN pg_index i ON i.indrelid = h.inhrelid
    JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
    WHERE h.inhparent = 'telemetry'::regclass AND a.amname = 'brin'
  LOOP
    summarized := summarized + brin_summarize_new_values(brin);
  END LOOP;
  RETURN summarized;
END
$$;
REVOKE ALL ON FUNCTION telemetry_summarize_ingested() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION telemetry_summarize_ingested() TO pulse_service, pulse_operator;
GRANT EXECUTE ON FUNCTION rollup_horizon(INTEGER) TO pulse_service, pulse_operator;
