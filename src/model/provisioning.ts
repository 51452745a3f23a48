// Issuing activation codes and tokens within one tenant's transaction: the admin API and the CLI use it
// for any tenant (through narrow()), the customer and operator APIs for theirs, under row-level security.
import type { ServiceTx, TenantScope } from '../db/database.js';
import { newActivationCode, newProvisionToken, sha256Hex } from '../lib/credentials.js';
import { isoUtc } from '../lib/time.js';
import type { DeviceSpec } from './device-spec.js';
import * as registry from './device-registry.js';

/** Where a device's new token becomes its broker password (MQTT_BROKER_AUTH=dynsec); a no-op otherwise. */
export interface BrokerPasswords {
  setPassword(tenantId: string, deviceId: string, token: string): Promise<void>;
}

export interface IssuedDevice {
  row: number;
  tenant_id: string;
  device_id: string;
  site_id: string;
  activation_code: string;
  expires_at: string;
  created: boolean;
}

/** Registers (or re-registers) the devices and issues each a one-time activation code. */
export async function issueDevices(
  tx: ServiceTx | TenantScope,
  devices: (DeviceSpec & { row: number })[],
  activationTtlMinutes: number,
): Promise<IssuedDevice[]> {
  const codes = devices.map(() => newActivationCode());
  const expiresAt = new Date(Date.now() + activationTtlMinutes * 60_000);
  const rows = await registry.upsertDevices(
    tx,
    devices.map((device, i) => ({ ...device, activation_code_hash: sha256Hex(codes[i] as string) })),
    expiresAt,
  );
  const createdByKey = new Map(rows.map((r) => [`${r.tenant_id}\u0000${r.device_id}`, r.created]));
  return devices.map((device, i) => ({
    row: device.row,
    tenant_id: device.tenant_id,
    device_id: device.device_id,
    site_id: device.site_id,
    activation_code: codes[i] as string,
    expires_at: isoUtc(expiresAt),
    created: createdByKey.get(`${device.tenant_id}\u0000${device.device_id}`) ?? false,
  }));
}

/**
 * A new provision token for the device (the old one stops working); undefined when there is no such device.
 * The broker's login changes in the same transaction, last: if the broker refuses, nothing changed.
 */
export async function rotateToken(
  tx: TenantScope,
  deviceId: string,
  logins: BrokerPasswords,
): Promise<string | undefined> {
  const token = newProvisionToken();
  if (!(await registry.replaceToken(tx, deviceId, sha256Hex(token), 'ROTATED'))) return undefined;
  await logins.setPassword(tx.tenantId, deviceId, token);
  return token;
}
