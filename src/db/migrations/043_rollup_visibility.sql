-- Device charts read their rollups by index-only scans (025), which touch the heap only for pages the
-- visibility map does not mark all-visible. Autovacuum marks them after inserts of 20 % of a table by
-- default: on a month of 2,000 devices, days of the rollup worker's newest pages, so a device's 7-day series
-- fetched each of its ~10,000 one-minute rows from its own heap page (384 ms cold against 52 once vacuumed,
-- issue 35). Vacuumed after a fixed number of inserts instead, whatever the table's size; the dead rows of
-- the worker's upserts keep the default trigger (index cleanup of the big keys stays rare).
ALTER TABLE telemetry_rollup_1m SET (autovacuum_vacuum_insert_threshold = 100000, autovacuum_vacuum_insert_scale_factor = 0);
ALTER TABLE telemetry_rollup_1h SET (autovacuum_vacuum_insert_threshold = 20000, autovacuum_vacuum_insert_scale_factor = 0);
