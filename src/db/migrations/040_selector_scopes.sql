-- A device selector (issue 31) as the scope of an alert rule, a route and a silence: the same criteria the
-- devices list, exports and fleet jobs take (tags, attributes, sites, id prefix), as JSON checked by the
-- application (selector-input.ts). NULL: no narrowing beyond the row's other filters. A rule's scope names
-- no status, which changes with every heartbeat; routes and silences match the device's status when an
-- alert event is dispatched.
ALTER TABLE alert_rules ADD COLUMN selector JSONB NULL CHECK (jsonb_typeof(selector) = 'object');
ALTER TABLE integration_routes ADD COLUMN selector JSONB NULL CHECK (jsonb_typeof(selector) = 'object');
ALTER TABLE silences ADD COLUMN selector JSONB NULL CHECK (jsonb_typeof(selector) = 'object');
