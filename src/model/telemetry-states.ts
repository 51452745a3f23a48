// Telemetry beyond numbers (issue 31): a metric's states over time (which value, from when to when), a
// device's track of positions, and where each device of a tenant last was. Read under row-level security.
import type { TenantTx } from '../db/database.js';
import type { DeviceStatus } from './device-state.js';
import { DEVICE_FROM, DEVICE_STATUS } from './devices.js';
import type { Position } from '../contracts/messages.js';

export interface StateSegment {
  value: unknown;
  from: Date;
  /** When the next value came, or the window's end for the last one. */
  to: Date;
}

/**
 * Readings of one metric in time order as segments of equal value, clipped to [start, end]: the value in
 * force at `start` (the last reading before it) opens the first one. Pure.
 */
export function stateSegments(readings: { time: Date; value: unknown }[], start: Date, end: Date): StateSegment[] {
  const segments: StateSegment[] = [];
  for (const { time, value } of readings) {
    const from = time < start ? start : time;
    const last = segments.at(-1);
    if (last && JSON.stringify(last.value) === JSON.stringify(value)) continue;
    if (last) last.to = from;
    segments.push({ value, from, to: end });
  }
  return segments;
}

/** How far back the value in force at a window's start is looked for. */
const LOOK_BACK = '30 days';

export async function metricStates(
  tx: TenantTx,
  deviceId: string,
  metric: string,
  window: { start: Date; end: Date },
  limit: number,
): Promise<{ segments: StateSegment[]; truncated: boolean }> {
  const { rows } = await tx.query<{ time: Date; value: unknown }>(
    `(SELECT time, metrics -> $3 AS value FROM telemetry
      WHERE tenant_id = $1 AND device_id = $2 AND msg_type = 'telemetry' AND metrics ? $3
        AND time < $4 AND time >= $4::timestamptz - interval '${LOOK_BACK}'
      ORDER BY time DESC LIMIT 1)
     UNION ALL
     (SELECT time, metrics -> $3 AS value FROM telemetry
      WHERE tenant_id = $1 AND device_id = $2 AND msg_type = 'telemetry' AND metrics ? $3
        AND time >= $4 AND time <= $5
      ORDER BY time LIMIT $6)`,
    [tx.tenantId, deviceId, metric, window.start, window.end, limit + 1],
  );
  const readings = rows.sort((a, b) => a.time.getTime() - b.time.getTime());
  const inWindow = readings.filter((row) => row.time >= window.start).length;
  const truncated = inWindow > limit;
  if (truncated) readings.pop();
  const end = truncated ? readings.at(-1)!.time : window.end;
  return { segments: stateSegments(readings, window.start, end), truncated };
}

export interface TrackPoint extends Position {
  time: Date;
}

/** A device's positions in the window, oldest first; at most `limit`, evenly thinned when there are more. */
export async function track(
  tx: TenantTx,
  deviceId: string,
  metric: string,
  window: { start: Date; end: Date },
  limit: number,
): Promise<{ points: TrackPoint[]; thinned: boolean }> {
  const { rows } = await tx.query<{ time: Date; p: Position }>(
    `SELECT time, metrics -> $3 AS p FROM telemetry
     WHERE tenant_id = $1 AND device_id = $2 AND time >= $4 AND time <= $5
       AND jsonb_typeof(metrics -> $3) = 'object'
     ORDER BY time LIMIT 100000`,
    [tx.tenantId, deviceId, metric, window.start, window.end],
  );
  const step = Math.max(1, Math.ceil(rows.length / limit));
  const kept = rows.filter((_, i) => i % step === 0 || i === rows.length - 1);
  return { points: kept.map(({ time, p }) => ({ time, ...p })), thinned: step > 1 };
}

export interface DevicePosition extends Position {
  device_id: string;
  site_id: string;
  status: DeviceStatus | 'OFFLINE';
  /** When the device was there. */
  at: Date;
}

/**
 * Every device's last position: from its latest telemetry when that holds one, else its last reading of
 * the metric in the past day (devices that send positions apart from other readings).
 */
export async function fleetPositions(tx: TenantTx, metric: string): Promise<DevicePosition[]> {
  const { rows } = await tx.query<{
    device_id: string;
    site_id: string;
    status: DevicePosition['status'];
    p: Position;
    at: Date;
  }>(
    `SELECT dr.device_id, dr.site_id, ${DEVICE_STATUS} AS status,
            COALESCE(CASE WHEN jsonb_typeof(ds.state -> $2) = 'object' THEN ds.state -> $2 END, last.p) AS p,
            CASE WHEN jsonb_typeof(ds.state -> $2) = 'object' THEN ds.last_telemetry_at ELSE last.time END AS at
     FROM ${DEVICE_FROM}
     LEFT JOIN LATERAL (
       SELECT t.time, t.metrics -> $2 AS p FROM telemetry t
       WHERE jsonb_typeof(ds.state -> $2) IS DISTINCT FROM 'object'
         AND t.tenant_id = dr.tenant_id AND t.device_id = dr.device_id AND t.time > now() - interval '1 day'
         AND jsonb_typeof(t.metrics -> $2) = 'object'
       ORDER BY t.time DESC LIMIT 1) last ON true
     WHERE dr.tenant_id = $1
     ORDER BY dr.device_id`,
    [tx.tenantId, metric],
  );
  return rows.filter((row) => row.p).map(({ p, ...device }) => ({ ...device, ...p }));
}
