-- Database roles. Roles are cluster-wide, so this migration only creates what is missing; on a production
-- server a superuser creates them once beforehand (deploy/postgres/setup.sql) and the migration, running
-- as the non-superuser owner of the database, only checks them.
--   pulse_app       customer requests; subject to row-level security on app.tenant_id
--   pulse_operator  operator requests (cross-tenant, audited); BYPASSRLS
--   pulse_service   the pipeline (ingest, evaluator, dispatcher, delivery, provisioning); BYPASSRLS
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pulse_app') THEN
    CREATE ROLE pulse_app NOLOGIN NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pulse_operator') THEN
    CREATE ROLE pulse_operator NOLOGIN BYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pulse_service') THEN
    CREATE ROLE pulse_service NOLOGIN BYPASSRLS;
  END IF;

  IF (SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = 'pulse_app') THEN
    RAISE EXCEPTION 'role pulse_app must not bypass row-level security (ALTER ROLE pulse_app NOBYPASSRLS NOSUPERUSER)';
  END IF;
  IF NOT (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'pulse_operator') THEN
    RAISE EXCEPTION 'role pulse_operator needs BYPASSRLS (a superuser runs: ALTER ROLE pulse_operator BYPASSRLS)';
  END IF;
  IF NOT (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'pulse_service') THEN
    RAISE EXCEPTION 'role pulse_service needs BYPASSRLS (a superuser runs: ALTER ROLE pulse_service BYPASSRLS)';
  END IF;

  -- The login role must be able to SET ROLE to each of them.
  IF NOT pg_has_role(current_user, 'pulse_app', 'MEMBER') THEN
    EXECUTE format('GRANT pulse_app TO %I', current_user);
  END IF;
  IF NOT pg_has_role(current_user, 'pulse_operator', 'MEMBER') THEN
    EXECUTE format('GRANT pulse_operator TO %I', current_user);
  END IF;
  IF NOT pg_has_role(current_user, 'pulse_service', 'MEMBER') THEN
    EXECUTE format('GRANT pulse_service TO %I', current_user);
  END IF;
END
$$;
