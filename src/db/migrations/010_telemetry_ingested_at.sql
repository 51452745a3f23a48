-- When a row was written, next to the device's own `time`: shows ingest lag and feeds the ingest
-- benchmark's publish→row latency. now() is the writing transaction's start, i.e. the batch flush.
ALTER TABLE telemetry ADD COLUMN ingested_at TIMESTAMPTZ NOT NULL DEFAULT now();
