-- Notifications receivers can trust (issue 29, ADR 025).
-- Every notification of an alert gets the next number of that alert's sequence (kept apart from
-- fleet_alert so the dispatcher never locks rows the evaluator writes), and every job a stable delivery id.
CREATE TABLE alert_notification_seq (
  alert_id BIGINT PRIMARY KEY,
  last_seq INTEGER NOT NULL
);
GRANT SELECT, INSERT, UPDATE ON alert_notification_seq TO pulse_service;

ALTER TABLE delivery_jobs ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE delivery_jobs ADD COLUMN delivery_id UUID NOT NULL DEFAULT gen_random_uuid();

-- An OPEN (or a follow-up) not sent before its alert was acknowledged or closed, or a CLOSED whose OPEN
-- this route never sent, is kept as SUPERSEDED with the reason in last_error.
ALTER TABLE delivery_jobs DROP CONSTRAINT delivery_jobs_status_check;
ALTER TABLE delivery_jobs ADD CONSTRAINT delivery_jobs_status_check
  CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'SILENCED', 'SUPERSEDED'));

-- A job waits while an earlier one of its alert and integration is pending or being sent.
CREATE INDEX delivery_jobs_alert_integration_idx ON delivery_jobs (alert_id, integration_id, sequence)
  WHERE status IN ('PENDING', 'PROCESSING');

-- deliver_superseded: send a pending OPEN even after its alert was acknowledged or closed.
ALTER TABLE integration_routes ADD COLUMN deliver_superseded BOOLEAN NOT NULL DEFAULT false;
-- backfill_pending: the route was created or changed; the dispatcher queues the OPEN alerts it now
-- matches and never notified. Existing routes had their alerts already.
ALTER TABLE integration_routes ADD COLUMN backfill_pending BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE integration_routes ALTER COLUMN backfill_pending SET DEFAULT true;
