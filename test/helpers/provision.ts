// Devices registered and activated through the provisioning API, as a device would: for tests and
// benchmarks that run Pulse in processes of its own.
export interface PlannedDevice {
  tenant_id: string;
  device_id: string;
  site_id: string;
}

/** Registers the devices in one bulk request, activates them (50 at a time); tokens by "tenant/device". */
export async function provisionDevices(
  apiBase: string,
  adminKey: string,
  plan: PlannedDevice[],
): Promise<Map<string, string>> {
  const response = await fetch(`${apiBase}/api/admin/devices/bulk`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-key': adminKey },
    body: JSON.stringify(plan),
  });
  if (!response.ok) throw new Error(`bulk registration answered ${response.status}: ${await response.text()}`);
  const { devices } = (await response.json()) as {
    devices: { tenant_id: string; device_id: string; activation_code: string }[];
  };
  const tokens = new Map<string, string>();
  for (let i = 0; i < devices.length; i += 50) {
    await Promise.all(
      devices.slice(i, i + 50).map(async (device) => {
        const activated = await fetch(`${apiBase}/api/device/activate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            tenant_id: device.tenant_id,
            device_id: device.device_id,
            activation_code: device.activation_code,
          }),
        });
        const { provision_token } = (await activated.json()) as { provision_token: string };
        tokens.set(`${device.tenant_id}/${device.device_id}`, provision_token);
      }),
    );
  }
  return tokens;
}
