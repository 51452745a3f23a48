// `{name}` templates for email subjects and bodies and MQTT topics. Unknown names are left as they are
// (the original fell back to the raw template on any unknown name); values may be escaped for HTML.
import type { AlertPayload } from './payload.js';

export const TEMPLATE_VARIABLES = [
  'alert_id',
  'tenant_id',
  'site_id',
  'device_id',
  'alert_type',
  'title',
  'severity',
  'severity_label',
  'severity_lower',
  'summary',
  'message',
  'status',
  'event',
  'timestamp',
] as const;

export function templateValues(payload: AlertPayload): Record<string, string> {
  return {
    alert_id: String(payload.alert_id),
    tenant_id: payload.tenant_id,
    site_id: payload.site_id,
    device_id: payload.device_id,
    alert_type: payload.alert_type,
    title: payload.title,
    severity: String(payload.severity),
    severity_label: payload.severity_label,
    severity_lower: payload.severity_label.toLowerCase(),
    summary: payload.summary,
    message: payload.summary,
    status: payload.status,
    event: payload.event,
    timestamp: payload.event === 'CLOSED' && payload.closed_at ? payload.closed_at : payload.created_at,
  };
}

export const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function render(
  template: string,
  values: Record<string, string>,
  escape: (value: string) => string = (v) => v,
): string {
  return template.replace(/\{([a-z_]+)\}/g, (whole, name: string) => (name in values ? escape(values[name]!) : whole));
}

/** Names in `{…}` that are not template variables. */
export function unknownVariables(template: string, allowed: readonly string[] = TEMPLATE_VARIABLES): string[] {
  return [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!).filter((name) => !allowed.includes(name));
}
