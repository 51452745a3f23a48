-- Talking back to devices (issue 30, ADR 027): commands with their states, each device's desired and
-- reported configuration and whether it is connected for commands, saved command templates, and fleet
-- jobs with one execution per selected device.

-- A command waits QUEUED until its device is connected, is SENT to it (MQTT) and DELIVERED once the device
-- says it has it (or fetched it over HTTP), then SUCCEEDED or FAILED by the device's answer — or EXPIRED
-- or CANCELED on the way. Each transition has its own time.
CREATE TABLE device_commands (
  command_id   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    TEXT NOT NULL,
  device_id    TEXT NOT NULL,
  name         TEXT NOT NULL,
  params       JSONB NOT NULL DEFAULT '{}',
  state        TEXT NOT NULL DEFAULT 'QUEUED'
    CHECK (state IN ('QUEUED', 'SENT', 'DELIVERED', 'SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELED')),
  created_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  expires_at   TIMESTAMPTZ NOT NULL,
  sent_at      TIMESTAMPTZ NULL,
  delivered_at TIMESTAMPTZ NULL,
  finished_at  TIMESTAMPTZ NULL,
  send_count   INTEGER NOT NULL DEFAULT 0,
  progress     TEXT NULL,
  progress_at  TIMESTAMPTZ NULL,
  result       JSONB NULL,
  error        TEXT NULL,
  created_by   TEXT NULL,
  job_id       UUID NULL,
  FOREIGN KEY (tenant_id, device_id) REFERENCES device_registry (tenant_id, device_id) ON DELETE CASCADE
);
CREATE INDEX device_commands_device_idx ON device_commands (tenant_id, device_id, created_at DESC);
-- What is still under way: the sender's, the expiry sweep's and the in-flight count's reads.
CREATE INDEX device_commands_open_idx ON device_commands (tenant_id, device_id, created_at)
  WHERE state IN ('QUEUED', 'SENT', 'DELIVERED');
CREATE INDEX device_commands_expiry_idx ON device_commands (expires_at) WHERE state IN ('QUEUED', 'SENT', 'DELIVERED');
CREATE INDEX device_commands_job_idx ON device_commands (job_id) WHERE job_id IS NOT NULL;

-- One row per device that has a desired configuration or has been connected for commands.
CREATE TABLE device_control (
  tenant_id         TEXT NOT NULL,
  device_id         TEXT NOT NULL,
  desired           JSONB NOT NULL DEFAULT '{}',
  desired_version   INTEGER NOT NULL DEFAULT 0,
  desired_at        TIMESTAMPTZ NULL,
  desired_by        TEXT NULL,
  config_sent_version INTEGER NOT NULL DEFAULT 0,
  reported          JSONB NULL,
  reported_version  INTEGER NULL,
  reported_at       TIMESTAMPTZ NULL,
  out_of_sync_since TIMESTAMPTZ NULL,
  online            BOOLEAN NOT NULL DEFAULT false,
  online_changed_at TIMESTAMPTZ NULL,
  PRIMARY KEY (tenant_id, device_id),
  FOREIGN KEY (tenant_id, device_id) REFERENCES device_registry (tenant_id, device_id) ON DELETE CASCADE
);
CREATE INDEX device_control_online_idx ON device_control (tenant_id, device_id) WHERE online;

-- Commands a tenant sends often, saved with their parameters.
CREATE TABLE command_templates (
  template_id  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    TEXT NOT NULL REFERENCES tenants (tenant_id),
  label        TEXT NOT NULL,
  name         TEXT NOT NULL,
  params       JSONB NOT NULL DEFAULT '{}',
  description  TEXT NULL,
  created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, label)
);

-- A fleet job: one command, configuration patch or firmware update for each device of a selection, at
-- a rollout rate, a bounded number at a time, stopped early when too many fail.
CREATE TABLE jobs (
  job_id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id             TEXT NOT NULL REFERENCES tenants (tenant_id),
  name                  TEXT NOT NULL,
  kind                  TEXT NOT NULL CHECK (kind IN ('command', 'config', 'firmware')),
  command_name          TEXT NULL,
  params                JSONB NOT NULL DEFAULT '{}',
  selector              JSONB NOT NULL,
  state                 TEXT NOT NULL DEFAULT 'RUNNING' CHECK (state IN ('RUNNING', 'COMPLETED', 'CANCELED', 'ABORTED')),
  rate_per_minute       INTEGER NULL CHECK (rate_per_minute > 0),
  max_in_flight         INTEGER NOT NULL CHECK (max_in_flight > 0),
  timeout_seconds       INTEGER NOT NULL CHECK (timeout_seconds > 0),
  abort_failure_percent INTEGER NULL CHECK (abort_failure_percent BETWEEN 0 AND 100),
  abort_min_devices     INTEGER NOT NULL DEFAULT 1,
  created_by            TEXT NULL,
  created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
  started_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
  finished_at           TIMESTAMPTZ NULL,
  reason                TEXT NULL
);
CREATE INDEX jobs_tenant_idx ON jobs (tenant_id, created_at DESC);
CREATE INDEX jobs_running_idx ON jobs (started_at) WHERE state = 'RUNNING';

CREATE TABLE job_executions (
  job_id         UUID NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
  tenant_id      TEXT NOT NULL,
  device_id      TEXT NOT NULL,
  seq            INTEGER NOT NULL,
  state          TEXT NOT NULL DEFAULT 'PENDING'
    CHECK (state IN ('PENDING', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELED')),
  command_id     UUID NULL,
  config_version INTEGER NULL,
  started_at     TIMESTAMPTZ NULL,
  finished_at    TIMESTAMPTZ NULL,
  error          TEXT NULL,
  PRIMARY KEY (job_id, device_id)
);
CREATE INDEX job_executions_pending_idx ON job_executions (job_id, seq) WHERE state = 'PENDING';
CREATE INDEX job_executions_running_idx ON job_executions (job_id) WHERE state = 'IN_PROGRESS';

ALTER TABLE device_commands ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_commands FORCE ROW LEVEL SECURITY;
ALTER TABLE device_control ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_control FORCE ROW LEVEL SECURITY;
ALTER TABLE command_templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE command_templates FORCE ROW LEVEL SECURITY;
ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
ALTER TABLE job_executions ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_executions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON device_commands FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation_policy ON device_control FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation_policy ON command_templates FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation_policy ON jobs FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation_policy ON job_executions FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE ON device_commands, device_control, jobs, job_executions TO pulse_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON command_templates TO pulse_app;
GRANT SELECT, INSERT, UPDATE ON device_commands, device_control, jobs, job_executions TO pulse_operator;
GRANT SELECT ON command_templates TO pulse_operator;
GRANT SELECT, INSERT, UPDATE ON device_commands, device_control, jobs, job_executions TO pulse_service;
