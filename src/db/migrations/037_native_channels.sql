-- Native notification channels (issue 33 item 3): Slack, Microsoft Teams, PagerDuty and Opsgenie are
-- integration types of their own. Their credentials (the Slack and Teams webhook URLs, the PagerDuty
-- routing key, the Opsgenie API key) live sealed in `secrets`; config_json holds what may be shown.
-- An acknowledgement is a delivery event too, so incident tools (PagerDuty, Opsgenie) follow the alert.
ALTER TABLE integrations DROP CONSTRAINT integrations_type_check;
ALTER TABLE integrations ADD CONSTRAINT integrations_type_check
  CHECK (type IN ('webhook', 'snmp', 'email', 'mqtt', 'slack', 'teams', 'pagerduty', 'opsgenie'));
ALTER TABLE integrations DROP CONSTRAINT integration_type_config_check;
ALTER TABLE integrations ADD CONSTRAINT integration_type_config_check CHECK (
  (type = 'webhook' AND config_json->>'url' IS NOT NULL)
  OR (type = 'snmp' AND snmp_host IS NOT NULL AND snmp_config IS NOT NULL)
  OR (type = 'email' AND email_config IS NOT NULL AND email_recipients IS NOT NULL)
  OR (type = 'mqtt' AND mqtt_topic IS NOT NULL)
  OR (type IN ('slack', 'teams', 'pagerduty', 'opsgenie') AND secrets IS NOT NULL));

ALTER TABLE delivery_jobs DROP CONSTRAINT delivery_jobs_deliver_on_event_check;
ALTER TABLE delivery_jobs ADD CONSTRAINT delivery_jobs_deliver_on_event_check
  CHECK (deliver_on_event IN ('OPEN', 'ACKNOWLEDGED', 'CLOSED'));
