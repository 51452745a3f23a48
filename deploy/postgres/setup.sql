-- One-time setup of a production PostgreSQL (≥ 15) for Pulse, run by a superuser:
--   psql -v password="'a-strong-password'" -f deploy/postgres/setup.sql
-- Afterwards Pulse runs as the login role `pulse`, which is not a superuser: it owns the database and
-- its schema, and switches per transaction to one of the three NOLOGIN roles below.
CREATE ROLE pulse_app NOLOGIN NOBYPASSRLS;   -- customer requests, row-level security on app.tenant_id
CREATE ROLE pulse_operator NOLOGIN BYPASSRLS; -- operator requests across tenants (audited by Pulse)
CREATE ROLE pulse_service NOLOGIN BYPASSRLS;  -- the pipeline: ingest, evaluator, delivery, provisioning

CREATE ROLE pulse LOGIN PASSWORD :password NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
GRANT pulse_app, pulse_operator, pulse_service TO pulse;

CREATE DATABASE pulse OWNER pulse;
