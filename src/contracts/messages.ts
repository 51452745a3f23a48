// What the roles tell each other (the events of bus/index.ts), as plain data. The model makes them from its
// rows and the bus carries them: both import them from here, so neither depends on the other.

/** Where a device is: degrees, metres (issue 31). A metric whose value has this shape is a position. */
export interface Position {
  lat: number;
  lon: number;
  alt?: number;
  acc?: number;
}

/** A metric's value: a number, a boolean, a text state ("DEFROST", "open"), or a position. */
export type MetricValue = number | boolean | string | Position;
export type Metrics = Record<string, MetricValue>;

export interface AcceptedMessage {
  time: Date;
  tenant_id: string;
  device_id: string;
  site_id: string;
  msg_type: string;
  seq: number;
  metrics: Metrics;
}

/** What happened to an alert, as the bus and the live WebSocket tell it. */
export const ALERT_EVENTS = ['OPENED', 'UPDATED', 'ACKNOWLEDGED', 'CLOSED'] as const;

export interface AlertEvent {
  event: (typeof ALERT_EVENTS)[number];
  alert_id: number;
  tenant_id: string;
  fingerprint: string;
}

export const COMMAND_STATES = ['QUEUED', 'SENT', 'DELIVERED', 'SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELED'] as const;
export type CommandState = (typeof COMMAND_STATES)[number];

/** What a command's transition tells the rest of Pulse (the sender, waiting API calls, jobs). */
export interface CommandChange {
  tenant_id: string;
  device_id: string;
  command_id: string;
  state: CommandState;
  job_id: string | null;
}

export interface DeviceKey {
  tenant_id: string;
  device_id: string;
}
