// An integration as the channels need it: its settings with its secrets opened. Built from a database
// row by the repository; never sent to an API client.

export type SnmpAuthProtocol = 'MD5' | 'SHA' | 'SHA224' | 'SHA256' | 'SHA384' | 'SHA512';
export type SnmpPrivProtocol = 'DES' | 'AES' | 'AES256';
export type SmtpTls = 'starttls' | 'implicit' | 'none';

interface Common {
  tenant_id: string;
  integration_id: string;
  name: string;
  enabled: boolean;
}

export interface WebhookTarget extends Common {
  type: 'webhook';
  url: string;
  headers: Record<string, string>;
  signing_secret: string | undefined;
}

export interface SnmpTarget extends Common {
  type: 'snmp';
  host: string;
  port: number;
  oid_prefix: string;
  version: '2c' | '3';
  community?: string | undefined;
  username?: string | undefined;
  auth_protocol?: SnmpAuthProtocol | undefined;
  auth_password?: string | undefined;
  priv_protocol?: SnmpPrivProtocol | null | undefined;
  priv_password?: string | undefined;
}

export interface EmailTarget extends Common {
  type: 'email';
  smtp_host: string;
  smtp_port: number;
  smtp_user: string | undefined;
  smtp_password: string | undefined;
  smtp_tls: SmtpTls;
  /** Verify the server's certificate (turn off only for an on-prem server with a private CA). */
  tls_verify: boolean;
  from_address: string;
  from_name: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject_template: string;
  body_template: string | undefined;
  format: 'html' | 'text';
}

export interface MqttTarget extends Common {
  type: 'mqtt';
  topic: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** Unset: the platform's own broker. */
  broker_url: string | undefined;
  username: string | undefined;
  password: string | undefined;
}

/** Slack incoming webhook or Teams workflow webhook: the URL is the credential. */
export interface SlackTarget extends Common {
  type: 'slack';
  url: string;
}

export interface TeamsTarget extends Common {
  type: 'teams';
  url: string;
}

export interface PagerDutyTarget extends Common {
  type: 'pagerduty';
  /** The integration key of a PagerDuty service (Events API v2). */
  routing_key: string;
}

export type OpsgenieRegion = 'us' | 'eu';

export interface OpsgenieTarget extends Common {
  type: 'opsgenie';
  api_key: string;
  region: OpsgenieRegion;
}

export type Target =
  WebhookTarget | SnmpTarget | EmailTarget | MqttTarget | SlackTarget | TeamsTarget | PagerDutyTarget | OpsgenieTarget;

export interface SendResult {
  ok: boolean;
  http_status?: number | undefined;
  error?: string | undefined;
  /** Where it went, for test-delivery answers ("host:port", "3 recipients"). */
  destination: string;
}
