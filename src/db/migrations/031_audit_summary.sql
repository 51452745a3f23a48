-- Audit entries say what a change did in words ("created device pump-7", "disabled user alice",
-- "revoked 3 devices"), not only the route it came through (issue 29 item 6).
ALTER TABLE customer_audit_log ADD COLUMN summary TEXT NULL;
ALTER TABLE operator_audit_log ADD COLUMN summary TEXT NULL;

-- Email integrations on the old default subject get the new one, which names the alert by its title (its
-- rule's name) instead of its type; a subject a customer wrote is left as it is.
UPDATE integrations
SET email_template = jsonb_set(email_template, '{subject_template}', '"[{severity_label}] {title}: {device_id}"')
WHERE type = 'email' AND email_template->>'subject_template' = '[{severity_label}] {alert_type}: {device_id}';
