// Telemetry export (issue 17): one device's rows, or the whole tenant's (optionally some metrics), over a
// window of up to 31 days, as CSV or NDJSON. Streamed: rows are read a page at a time as the client takes
// them, so memory stays constant whatever the size. Tenant-scoped under row-level security; besides the
// API's per-user rate limit, a tenant runs at most EXPORTS_PER_TENANT exports at once on each api instance.
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import type { App } from '../../http/server.js';
import { exportLines, type ExportFormat } from '../../lib/export-format.js';
import * as deviceModel from '../../model/devices.js';
import { exportMetricNames, exportRows, type ExportFilter } from '../../model/telemetry-export.js';
import { tenantOf, type InTenant } from '../guard.js';
import { timeWindow } from '../time-window.js';

const EXPORTS_PER_TENANT = 2;
const tags = ['telemetry export'];
const Instant = Type.String({ description: 'ISO-8601 instant, e.g. 2026-11-28T10:00:00Z' });
const Format = Type.Union([Type.Literal('csv'), Type.Literal('ndjson')], { default: 'csv' });
const Window = {
  start: Type.Optional(Instant),
  end: Type.Optional(Instant),
  hours: Type.Integer({ minimum: 1, maximum: 744, default: 24, description: 'the last hours, without start' }),
  format: Format,
};
/** The answer is a file; OpenAPI names both media types. */
const Download = {
  description: 'CSV (a column per metric) or NDJSON (an object per row), oldest first, as a download',
  content: {
    'text/csv': { schema: Type.String() },
    'application/x-ndjson': { schema: Type.String() },
  },
};
const MEDIA: Record<ExportFormat, string> = { csv: 'text/csv; charset=utf-8', ndjson: 'application/x-ndjson' };

export function registerExportRoutes(app: App, inTenant: InTenant): void {
  const running = new Map<string, number>();

  /** Streams the export, holding one of the tenant's export slots until the download ends. */
  const stream = async (
    request: FastifyRequest,
    reply: FastifyReply,
    filter: ExportFilter,
    format: ExportFormat,
    name: string,
  ) => {
    const tenantId = tenantOf(request);
    const slots = running.get(tenantId) ?? 0;
    if (slots >= EXPORTS_PER_TENANT) {
      throw new AppError(
        'RATE_LIMITED',
        `${EXPORTS_PER_TENANT} exports of this tenant are running; retry when one ends`,
        {},
        10,
      );
    }
    const columns = await inTenant(request, (tx) => exportMetricNames(tx, filter));
    running.set(tenantId, slots + 1);
    const body = Readable.from(
      exportLines(
        exportRows((fn) => inTenant(request, fn), filter),
        format,
        columns,
        filter.metrics !== undefined,
      ),
    );
    const release = () => {
      const now = (running.get(tenantId) ?? 1) - 1;
      if (now > 0) running.set(tenantId, now);
      else running.delete(tenantId);
    };
    body.once('close', release);
    body.once('error', (error) => request.log.error({ err: error }, 'telemetry export failed midway'));
    const stamp = (date: Date) => date.toISOString().slice(0, 16).replace(/[-:]/g, '');
    return reply
      .type(MEDIA[format])
      .header(
        'content-disposition',
        `attachment; filename="${name}-${stamp(filter.start)}-${stamp(filter.end)}.${format === 'csv' ? 'csv' : 'ndjson'}"`,
      )
      .send(body);
  };

  app.get(
    '/api/v2/devices/:device_id/telemetry/export',
    {
      schema: {
        tags,
        summary: "A device's telemetry and heartbeats over a window (at most 31 days), streamed as CSV or NDJSON",
        params: Type.Object({ device_id: Type.String({ minLength: 1 }) }),
        querystring: Type.Object(Window),
        response: { 200: Download },
      },
    },
    async (request, reply) => {
      const { device_id } = request.params;
      const { start, end } = timeWindow(request.query);
      await inTenant(request, async (tx) => {
        if (!(await deviceModel.deviceExists(tx, device_id))) throw new AppError('NOT_FOUND', 'Device not found');
      });
      return stream(
        request,
        reply,
        { deviceId: device_id, start, end },
        request.query.format,
        device_id.replace(/[^\w.-]/g, '_'),
      );
    },
  );

  app.get(
    '/api/v2/telemetry/export',
    {
      schema: {
        tags,
        summary: "Every device's telemetry over a window (at most 31 days), optionally some metrics, streamed",
        querystring: Type.Object({
          ...Window,
          metrics: Type.Optional(
            Type.String({ description: 'comma-separated metric names: only these columns, and rows that carry one' }),
          ),
        }),
        response: { 200: Download },
      },
    },
    async (request, reply) => {
      const { start, end } = timeWindow(request.query);
      const metrics = request.query.metrics
        ?.split(',')
        .map((m) => m.trim())
        .filter(Boolean);
      if (metrics && metrics.length === 0) throw new AppError('INVALID_REQUEST', 'metrics names no metric');
      return stream(
        request,
        reply,
        { start, end, metrics },
        request.query.format,
        tenantOf(request).replace(/[^\w.-]/g, '_'),
      );
    },
  );
}
