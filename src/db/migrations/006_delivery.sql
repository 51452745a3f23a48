-- Alert delivery: integrations, routes, jobs and attempts (reference §4.1, with B3's severities column).
CREATE TABLE integrations (
  tenant_id        TEXT NOT NULL,
  integration_id   UUID NOT NULL DEFAULT gen_random_uuid(),
  name             TEXT NOT NULL,
  type             TEXT NOT NULL DEFAULT 'webhook',
  enabled          BOOLEAN NOT NULL DEFAULT true,
  config_json      JSONB NOT NULL DEFAULT '{}',
  snmp_config      JSONB,
  snmp_host        VARCHAR(255),
  snmp_port        INTEGER DEFAULT 162,
  snmp_oid_prefix  VARCHAR(128) DEFAULT '1.3.6.1.4.1.99999',
  email_config     JSONB,
  email_recipients JSONB,
  email_template   JSONB,
  mqtt_topic       VARCHAR(512),
  mqtt_qos         INTEGER DEFAULT 1,
  mqtt_retain      BOOLEAN DEFAULT false,
  mqtt_config      JSONB,
  created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, integration_id),
  CONSTRAINT integrations_type_check CHECK (type IN ('webhook', 'snmp', 'email', 'mqtt')),
  CONSTRAINT integration_type_config_check CHECK (
    (type = 'webhook' AND config_json->>'url' IS NOT NULL)
    OR (type = 'snmp' AND snmp_host IS NOT NULL AND snmp_config IS NOT NULL)
    OR (type = 'email' AND email_config IS NOT NULL AND email_recipients IS NOT NULL)
    OR (type = 'mqtt' AND mqtt_topic IS NOT NULL))
);
CREATE INDEX integrations_tenant_enabled_idx ON integrations (tenant_id, enabled) WHERE enabled;
CREATE INDEX idx_integrations_type ON integrations (tenant_id, type);

CREATE TABLE integration_routes (
  tenant_id       TEXT NOT NULL,
  route_id        UUID NOT NULL DEFAULT gen_random_uuid(),
  integration_id  UUID NOT NULL,
  name            TEXT NOT NULL,
  enabled         BOOLEAN NOT NULL DEFAULT true,
  min_severity    INTEGER,
  alert_types     TEXT[],
  severities      TEXT[],
  site_ids        TEXT[],
  device_prefixes TEXT[],
  deliver_on      TEXT[] NOT NULL DEFAULT ARRAY['OPEN'],
  priority        INTEGER NOT NULL DEFAULT 100,
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, route_id),
  FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, integration_id) ON DELETE CASCADE
);
CREATE INDEX integration_routes_tenant_enabled_idx ON integration_routes (tenant_id, enabled) WHERE enabled;
CREATE INDEX integration_routes_integration_idx ON integration_routes (tenant_id, integration_id);

CREATE TABLE delivery_jobs (
  job_id           BIGSERIAL PRIMARY KEY,
  tenant_id        TEXT NOT NULL,
  alert_id         BIGINT NOT NULL,
  integration_id   UUID NOT NULL,
  route_id         UUID NOT NULL,
  deliver_on_event TEXT NOT NULL CHECK (deliver_on_event IN ('OPEN', 'CLOSED')),
  status           TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_run_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_error       TEXT,
  payload_json     JSONB NOT NULL,
  created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, integration_id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, route_id) REFERENCES integration_routes (tenant_id, route_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX delivery_jobs_dedup_idx ON delivery_jobs (tenant_id, alert_id, route_id, deliver_on_event);
CREATE INDEX delivery_jobs_pending_idx ON delivery_jobs (next_run_at, job_id) WHERE status = 'PENDING';
CREATE INDEX delivery_jobs_tenant_status_idx ON delivery_jobs (tenant_id, status, created_at DESC);

CREATE TABLE delivery_attempts (
  attempt_id  BIGSERIAL PRIMARY KEY,
  tenant_id   TEXT NOT NULL,
  job_id      BIGINT NOT NULL REFERENCES delivery_jobs (job_id) ON DELETE CASCADE,
  attempt_no  INTEGER NOT NULL,
  ok          BOOLEAN NOT NULL,
  http_status INTEGER,
  latency_ms  INTEGER,
  error       TEXT,
  started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  finished_at TIMESTAMPTZ
);
CREATE INDEX delivery_attempts_job_idx ON delivery_attempts (job_id, attempt_no);
CREATE INDEX delivery_attempts_tenant_idx ON delivery_attempts (tenant_id, finished_at DESC);
