// Live mode of a dashboard (issue 32): `changed` when what it shows may have changed — telemetry of a
// device it names, of any device of its tenant when it shows the fleet, an alert change when it lists
// alerts — at most every LIVE_GAP_MS and without data: the page reads its data again. A share link's event
// stream and the live socket's dashboard channel both follow a dashboard this way.
import type { Bus } from '../bus/index.js';
import type { LiveFollows } from '../model/dashboard-schema.js';

/** Live mode's `changed` events are this far apart at least: each makes the page read its data again. */
export const LIVE_GAP_MS = 10_000;

/** Calls `changed` as above until the returned function is called. */
export function followDashboard(
  bus: Pick<Bus, 'subscribe'>,
  tenantId: string,
  follows: LiveFollows,
  changed: () => void,
): () => void {
  let lastSent = 0;
  let pending: NodeJS.Timeout | undefined;
  const soon = () => {
    if (pending) return;
    pending = setTimeout(
      () => {
        pending = undefined;
        lastSent = Date.now();
        changed();
      },
      Math.max(0, lastSent + LIVE_GAP_MS - Date.now()),
    );
  };
  const stops: (() => void)[] = [];
  if (follows.fleet || follows.devices.size > 0)
    stops.push(
      bus.subscribe('telemetry.accepted', (messages) => {
        if (messages.some((m) => m.tenant_id === tenantId && (follows.fleet || follows.devices.has(m.device_id))))
          soon();
      }),
    );
  if (follows.alerts)
    stops.push(
      bus.subscribe('alert.changed', (event) => {
        if (event.tenant_id === tenantId) soon();
      }),
    );
  return () => {
    for (const stop of stops) stop();
    clearTimeout(pending);
  };
}
