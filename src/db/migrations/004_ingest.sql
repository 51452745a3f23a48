-- Rejected messages, their per-minute counters, runtime settings and API rate-limit events (reference §4.1).
CREATE TABLE quarantine_events (
  id          BIGSERIAL PRIMARY KEY,
  ingested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  event_ts    TIMESTAMPTZ,
  topic       TEXT NOT NULL,
  tenant_id   TEXT,
  site_id     TEXT,
  device_id   TEXT,
  msg_type    TEXT,
  reason      TEXT NOT NULL,
  payload     JSONB NOT NULL
);
CREATE INDEX quarantine_events_device_idx ON quarantine_events (device_id);
CREATE INDEX quarantine_events_ingested_idx ON quarantine_events (ingested_at DESC);
CREATE INDEX quarantine_events_tenant_idx ON quarantine_events (tenant_id, ingested_at DESC);

CREATE TABLE quarantine_counters_minute (
  bucket_minute TIMESTAMPTZ NOT NULL,
  tenant_id     TEXT NOT NULL,
  reason        TEXT NOT NULL,
  cnt           BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket_minute, tenant_id, reason)
);
CREATE INDEX quarantine_counters_tenant_idx ON quarantine_counters_minute (tenant_id, bucket_minute DESC);

-- Runtime settings (MODE, STORE_REJECTS, MAX_PAYLOAD_BYTES, RATE_LIMIT_RPS, RATE_LIMIT_BURST…). No seed
-- rows: the defaults live in one place in code, and a row here overrides its key.
CREATE TABLE app_settings (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE rate_limits (
  id         BIGSERIAL PRIMARY KEY,
  tenant_id  TEXT NOT NULL,
  action     TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX rate_limits_lookup_idx ON rate_limits (tenant_id, action, created_at DESC);
