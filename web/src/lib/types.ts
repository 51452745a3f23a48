// Shapes of the API answers the pages use.
export interface Device {
  tenant_id: string;
  device_id: string;
  site_id: string;
  status: string;
  last_seen_at: string | null;
  last_heartbeat_at: string | null;
  last_telemetry_at: string | null;
  state: Record<string, number | boolean>;
}
export interface DeviceList {
  devices: Device[];
  total: number;
  count: number;
}
export interface Alert {
  alert_id: number;
  tenant_id: string;
  device_id: string;
  site_id: string;
  alert_type: string;
  severity: number;
  summary: string;
  status: string;
  created_at: string;
  closed_at: string | null;
  acknowledged_by: string | null;
  details: Record<string, unknown>;
}
export interface Rule {
  rule_id: string;
  name: string;
  enabled: boolean;
  metric_name: string;
  operator: string;
  threshold: number;
  severity: number;
  description: string | null;
  site_ids: string[] | null;
  duration_seconds: number;
  hysteresis: number;
}
export interface Summary {
  sample_count: number;
  device_count: number;
  metrics: Record<string, { avg: number; min: number; max: number }>;
}
