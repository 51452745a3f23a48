// Provisioning operations, shared by the HTTP API (routes.ts) and the CLI (`pulse device …`).
import { narrow, type Database } from '../db/database.js';
import { AppError } from '../errors.js';
import { newProvisionToken, sha256Hex } from '../lib/credentials.js';
import { type DeviceSpec, type RowError } from '../model/device-spec.js';
import * as registry from '../model/device-registry.js';
import { issueDevices, rotateToken, type BrokerPasswords, type IssuedDevice } from '../model/provisioning.js';
import * as tenants from '../model/tenants.js';

export interface Provisioning {
  /** Registers (or re-registers) devices in one transaction and issues each a one-time activation code. */
  registerDevices(devices: (DeviceSpec & { row: number })[]): Promise<{ devices: IssuedDevice[]; errors: RowError[] }>;
  listDevices(filter: registry.RegistryFilter): Promise<registry.RegistryListRow[]>;
  revokeDevice(tenantId: string, deviceId: string): Promise<void>;
  rotateToken(tenantId: string, deviceId: string): Promise<string>;
  activate(tenantId: string, deviceId: string, activationCode: string): Promise<string>;
}

export interface ProvisioningOptions {
  activationTtlMinutes: number;
  /** Where new tokens become broker passwords (activation, rotation). */
  logins: BrokerPasswords;
  /** Told after a device's registration, token or status changed (caches elsewhere must forget it). */
  onDeviceChanged?: (tenantId: string, deviceId: string) => void;
}

export function createProvisioning(db: Database, options: ProvisioningOptions): Provisioning {
  const changed = options.onDeviceChanged ?? (() => undefined);
  return {
    async registerDevices(devices) {
      const tenantIds = [...new Set(devices.map((d) => d.tenant_id))];
      const result = await db.withService(async (tx) => {
        const tenantStatus = await tenants.ensureTenants(tx, tenantIds);
        const errors: RowError[] = [];
        const accepted = devices.filter((device) => {
          const status = tenantStatus.get(device.tenant_id);
          if (status === 'ACTIVE') return true;
          errors.push({
            row: device.row,
            device_id: device.device_id,
            error: `tenant ${device.tenant_id} is ${status ?? 'missing'}; devices can only be added to ACTIVE tenants`,
          });
          return false;
        });
        const issued = await issueDevices(tx, accepted, options.activationTtlMinutes);
        return { devices: issued, errors };
      });
      for (const device of result.devices) changed(device.tenant_id, device.device_id);
      return result;
    },

    listDevices: (filter) => db.withService((tx) => registry.listRegistered(tx, filter)),

    async revokeDevice(tenantId, deviceId) {
      const found = await db.withService((tx) => registry.revokeDevice(narrow(tx, tenantId), deviceId));
      if (!found) throw deviceNotFound(tenantId, deviceId);
      changed(tenantId, deviceId);
    },

    async rotateToken(tenantId, deviceId) {
      const token = await db.withService((tx) => rotateToken(narrow(tx, tenantId), deviceId, options.logins));
      if (!token) throw deviceNotFound(tenantId, deviceId);
      changed(tenantId, deviceId);
      return token;
    },

    async activate(tenantId, deviceId, activationCode) {
      const codeHash = sha256Hex(activationCode);
      const token = newProvisionToken();
      const activated = await db.withTenant(tenantId, async (tx) => {
        if (!(await registry.consumeActivationCode(tx, deviceId, codeHash))) {
          const problem = await registry.activationCodeProblem(tx, deviceId, codeHash);
          if (problem === 'used') throw new AppError('ACTIVATION_CODE_USED', 'Activation code already used');
          if (problem === 'expired') throw new AppError('ACTIVATION_CODE_EXPIRED', 'Activation code expired');
          throw new AppError('INVALID_ACTIVATION_CODE', 'Invalid activation code');
        }
        await registry.replaceToken(tx, deviceId, sha256Hex(token), 'REACTIVATED');
        // Last in the transaction: if the broker refuses the login, the code stays unused.
        await options.logins.setPassword(tenantId, deviceId, token);
        return token;
      });
      changed(tenantId, deviceId);
      return activated;
    },
  };
}

function deviceNotFound(tenantId: string, deviceId: string): AppError {
  return new AppError('NOT_FOUND', `Device not found: ${tenantId}/${deviceId}`);
}
