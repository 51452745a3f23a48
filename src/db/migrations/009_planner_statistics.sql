-- Refreshes planner statistics of Pulse tables. Foreign-key checks reuse a plan cached in each connection
-- until the referenced table's statistics change; a plan made while device_registry was nearly empty
-- scans the whole table for every check, which turns a 10,000-device import into a quadratic crawl.
-- PostgreSQL's autovacuum eventually fixes that, PGlite has no autovacuum at all. Big writes call this
-- right away, and the hourly maintenance calls it for everything. SECURITY DEFINER because only the
-- owner may ANALYZE; the function only accepts Pulse's own tables in the public schema.
CREATE FUNCTION pulse_analyze(p_tables TEXT[]) RETURNS VOID
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  table_name TEXT;
BEGIN
  FOREACH table_name IN ARRAY p_tables LOOP
    IF NOT EXISTS (
      SELECT 1 FROM pg_class WHERE relname = table_name AND relnamespace = 'public'::regnamespace
        AND relkind IN ('r', 'p') AND relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
    ) THEN
      RAISE EXCEPTION 'pulse_analyze: % is not a table of this schema', table_name;
    END IF;
    EXECUTE format('ANALYZE %I', table_name);
  END LOOP;
END
$$;

REVOKE ALL ON FUNCTION pulse_analyze(TEXT[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pulse_analyze(TEXT[]) TO pulse_service, pulse_operator;
