// The device topics the original's protocol defines, `tenant/{tenant_id}/device/{device_id}/{msg_type}`:
// what ingest takes and what the embedded broker keeps for ingest.

/** Whether a topic matches the filter `tenant/+/device/+/+` (levels may be empty, as in MQTT). */
export function matchesDeviceFilter(topic: string): boolean {
  const levels = topic.split('/');
  return levels.length === 5 && levels[0] === 'tenant' && levels[2] === 'device';
}
