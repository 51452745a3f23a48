-- What came of each audited operator request: its HTTP status (200 for success, 403 denied, 404, 409…).
-- A refused create used to read like a successful one. Rows from before have none.
ALTER TABLE operator_audit_log ADD COLUMN status_code SMALLINT;
