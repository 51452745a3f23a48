-- The dispatcher asks whether an alert came over from an original deployment: its CLOSED is then due
-- although Pulse never sent its OPEN (the original did).
CREATE INDEX imported_alerts_alert_idx ON imported_alerts (tenant_id, alert_id);
