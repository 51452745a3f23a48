-- Evaluator support: the duration state of rules survives a restart, and every change to alert_rules —
-- through the API or by hand in SQL — bumps a version the evaluators watch, so edits apply within a second.
CREATE TABLE alert_rule_state (
  tenant_id       TEXT NOT NULL,
  rule_id         TEXT NOT NULL,
  device_id       TEXT NOT NULL,
  violating_since TIMESTAMPTZ,
  PRIMARY KEY (tenant_id, rule_id, device_id)
);
ALTER TABLE alert_rule_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_rule_state FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON alert_rule_state FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT ON alert_rule_state TO pulse_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON alert_rule_state TO pulse_service, pulse_operator;

CREATE TABLE alert_rules_version (
  singleton  BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
  version    BIGINT NOT NULL DEFAULT 0,
  changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO alert_rules_version DEFAULT VALUES;
GRANT SELECT ON alert_rules_version TO pulse_service, pulse_operator;

-- SECURITY DEFINER: a customer editing a rule may not write the version row itself.
CREATE FUNCTION alert_rules_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  UPDATE alert_rules_version SET version = version + 1, changed_at = now();
  PERFORM pg_notify('pulse_alert_rules', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER alert_rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alert_rules
  FOR EACH STATEMENT EXECUTE FUNCTION alert_rules_changed();
