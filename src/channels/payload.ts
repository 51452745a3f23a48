// What every channel sends for an alert event (docs/wire-contract.md#notification-payload): the alert with
// its tenant and its title added to the original's fields, details as an object, the numeric severity and a
// label, and ISO timestamps (the original sent details as a JSON string, no tenant, and float32-widened
// confidence).

/** What a notification announces: the alert opened, someone acknowledged it, or it closed. */
export type DeliveryEvent = 'OPEN' | 'ACKNOWLEDGED' | 'CLOSED';
export const DELIVERY_EVENTS: readonly DeliveryEvent[] = ['OPEN', 'ACKNOWLEDGED', 'CLOSED'];

export const SEVERITY_LABELS: Record<number, string> = { 1: 'INFO', 2: 'LOW', 3: 'WARNING', 4: 'HIGH', 5: 'CRITICAL' };

export const severityLabel = (severity: number) =>
  SEVERITY_LABELS[Math.min(5, Math.max(1, Math.round(severity)))] ?? 'INFO';

/**
 * A follow-up of an OPEN nobody acknowledged (its n-th repeat, or an escalation step), or the OPEN a route
 * sends for an alert that was already open when the route was created or widened to match it (backfill).
 */
export type Notice =
  { kind: 'repeat'; number: number } | { kind: 'escalation'; after_minutes: number } | { kind: 'backfill' };

/** How a follow-up reads in a subject line: "Repeat 2", "Escalation after 30 min". */
export const noticeLabel = (notice: Notice | undefined) =>
  !notice
    ? undefined
    : notice.kind === 'repeat'
      ? `Repeat ${notice.number}`
      : notice.kind === 'escalation'
        ? `Escalation after ${notice.after_minutes} min`
        : 'Already open';

/** What a notification tells of the alert itself, as the model reads it (model/alerts.ts AlertRow). */
export interface AlertFields {
  alert_id: number;
  tenant_id: string;
  site_id: string;
  device_id: string;
  alert_type: string;
  /** What a person reads as its name: the rule's name, or the type in words. */
  title: string;
  fingerprint: string;
  severity: number;
  confidence: number;
  summary: string;
  details: Record<string, unknown>;
  status: string;
}

/**
 * The alert as channels send it: dates as ISO strings, plus its severity label and the event; a repeat or
 * an escalation says so in `notice` (absent on the event's own notification, as the original sends it).
 */
export interface AlertPayload extends AlertFields {
  severity_label: string;
  /** The state the event announces (the alert may have moved on since). */
  status: string;
  event: DeliveryEvent;
  created_at: string;
  closed_at: string | null;
  /** On ACKNOWLEDGED events only. */
  acknowledged_at?: string;
  notice?: Notice;
  /** Added as the job is sent (deliveryFields): what receivers order and de-duplicate by. */
  sequence?: number;
  alert_status?: string;
  delivery_id?: string;
}

/**
 * The payload as one job sends it, every attempt alike: its place in the alert's sequence, the alert's
 * status as the job was claimed (`status` stays the event's, as the original sends it) and the job's
 * delivery id (also X-Pulse-Delivery on webhooks).
 */
export function deliveryFields(
  payload: AlertPayload,
  job: { sequence: number; alert_status: string; delivery_id: string },
): AlertPayload {
  return { ...payload, sequence: job.sequence, alert_status: job.alert_status, delivery_id: job.delivery_id };
}

/** A payload for test deliveries, recognisable as such. */
export function testPayload(tenantId: string, now = new Date()): AlertPayload {
  return {
    alert_id: 0,
    tenant_id: tenantId,
    site_id: 'test-site',
    device_id: 'test-device',
    alert_type: 'TEST_ALERT',
    title: 'Test alert',
    fingerprint: 'TEST',
    severity: 1,
    severity_label: severityLabel(1),
    confidence: 1,
    summary: 'Test delivery from Pulse',
    status: 'OPEN',
    event: 'OPEN',
    created_at: now.toISOString(),
    closed_at: null,
    details: { test: true },
  };
}
