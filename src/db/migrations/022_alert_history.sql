-- Alert history (issue 18): every alert's timeline — opened, updated with new values, acknowledged by whom,
-- silenced, closed by whom — and customers' free-text notes, in one table. The changes are recorded by
-- triggers on fleet_alert, so every writer (evaluator, API, any future one) leaves its trace in the same
-- transaction; notifications are read from delivery_jobs and delivery_attempts.
ALTER TABLE fleet_alert ADD COLUMN closed_by TEXT NULL;
-- When a value update was last written to the history: at most one a minute per alert (a violating device
-- updates its alert with every message), severity changes always.
ALTER TABLE fleet_alert ADD COLUMN history_at TIMESTAMPTZ NULL;

CREATE TABLE alert_events (
  event_id BIGSERIAL PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  alert_id BIGINT NOT NULL REFERENCES fleet_alert (id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('OPENED', 'UPDATED', 'ACKNOWLEDGED', 'SILENCED', 'CLOSED', 'NOTE')),
  actor TEXT NULL,
  detail JSONB NOT NULL DEFAULT '{}'::jsonb,
  at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX alert_events_alert_idx ON alert_events (tenant_id, alert_id, at);

ALTER TABLE alert_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON alert_events FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT ON alert_events TO pulse_app;
GRANT SELECT, INSERT, DELETE ON alert_events TO pulse_service, pulse_operator;
GRANT USAGE, SELECT ON SEQUENCE alert_events_event_id_seq TO pulse_app, pulse_service, pulse_operator;

CREATE FUNCTION alert_opened_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO alert_events (tenant_id, alert_id, kind, detail, at)
  VALUES (NEW.tenant_id, NEW.id, 'OPENED',
          jsonb_build_object('severity', NEW.severity, 'summary', NEW.summary, 'details', NEW.details), NEW.created_at);
  RETURN NULL;
END $$;
CREATE TRIGGER fleet_alert_opened AFTER INSERT ON fleet_alert FOR EACH ROW EXECUTE FUNCTION alert_opened_history();

CREATE FUNCTION alert_changed_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.severity IS DISTINCT FROM OLD.severity
     OR (NEW.summary IS DISTINCT FROM OLD.summary
         AND COALESCE(OLD.history_at, OLD.created_at) < now() - interval '1 minute') THEN
    INSERT INTO alert_events (tenant_id, alert_id, kind, detail)
    VALUES (NEW.tenant_id, NEW.id, 'UPDATED',
            jsonb_build_object('severity', NEW.severity, 'summary', NEW.summary, 'details', NEW.details));
    NEW.history_at := now();
  END IF;
  IF NEW.status = 'ACKNOWLEDGED' AND OLD.status = 'OPEN' THEN
    INSERT INTO alert_events (tenant_id, alert_id, kind, actor, at)
    VALUES (NEW.tenant_id, NEW.id, 'ACKNOWLEDGED', NEW.acknowledged_by, COALESCE(NEW.acknowledged_at, now()));
  END IF;
  IF NEW.silenced_by IS NOT NULL AND NEW.silenced_by IS DISTINCT FROM OLD.silenced_by THEN
    INSERT INTO alert_events (tenant_id, alert_id, kind, detail)
    VALUES (NEW.tenant_id, NEW.id, 'SILENCED', jsonb_build_object('silence_id', NEW.silenced_by));
  END IF;
  IF NEW.status = 'CLOSED' AND OLD.status <> 'CLOSED' THEN
    INSERT INTO alert_events (tenant_id, alert_id, kind, actor, at)
    VALUES (NEW.tenant_id, NEW.id, 'CLOSED', NEW.closed_by, COALESCE(NEW.closed_at, now()));
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER fleet_alert_changed BEFORE UPDATE ON fleet_alert FOR EACH ROW EXECUTE FUNCTION alert_changed_history();

-- Alerts from before: what their columns still tell.
INSERT INTO alert_events (tenant_id, alert_id, kind, detail, at)
SELECT tenant_id, id, 'OPENED', jsonb_build_object('severity', severity, 'summary', summary, 'details', details), created_at
FROM fleet_alert;
INSERT INTO alert_events (tenant_id, alert_id, kind, actor, at)
SELECT tenant_id, id, 'ACKNOWLEDGED', acknowledged_by, acknowledged_at FROM fleet_alert WHERE acknowledged_at IS NOT NULL;
INSERT INTO alert_events (tenant_id, alert_id, kind, at)
SELECT tenant_id, id, 'CLOSED', closed_at FROM fleet_alert WHERE status = 'CLOSED' AND closed_at IS NOT NULL;
