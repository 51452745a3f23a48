-- Tenant isolation. Every tenant-scoped table has RLS ENABLED and FORCED (so even the owning login role
-- sees nothing without SET ROLE) and one policy for pulse_app on app.tenant_id: unset or empty means
-- zero rows. pulse_operator and pulse_service bypass RLS; their access is limited by explicit grants.
DO $$
DECLARE
  scoped_table TEXT;
BEGIN
  FOREACH scoped_table IN ARRAY ARRAY[
    'device_registry', 'device_activation', 'device_token_history', 'telemetry',
    'quarantine_events', 'quarantine_counters_minute', 'device_state', 'fleet_alert', 'alert_rules',
    'integrations', 'integration_routes', 'delivery_jobs', 'delivery_attempts', 'rate_limits'
  ] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', scoped_table);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', scoped_table);
    EXECUTE format(
      'CREATE POLICY tenant_isolation_policy ON %I FOR ALL TO pulse_app '
      'USING (tenant_id = current_setting(''app.tenant_id'', true)) '
      'WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', scoped_table);
  END LOOP;
END
$$;

-- A customer reads its own tenant row and nothing else.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_customer_read ON tenants FOR SELECT TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true));

-- Customers (pulse_app): their own data through RLS. Telemetry, quarantine and delivery bookkeeping are
-- written by the pipeline, so customers only read them.
GRANT SELECT ON tenants, telemetry, quarantine_events, quarantine_counters_minute, delivery_jobs,
  delivery_attempts TO pulse_app;
GRANT SELECT, INSERT, UPDATE ON device_registry, device_activation, device_token_history TO pulse_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON device_state, fleet_alert, alert_rules, integrations,
  integration_routes, rate_limits TO pulse_app;

-- Operators (pulse_operator): everything, across tenants; the audit log is append-only.
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, device_registry, device_activation, device_token_history,
  telemetry, quarantine_events, quarantine_counters_minute, app_settings, device_state, fleet_alert,
  alert_rules, integrations, integration_routes, delivery_jobs, delivery_attempts, rate_limits TO pulse_operator;
GRANT SELECT, INSERT ON operator_audit_log TO pulse_operator;

-- The pipeline (pulse_service): everything it processes; never the operator audit log.
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, device_registry, device_activation, device_token_history,
  telemetry, quarantine_events, quarantine_counters_minute, device_state, fleet_alert, alert_rules,
  integrations, integration_routes, delivery_jobs, delivery_attempts, rate_limits TO pulse_service;
GRANT SELECT ON app_settings TO pulse_service;

GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO pulse_app, pulse_operator, pulse_service;
