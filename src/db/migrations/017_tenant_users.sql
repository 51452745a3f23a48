-- Customer admins manage their own tenant's users (issue 19): users become a tenant-scoped table for
-- pulse_app, under row-level security like every other (operators and the login path bypass it). A
-- customer sees, adds, changes and deletes only users of app.tenant_id; operator users have no tenant
-- and are invisible to every customer.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON users FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON users TO pulse_app;
GRANT INSERT, UPDATE, DELETE ON users TO pulse_operator;
