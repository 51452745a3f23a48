-- Telemetry, range-partitioned by day (UTC). A row whose day has no partition yet lands in
-- telemetry_default and is moved into its day's partition when that partition is created, so nothing
-- is ever rejected for lack of a partition. Retention drops whole partitions.
CREATE TABLE telemetry (
  time      TIMESTAMPTZ NOT NULL,
  tenant_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  site_id   TEXT,
  msg_type  TEXT NOT NULL DEFAULT 'telemetry',
  seq       BIGINT NOT NULL DEFAULT 0,
  metrics   JSONB NOT NULL DEFAULT '{}'
) PARTITION BY RANGE (time);

CREATE TABLE telemetry_default PARTITION OF telemetry DEFAULT;

-- "Latest per device" and "one device over a time range" (index scans backwards on time DESC).
CREATE INDEX idx_telemetry_tenant_device_time ON telemetry (tenant_id, device_id, time DESC);
-- Tenant-wide windows (summaries, charts across the fleet).
CREATE INDEX idx_telemetry_tenant_time ON telemetry (tenant_id, time DESC);

-- Creates the partition for one UTC day if it does not exist yet; returns true when it created one.
-- SECURITY DEFINER so the pipeline role can call it without owning the table.
CREATE FUNCTION telemetry_ensure_partition(p_day DATE) RETURNS BOOLEAN
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  partition_name TEXT := 'telemetry_p' || to_char(p_day, 'YYYYMMDD');
  lower_bound TIMESTAMPTZ := p_day::timestamp AT TIME ZONE 'UTC';
  upper_bound TIMESTAMPTZ := (p_day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
  IF to_regclass(partition_name) IS NOT NULL THEN
    RETURN false;
  END IF;
  -- Attaching next to a DEFAULT partition scans it under an exclusive lock anyway; taking the lock first
  -- keeps a concurrent insert from slipping a row for this day into the default between move and attach.
  LOCK TABLE telemetry_default IN ACCESS EXCLUSIVE MODE;
  IF to_regclass(partition_name) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE telemetry INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition_name);
  EXECUTE format(
    'WITH moved AS (DELETE FROM telemetry_default WHERE time >= $1 AND time < $2 RETURNING *) '
    'INSERT INTO %I SELECT * FROM moved', partition_name)
    USING lower_bound, upper_bound;
  EXECUTE format('ALTER TABLE telemetry ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
    partition_name, lower_bound, upper_bound);
  RETURN true;
END
$$;

-- Ensures partitions from yesterday through p_days_ahead days after today (UTC); returns how many it created.
CREATE FUNCTION telemetry_ensure_partitions(p_days_ahead INTEGER) RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  today DATE := (now() AT TIME ZONE 'UTC')::date;
  created INTEGER := 0;
  offset_days INTEGER;
BEGIN
  FOR offset_days IN -1 .. p_days_ahead LOOP
    IF telemetry_ensure_partition(today + offset_days) THEN
      created := created + 1;
    END IF;
  END LOOP;
  RETURN created;
END
$$;

-- Drops day partitions that end before now() - p_keep_days and deletes default-partition rows that old;
-- returns the number of partitions dropped.
CREATE FUNCTION telemetry_drop_partitions_older_than(p_keep_days INTEGER) RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  cutoff DATE := (now() AT TIME ZONE 'UTC')::date - p_keep_days;
  partition_name TEXT;
  dropped INTEGER := 0;
BEGIN
  FOR partition_name IN
    SELECT c.relname FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'telemetry'::regclass AND c.relname ~ '^telemetry_p[0-9]{8}$'
      AND to_date(substr(c.relname, 12), 'YYYYMMDD') < cutoff
  LOOP
    EXECUTE format('DROP TABLE %I', partition_name);
    dropped := dropped + 1;
  END LOOP;
  DELETE FROM telemetry_default WHERE time < cutoff::timestamp AT TIME ZONE 'UTC';
  RETURN dropped;
END
$$;

REVOKE ALL ON FUNCTION telemetry_ensure_partition(DATE) FROM PUBLIC;
REVOKE ALL ON FUNCTION telemetry_ensure_partitions(INTEGER) FROM PUBLIC;
REVOKE ALL ON FUNCTION telemetry_drop_partitions_older_than(INTEGER) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION telemetry_ensure_partition(DATE) TO pulse_service, pulse_operator;
GRANT EXECUTE ON FUNCTION telemetry_ensure_partitions(INTEGER) TO pulse_service, pulse_operator;
GRANT EXECUTE ON FUNCTION telemetry_drop_partitions_older_than(INTEGER) TO pulse_service, pulse_operator;

SELECT telemetry_ensure_partitions(3);
