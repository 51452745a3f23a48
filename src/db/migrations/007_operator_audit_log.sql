-- Every operator request is recorded here (reference §4.1). Not tenant-scoped: operators only.
CREATE TABLE operator_audit_log (
  id            BIGSERIAL PRIMARY KEY,
  user_id       TEXT NOT NULL,
  action        TEXT NOT NULL,
  tenant_filter TEXT,
  resource_type TEXT,
  resource_id   TEXT,
  ip_address    INET,
  user_agent    TEXT,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  rls_bypassed  BOOLEAN NOT NULL DEFAULT true
);
CREATE INDEX operator_audit_log_user_idx ON operator_audit_log (user_id, created_at DESC);
CREATE INDEX operator_audit_log_created_idx ON operator_audit_log (created_at DESC);
CREATE INDEX operator_audit_log_action_idx ON operator_audit_log (action);
