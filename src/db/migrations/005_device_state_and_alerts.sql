-- Device health, alerts and threshold rules (reference §4.1, plus acknowledgement and anti-flap columns).
CREATE TABLE device_state (
  tenant_id            TEXT NOT NULL,
  site_id              TEXT NOT NULL,
  device_id            TEXT NOT NULL,
  status               TEXT NOT NULL DEFAULT 'OFFLINE',
  last_heartbeat_at    TIMESTAMPTZ,
  last_telemetry_at    TIMESTAMPTZ,
  last_seen_at         TIMESTAMPTZ,
  last_state_change_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  state                JSONB NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, device_id)
);
CREATE INDEX idx_device_state_site ON device_state (tenant_id, site_id);
CREATE INDEX idx_device_state_status ON device_state (tenant_id, status);

CREATE TABLE fleet_alert (
  id              BIGSERIAL PRIMARY KEY,
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  closed_at       TIMESTAMPTZ,
  tenant_id       TEXT NOT NULL,
  site_id         TEXT NOT NULL,
  device_id       TEXT NOT NULL,
  alert_type      TEXT NOT NULL,
  fingerprint     TEXT NOT NULL DEFAULT '',
  status          TEXT NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'ACKNOWLEDGED', 'CLOSED')),
  severity        INTEGER NOT NULL DEFAULT 0,
  -- DOUBLE PRECISION, not the reference's REAL, so 0.9 stays 0.9 on the wire.
  confidence      DOUBLE PRECISION NOT NULL DEFAULT 0.0,
  summary         TEXT NOT NULL,
  details         JSONB NOT NULL DEFAULT '{}',
  acknowledged_at TIMESTAMPTZ,
  acknowledged_by TEXT
);
-- At most one active (open or acknowledged) alert per fingerprint and tenant.
CREATE UNIQUE INDEX idx_fleet_alert_open_uq ON fleet_alert (tenant_id, fingerprint) WHERE status <> 'CLOSED';
CREATE INDEX idx_fleet_alert_tenant ON fleet_alert (tenant_id, status);
CREATE INDEX idx_fleet_alert_device ON fleet_alert (tenant_id, device_id);
CREATE INDEX idx_fleet_alert_created ON fleet_alert (tenant_id, created_at DESC);

CREATE TABLE alert_rules (
  id               SERIAL PRIMARY KEY,
  tenant_id        TEXT NOT NULL,
  rule_id          TEXT NOT NULL DEFAULT gen_random_uuid()::text,
  name             TEXT NOT NULL,
  description      TEXT,
  enabled          BOOLEAN NOT NULL DEFAULT true,
  metric_name      TEXT NOT NULL,
  operator         TEXT NOT NULL CHECK (operator IN ('GT', 'LT', 'GTE', 'LTE')),
  threshold        DOUBLE PRECISION NOT NULL,
  severity         INTEGER NOT NULL DEFAULT 3 CHECK (severity BETWEEN 1 AND 5),
  site_ids         TEXT[],
  duration_seconds INTEGER NOT NULL DEFAULT 0 CHECK (duration_seconds >= 0),
  hysteresis       DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (hysteresis >= 0),
  created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT alert_rules_tenant_rule_id_key UNIQUE (tenant_id, rule_id)
);
CREATE INDEX idx_alert_rules_enabled ON alert_rules (tenant_id, enabled);
