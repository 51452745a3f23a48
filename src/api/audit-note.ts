// What a change did, in words, for the audit logs: a route says it once the change succeeded ("created
// device pump-7", "disabled user alice", "revoked 3 devices") with the resource it made, which a create's
// path does not name. The customer log's hook (customer/audit.ts) and the operator's audited() read it.
import type { FastifyRequest } from 'fastify';
import type { DeviceChanges } from '../model/device-registry.js';
import type { Labels } from '../model/device-spec.js';

export interface AuditNote {
  /** The resource the change made or touched, when the path does not name it (a create). */
  resourceId?: string;
  summary: string;
}

const notes = new WeakMap<FastifyRequest, AuditNote>();

export function noteAudit(request: FastifyRequest, note: AuditNote): void {
  notes.set(request, note);
}

export const auditNoteOf = (request: FastifyRequest): AuditNote | undefined => notes.get(request);

/** "1 device", "3 devices". */
export const countOf = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

/** "disabled user alice", "enabled user alice; made alice customer_admin", "set a new password for alice". */
export function userChangeSummary(
  username: string,
  changes: { role?: string | undefined; password?: string | undefined; disabled?: boolean | undefined },
): string {
  const parts = [
    changes.disabled !== undefined && `${changes.disabled ? 'disabled' : 'enabled'} user ${username}`,
    changes.role !== undefined && `made ${username} ${changes.role}`,
    changes.password !== undefined && `set a new password for ${username}`,
  ].filter((part) => part !== false);
  return parts.length > 0 ? parts.join('; ') : `changed user ${username}`;
}

/** " (tags a, b; attributes model, installed_on)" for a device made with labels; "" without. */
export function labelsSummary(labels: Labels): string {
  const parts = [
    labels.tags?.length && `tags ${labels.tags.join(', ')}`,
    labels.attributes &&
      Object.keys(labels.attributes).length &&
      `attributes ${Object.keys(labels.attributes).join(', ')}`,
  ].filter(Boolean);
  return parts.length > 0 ? ` (${parts.join('; ')})` : '';
}

/** "changed device pump-2: site plant-2; tags +cold-chain -old; attributes model=X200, installed_on=2025-03-01". */
export function deviceChangeSummary(deviceId: string, changes: DeviceChanges): string {
  const tagEdits = [
    ...(changes.add_tags ?? []).map((tag) => `+${tag}`),
    ...(changes.remove_tags ?? []).map((tag) => `-${tag}`),
  ];
  const parts = [
    changes.site_id !== undefined && `site ${changes.site_id}`,
    changes.fw_version !== undefined && `firmware ${changes.fw_version ?? 'none'}`,
    changes.metadata !== undefined && 'metadata',
    changes.tags !== undefined && `tags set to ${changes.tags.join(', ') || 'none'}`,
    tagEdits.length > 0 && `tags ${tagEdits.join(' ')}`,
    changes.attributes !== undefined &&
      `attributes set to ${
        Object.entries(changes.attributes)
          .map(([key, value]) => `${key}=${String(value)}`)
          .join(', ') || 'none'
      }`,
  ].filter((part) => part !== false);
  return `changed device ${deviceId}: ${parts.join('; ')}`;
}
