-- Re-notify and escalation per route (issue 18). A route may repeat an OPEN, unacknowledged alert's
-- notification every renotify_minutes, and escalate it: after each step's after_minutes OPEN and
-- unacknowledged, also notify that step's integration (escalations: [{after_minutes, integration_id}]).
ALTER TABLE integration_routes ADD COLUMN renotify_minutes INTEGER NULL
  CHECK (renotify_minutes BETWEEN 1 AND 10080);
ALTER TABLE integration_routes ADD COLUMN escalations JSONB NOT NULL DEFAULT '[]'::jsonb;

-- Which notification of the event a job is: '' the event itself, 'repeat:<n>' the n-th repeat,
-- 'escalation:<integration_id>:<after_minutes>' an escalation step. Part of the job's identity, so a
-- follow-up is queued once however many dispatchers look for it.
ALTER TABLE delivery_jobs ADD COLUMN notice TEXT NOT NULL DEFAULT '';
DROP INDEX delivery_jobs_dedup_idx;
CREATE UNIQUE INDEX delivery_jobs_dedup_idx ON delivery_jobs (tenant_id, alert_id, route_id, deliver_on_event, notice);
