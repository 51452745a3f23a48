-- Rules on text states and positions (issue 31): EQ / NE / IN match a text metric against `text_values`;
-- INSIDE / OUTSIDE a `geofence` (a circle or a polygon) for a position metric, with the hysteresis in
-- metres. Number rules are as before; their threshold is the only one these rules leave at 0.
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_operator_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_operator_check
  CHECK (operator IN ('GT', 'LT', 'GTE', 'LTE', 'EQ', 'NE', 'IN', 'INSIDE', 'OUTSIDE'));
ALTER TABLE alert_rules ADD COLUMN text_values TEXT[] NULL;
ALTER TABLE alert_rules ADD COLUMN geofence JSONB NULL;
