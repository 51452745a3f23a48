// A selection of a tenant's devices, as fleet jobs and configuration changes name them: every device, by
// site, by id prefix, or an explicit list (criteria given together must all match). Only ACTIVE devices are
// selected: a revoked one can receive nothing.
import type { TenantScope } from '../db/database.js';

export interface DeviceSelector {
  all?: boolean | undefined;
  site_ids?: string[] | undefined;
  device_prefix?: string | undefined;
  device_ids?: string[] | undefined;
}

/** Whether the selector names anything; `{}` selects nothing rather than the whole fleet by accident. */
export const selectsSomething = (s: DeviceSelector) =>
  s.all === true || (s.site_ids?.length ?? 0) > 0 || !!s.device_prefix || (s.device_ids?.length ?? 0) > 0;

const WHERE = `tenant_id = $1 AND status = 'ACTIVE'
  AND ($2::text[] IS NULL OR site_id = ANY ($2))
  AND ($3::text IS NULL OR starts_with(device_id, $3))
  AND ($4::text[] IS NULL OR device_id = ANY ($4))`;

const params = (tx: TenantScope, s: DeviceSelector) => [
  tx.tenantId,
  s.site_ids?.length ? s.site_ids : null,
  s.device_prefix || null,
  s.device_ids?.length ? s.device_ids : null,
];

export async function countSelection(tx: TenantScope, selector: DeviceSelector): Promise<number> {
  if (!selectsSomething(selector)) return 0;
  const { rows } = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM device_registry WHERE ${WHERE}`,
    params(tx, selector),
  );
  return rows[0]!.n;
}

/** The selected devices' ids, in id order. */
export async function selectDevices(tx: TenantScope, selector: DeviceSelector): Promise<string[]> {
  if (!selectsSomething(selector)) return [];
  const { rows } = await tx.query<{ device_id: string }>(
    `SELECT device_id FROM device_registry WHERE ${WHERE} ORDER BY device_id`,
    params(tx, selector),
  );
  return rows.map((row) => row.device_id);
}
