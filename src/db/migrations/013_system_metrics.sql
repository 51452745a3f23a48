-- Samples of the platform's own health and throughput, taken every METRICS_COLLECTION_INTERVAL by the
-- api role and kept 7 days: the operator's System page plots them. Rates are stored as rates.
CREATE TABLE system_metrics (
  time        TIMESTAMPTZ NOT NULL DEFAULT now(),
  metric_name TEXT NOT NULL,
  service     TEXT NOT NULL,
  tags        JSONB NOT NULL DEFAULT '{}',
  value       DOUBLE PRECISION NOT NULL
);
CREATE INDEX system_metrics_lookup_idx ON system_metrics (metric_name, service, time DESC);
CREATE INDEX system_metrics_time_idx ON system_metrics (time);

GRANT SELECT, INSERT, DELETE ON system_metrics TO pulse_service;
GRANT SELECT ON system_metrics TO pulse_operator;
