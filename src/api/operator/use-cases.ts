// What operators do to tenants and settings, as plain functions of a transaction and the request's
// fields: the rules (valid ids, statuses, e-mail), the writes, and what the answer says. Routes only
// declare schemas, audit and call these.
import type { OperatorTx } from '../../db/database.js';
import { narrow } from '../../db/database.js';
import { AppError, requireChanges } from '../../errors.js';
import * as registry from '../../model/device-registry.js';
import * as settingsModel from '../../model/settings.js';
import { applySettingRows, type IngestSettings } from '../../model/settings.js';
import * as tenants from '../../model/tenants.js';
import type { TenantFields } from '../../model/tenants.js';

const TENANT_ID = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const TENANT_STATUSES = ['ACTIVE', 'SUSPENDED'];

function checkContactEmail(email: string | null | undefined): void {
  if (email && !EMAIL.test(email)) throw new AppError('INVALID_REQUEST', 'Invalid contact_email');
}

export async function createTenant(tx: OperatorTx, tenantId: string, fields: TenantFields & { name: string }) {
  if (!TENANT_ID.test(tenantId)) {
    throw new AppError('INVALID_REQUEST', 'Invalid tenant_id: lowercase letters, digits and inner hyphens, at most 64');
  }
  checkContactEmail(fields.contact_email);
  if (!(await tenants.createTenant(tx, tenantId, { ...fields, name: fields.name.trim() }))) {
    throw new AppError('CONFLICT', 'Tenant already exists');
  }
  return { tenant_id: tenantId, status: 'created' };
}

/** Changes the given fields only (a form that sends just the name keeps the contact e-mail). */
export async function changeTenant(tx: OperatorTx, tenantId: string, fields: TenantFields) {
  requireChanges(fields);
  if (fields.status !== undefined && !TENANT_STATUSES.includes(fields.status)) {
    throw new AppError(
      'INVALID_REQUEST',
      `status must be one of ${TENANT_STATUSES.join(', ')} (delete a tenant with DELETE)`,
    );
  }
  checkContactEmail(fields.contact_email);
  if (!(await tenants.updateTenant(tx, tenantId, fields))) throw new AppError('NOT_FOUND', 'Tenant not found');
  return { tenant_id: tenantId, status: 'updated' };
}

/** Soft-deletes a tenant and revokes its devices; returns their ids, for the caller to announce after commit. */
export async function deleteTenant(tx: OperatorTx, tenantId: string) {
  if (!(await tenants.deleteTenant(tx, tenantId))) {
    throw new AppError('NOT_FOUND', 'Tenant not found or already deleted');
  }
  // A deleted tenant's devices stop sending: their tokens go with it.
  const revoked = await registry.revokeTenantDevices(narrow(tx, tenantId));
  return { answer: { tenant_id: tenantId, status: 'deleted', devices_revoked: revoked.length }, revoked };
}

export async function tenant(tx: OperatorTx, tenantId: string) {
  const found = await tenants.findTenant(tx, tenantId);
  if (!found) throw new AppError('NOT_FOUND', 'Tenant not found');
  return found;
}

export async function tenantStats(tx: OperatorTx, tenantId: string) {
  const tenant = await tenants.findTenant(tx, tenantId);
  if (!tenant) throw new AppError('NOT_FOUND', 'Tenant not found');
  return {
    tenant_id: tenantId,
    name: tenant.name,
    status: tenant.status,
    stats: await tenants.tenantStats(tx, tenantId),
  };
}

/** The runtime ingest settings as the API shows them. */
export const settingsJson = (settings: IngestSettings) => ({
  mode: settings.mode,
  store_rejects: settings.storeRejects,
  max_payload_bytes: settings.maxPayloadBytes,
  rate_limit_rps: settings.rateLimitRps,
  rate_limit_burst: settings.rateLimitBurst,
});

export interface SettingsChange {
  mode?: 'DEV' | 'PROD' | undefined;
  store_rejects?: boolean | string | undefined;
  mirror_rejects?: boolean | string | undefined;
  max_payload_bytes?: number | undefined;
  rate_limit_rps?: number | undefined;
  rate_limit_burst?: number | undefined;
}

/** Form fields send flags as text ("on", "true", "1"). */
const flag = (value: boolean | string) =>
  typeof value === 'boolean' ? value : ['1', 'true', 'on', 'yes'].includes(value.toLowerCase());

/** Saves the given settings; ingest applies them within SETTINGS_POLL_SECONDS. */
export async function changeSettings(tx: OperatorTx, change: SettingsChange, defaults: IngestSettings) {
  const values: Record<string, string> = {};
  if (change.mode !== undefined) values.MODE = change.mode;
  if (change.store_rejects !== undefined) values.STORE_REJECTS = flag(change.store_rejects) ? '1' : '0';
  if (change.mirror_rejects !== undefined) values.MIRROR_REJECTS_TO_RAW = flag(change.mirror_rejects) ? '1' : '0';
  if (change.max_payload_bytes !== undefined) values.MAX_PAYLOAD_BYTES = String(change.max_payload_bytes);
  if (change.rate_limit_rps !== undefined) values.RATE_LIMIT_RPS = String(change.rate_limit_rps);
  if (change.rate_limit_burst !== undefined) values.RATE_LIMIT_BURST = String(change.rate_limit_burst);
  if (Object.keys(values).length === 0) throw new AppError('INVALID_REQUEST', 'No settings to update');
  await settingsModel.saveSettings(tx, values);
  return {
    status: 'ok' as const,
    settings: settingsJson(applySettingRows(defaults, await settingsModel.settingRows(tx))),
  };
}
