export interface DeviceTopic {
  tenantId: string;
  deviceId: string;
  msgType: string;
}

/** `tenant/{tenant_id}/device/{device_id}/{msg_type}`; anything else is not a device topic. */
export function parseTopic(topic: string): DeviceTopic | null {
  const parts = topic.split('/');
  if (parts.length !== 5 || parts[0] !== 'tenant' || parts[2] !== 'device') return null;
  const [, tenantId, , deviceId, msgType] = parts as [string, string, string, string, string];
  if (!tenantId || !deviceId || !msgType) return null;
  return { tenantId, deviceId, msgType };
}

export function deviceTopic(tenantId: string, deviceId: string, msgType: string): string {
  return `tenant/${tenantId}/device/${deviceId}/${msgType}`;
}
