// Telemetry export (issue 17): one device's rows, or the whole tenant's (optionally some metrics), over a
// window of up to 31 days, as CSV or NDJSON. Streamed: rows are read a page at a time as the client takes
// them, so memory stays constant whatever the size. Tenant-scoped under row-level security; besides the
// API's per-user rate limit, a tenant runs at most EXPORTS_PER_TENANT exports at once on each api instance,
// the slot taken before anything is awaited (so simultaneous requests cannot all pass the check). On PGlite,
// whose one connection ingest shares, the page queries of every export take turns one at a time.
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '../../db/connection.js';
import type { TenantTx } from '../../db/database.js';
import { AppError } from '../../errors.js';
import type { App } from '../../http/server.js';
import { exportLines, type ExportFormat } from '../../lib/export-format.js';
import { Semaphore } from '../../lib/semaphore.js';
import * as deviceModel from '../../model/devices.js';
import { exportMetricNames, exportPages, type ExportFilter } from '../../model/telemetry-export.js';
import { devicesByGroup, selectsSomething, SelectorQuery, type DeviceSelector } from '../../model/device-selection.js';
import { selectorFromQuery } from '../../model/selector-input.js';
import { tenantOf, type InTenant } from '../guard.js';
import { timeWindow } from '../time-window.js';

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

export interface ExportLimits {
  perTenant: number;
  engine: Engine;
}

export function registerExportRoutes(app: App, inTenant: InTenant, limits: ExportLimits): void {
  const running = new Map<string, number>();
  // PGlite has one connection and runs on this thread: exports' queries, page after page, would queue ahead
  // of ingest's writes and keep the event loop from even reading ingest's requests. One page query at a time
  // across all exports, each after a turn of the event loop (setImmediate: pending I/O first), lets every
  // write in between.
  const pages = limits.engine === 'pglite' ? new Semaphore(1) : undefined;
  const query =
    (request: FastifyRequest) =>
    <T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> =>
      pages
        ? pages.run(async () => {
            await new Promise<void>((resolve) => setImmediate(resolve));
            return inTenant(request, fn);
          })
        : inTenant(request, fn);

  /** One of the tenant's export slots, taken with no await between the check and the take. */
  const takeSlot = (tenantId: string): (() => void) => {
    const slots = running.get(tenantId) ?? 0;
    if (slots >= limits.perTenant) {
      throw new AppError(
        'RATE_LIMITED',
        `${limits.perTenant} exports of this tenant are running, the most EXPORTS_PER_TENANT allows; retry when one ends`,
        {},
        10,
      );
    }
    running.set(tenantId, slots + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (running.get(tenantId) ?? 1) - 1;
      if (now > 0) running.set(tenantId, now);
      else running.delete(tenantId);
    };
  };

  /** Streams the export, holding the slot taken for it until the download ends. */
  const stream = async (
    request: FastifyRequest,
    reply: FastifyReply,
    release: () => void,
    asked: ExportFilter & { selector?: DeviceSelector },
    format: ExportFormat,
    name: string,
  ) => {
    let columns: string[];
    let filter: ExportFilter = asked;
    try {
      // The devices a selector picks, once: the export is of them as they were when it started.
      if (asked.selector) {
        const picked = await query(request)((tx) => devicesByGroup(tx, asked.selector!));
        filter = { ...asked, deviceIds: picked.map((device) => device.device_id) };
      }
      columns = await query(request)((tx) => exportMetricNames(tx, filter));
    } catch (error) {
      release();
      throw error;
    }
    const body = Readable.from(
      exportLines(exportPages(query(request), filter), format, columns, filter.metrics !== undefined),
    );
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
      const release = takeSlot(tenantOf(request));
      try {
        await inTenant(request, async (tx) => {
          if (!(await deviceModel.deviceExists(tx, device_id))) throw new AppError('NOT_FOUND', 'Device not found');
        });
      } catch (error) {
        release();
        throw error;
      }
      return stream(
        request,
        reply,
        release,
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
        summary:
          "Every device's telemetry over a window (at most 31 days), or the devices a selector picks (the devices list's filters), optionally some metrics, streamed",
        querystring: Type.Object({
          ...Window,
          ...SelectorQuery.properties,
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
      const selector = selectorFromQuery(request.query);
      return stream(
        request,
        reply,
        takeSlot(tenantOf(request)),
        { start, end, metrics, ...(selectsSomething(selector) && { selector }) },
        request.query.format,
        tenantOf(request).replace(/[^\w.-]/g, '_'),
      );
    },
  );
}
