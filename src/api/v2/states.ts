// Telemetry beyond numbers (issue 31) for customer roles: a metric's state timeline, a device's track of
// positions, and the fleet's last positions for the map.
import { Type } from '@sinclair/typebox';
import { AppError } from '../../errors.js';
import type { App } from '../../http/server.js';
import { Obj, Timestamp } from '../../lib/schema.js';
import { deviceExists } from '../../model/devices.js';
import { fleetPositions, metricStates, track } from '../../model/telemetry-states.js';
import type { InTenant } from '../guard.js';
import { timeWindow } from '../time-window.js';

const tags = ['v2'];
const Metric = (fallback?: string) =>
  Type.String({
    pattern: '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$',
    ...(fallback && { default: fallback }),
    description: 'the metric',
  });
const Window = {
  hours: Type.Integer({ minimum: 1, maximum: 24 * 31, default: 24 }),
  start: Type.Optional(Type.String({ description: 'ISO-8601 instant' })),
  end: Type.Optional(Type.String({ description: 'ISO-8601 instant' })),
};
const DeviceParams = Type.Object({ device_id: Type.String({ minLength: 1 }) });
const PositionFields = {
  lat: Type.Number(),
  lon: Type.Number(),
  alt: Type.Optional(Type.Number()),
  acc: Type.Optional(Type.Number()),
};

export function registerStateRoutes(app: App, inTenant: InTenant): void {
  app.get(
    '/api/v2/devices/:device_id/states',
    {
      schema: {
        tags,
        summary: "A metric's values over time as segments (which value, from when to when): a state timeline",
        params: DeviceParams,
        querystring: Type.Object({
          metric: Metric(),
          ...Window,
          limit: Type.Integer({ minimum: 1, maximum: 50_000, default: 10_000 }),
        }),
        response: {
          200: Obj({
            device_id: Type.String(),
            metric: Type.String(),
            start: Timestamp,
            end: Timestamp,
            segments: Type.Array(Obj({ value: Type.Unknown(), from: Timestamp, to: Timestamp })),
            truncated: Type.Boolean({
              description: 'more readings than limit: the timeline stops at the last one read',
            }),
          }),
        },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const { device_id } = request.params;
        const window = timeWindow(request.query, new Date(), 31);
        if (!(await deviceExists(tx, device_id))) throw new AppError('NOT_FOUND', 'Device not found');
        const states = await metricStates(tx, device_id, request.query.metric, window, request.query.limit);
        return { device_id, metric: request.query.metric, start: window.start, end: window.end, ...states };
      }),
  );

  app.get(
    '/api/v2/devices/:device_id/track',
    {
      schema: {
        tags,
        summary: "A device's positions in a window, oldest first (thinned evenly to at most `limit`)",
        params: DeviceParams,
        querystring: Type.Object({
          metric: Metric('position'),
          ...Window,
          limit: Type.Integer({ minimum: 2, maximum: 10_000, default: 2000 }),
        }),
        response: {
          200: Obj({
            device_id: Type.String(),
            metric: Type.String(),
            points: Type.Array(Obj({ time: Timestamp, ...PositionFields })),
            thinned: Type.Boolean(),
          }),
        },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        const { device_id } = request.params;
        const window = timeWindow(request.query, new Date(), 31);
        if (!(await deviceExists(tx, device_id))) throw new AppError('NOT_FOUND', 'Device not found');
        return {
          device_id,
          metric: request.query.metric,
          ...(await track(tx, device_id, request.query.metric, window, request.query.limit)),
        };
      }),
  );

  app.get(
    '/api/v2/fleet/positions',
    {
      schema: {
        tags,
        summary: "Every device's last position with its status: the fleet map",
        querystring: Type.Object({ metric: Metric('position') }),
        response: {
          200: Obj({
            metric: Type.String(),
            devices: Type.Array(
              Obj({
                device_id: Type.String(),
                site_id: Type.String(),
                status: Type.String(),
                at: Timestamp,
                ...PositionFields,
              }),
            ),
          }),
        },
      },
    },
    (request) =>
      inTenant(request, async (tx) => ({
        metric: request.query.metric,
        devices: await fleetPositions(tx, request.query.metric),
      })),
  );
}
