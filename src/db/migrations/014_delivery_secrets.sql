-- Alert delivery: an integration's secrets live sealed (AES-256-GCM, key outside the database) in one
-- column; the plain config columns hold nothing secret. Workers find stuck jobs by their last update.
ALTER TABLE integrations ADD COLUMN secrets TEXT;
CREATE INDEX delivery_jobs_processing_idx ON delivery_jobs (updated_at) WHERE status = 'PROCESSING';
CREATE INDEX delivery_jobs_due_tenant_idx ON delivery_jobs (tenant_id, next_run_at, job_id) WHERE status = 'PENDING';
