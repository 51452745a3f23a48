// A dashboard's read-only share link (issue 32), with no login: its token (only its SHA-256 is stored)
// opens that one dashboard and its widgets' data — nothing else of the tenant — until the link expires or
// is revoked, and each address may ask so many times per window (a wall screen refreshes; a guesser waits).
// Live mode is a stream of server-sent events that carry no data: `changed` when something the dashboard
// shows may have changed (telemetry of the devices it names or of the fleet when it shows the fleet,
// alerts when it lists them), at most every LIVE_GAP_MS (dashboard-live.ts), so the page reads its data
// again; `gone` when the link stops working.
import type { ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Bus } from '../bus/index.js';
import type { Database } from '../db/database.js';
import { AppError } from '../errors.js';
import type { App } from '../http/server.js';
import { sha256Hex } from '../lib/credentials.js';
import type { SlidingWindowLimiter } from '../lib/rate-limit.js';
import { liveShare } from '../model/dashboards.js';
import type { Retention } from '../model/resolution.js';
import { DashboardData, type TenantReads } from './customer/dashboard-data.js';
import { Choices, DataRequest, dashboardOr404, dashboardView, dataOf } from './customer/dashboards.js';
import { Obj } from '../lib/schema.js';
import { DashboardDocument, liveFollows } from '../model/dashboard-schema.js';
import { followDashboard } from './dashboard-live.js';

const tags = ['shared dashboards'];
const TokenParams = Type.Object({ token: Type.String({ minLength: 1, maxLength: 100 }) });
/** How often an open stream checks that its link still works (and keeps proxies from closing it). */
const LIVE_RECHECK_MS = 15_000;
/** Streams one address may hold open at once. */
const LIVE_STREAMS_PER_ADDRESS = 10;

/**
 * The open live streams' link checks, by dashboard. A link revoked or a dashboard deleted through this
 * process checks that dashboard's streams at once (`recheck`, after the commit); one changed through another
 * process is seen within LIVE_RECHECK_MS.
 */
export class LiveShareChecks {
  private readonly byDashboard = new Map<string, Set<() => void>>();

  add(dashboardId: string, check: () => void): () => void {
    let checks = this.byDashboard.get(dashboardId);
    if (!checks) this.byDashboard.set(dashboardId, (checks = new Set()));
    checks.add(check);
    return () => {
      checks.delete(check);
      if (checks.size === 0) this.byDashboard.delete(dashboardId);
    };
  }

  /** `dashboardId` as a route received it: a UUID in any case (streams hold it as the database spells it). */
  recheck(dashboardId: string): void {
    for (const check of this.byDashboard.get(dashboardId.toLowerCase()) ?? []) check();
  }
}

export function registerSharedDashboardRoutes(
  app: App,
  deps: {
    db: Pick<Database, 'withService' | 'withTenant'>;
    bus: Pick<Bus, 'subscribe'>;
    limiter: SlidingWindowLimiter;
    retention: Retention;
    checks: LiveShareChecks;
  },
): void {
  const { db, bus, limiter, retention } = deps;
  const streamsByAddress = new Map<string, number>();
  /** Open live streams: ended as the server closes, which would otherwise wait for them. */
  const openStreams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const stream of openStreams) stream.end();
  });

  /**
   * The link's dashboard and transactions of its tenant to read it in; 404 for a link unknown, expired or
   * revoked.
   */
  const shareOf = async (
    request: FastifyRequest<{ Params: { token: string } }>,
  ): Promise<{ tenantId: string; dashboardId: string; inTenant: TenantReads }> => {
    const decision = limiter.take(`share\u0000${request.ip}`);
    if (!decision.allowed)
      throw new AppError(
        'RATE_LIMITED',
        'Too many requests for shared dashboards',
        {},
        Math.ceil(decision.retryAfterMs / 1000),
      );
    const share = await db.withService((tx) => liveShare(tx, sha256Hex(request.params.token)));
    if (!share) throw new AppError('NOT_FOUND', 'This dashboard link is unknown, expired or revoked');
    return {
      tenantId: share.tenant_id,
      dashboardId: share.dashboard_id,
      inTenant: (read) => db.withTenant(share.tenant_id, read),
    };
  };

  app.get(
    '/api/shared-dashboards/:token',
    {
      schema: {
        tags,
        summary: 'The dashboard a share link shows (no login)',
        params: TokenParams,
        response: {
          200: Obj({
            definition: DashboardDocument,
            choices: Choices,
          }),
        },
      },
    },
    async (request) => {
      const { dashboardId, inTenant } = await shareOf(request);
      const { definition, choices } = await inTenant((tx) => dashboardView(tx, dashboardId));
      return { definition, choices };
    },
  );

  app.post(
    '/api/shared-dashboards/:token/data',
    {
      schema: {
        tags,
        summary: "The shared dashboard's widgets' data (its stored widgets only)",
        params: TokenParams,
        body: Type.Omit(DataRequest, ['widgets', 'declared_variables']),
        response: { 200: DashboardData },
      },
    },
    async (request) => {
      const { dashboardId, inTenant } = await shareOf(request);
      const { definition } = await inTenant((tx) => dashboardOr404(tx, dashboardId));
      return dataOf(inTenant, definition, request.body, retention);
    },
  );
  app.get(
    '/api/shared-dashboards/:token/live',
    {
      schema: {
        tags,
        summary: 'Live mode of a shared dashboard: server-sent events, no data',
        description:
          '`event: changed` when what the dashboard shows may have changed (read its data again), at most every 10 s; `event: gone` when the link expires or is revoked. `device` is the device variable chosen.',
        params: TokenParams,
        querystring: Type.Object({ device: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
        response: {
          200: {
            description: 'a stream of server-sent events (`event: changed` or `event: gone`, `data: {}`)',
            content: { 'text/event-stream': { schema: Type.String() } },
          },
        },
      },
    },
    async (request, reply) => {
      const address = request.ip;
      if ((streamsByAddress.get(address) ?? 0) >= LIVE_STREAMS_PER_ADDRESS)
        throw new AppError('RATE_LIMITED', 'Too many live dashboards open from this address', {}, 60);
      const { tenantId, dashboardId, inTenant } = await shareOf(request);
      const { definition } = await inTenant((tx) => dashboardOr404(tx, dashboardId));
      const follows = liveFollows(definition, request.query.device);
      streamsByAddress.set(address, (streamsByAddress.get(address) ?? 0) + 1);
      reply.hijack();
      const stream = reply.raw;
      openStreams.add(stream);
      stream.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      /** Writes unless the stream ended: a timer or a check may come between its end and its 'close'. */
      const send = (text: string) => void (stream.writableEnded || stream.write(text));
      send(': live\n\n');
      const stops = [followDashboard(bus, tenantId, follows, () => send('event: changed\ndata: {}\n\n'))];
      const tokenHash = sha256Hex(request.params.token);
      const check = () => {
        db.withService((tx) => liveShare(tx, tokenHash)).then(
          (share) => {
            if (share) return send(': still\n\n');
            send('event: gone\ndata: {}\n\n');
            stream.end();
          },
          (error: unknown) => request.log.warn({ err: error }, 'a shared dashboard link could not be rechecked'),
        );
      };
      const recheck = setInterval(check, LIVE_RECHECK_MS);
      stops.push(deps.checks.add(dashboardId, check));
      stream.on('close', () => {
        openStreams.delete(stream);
        for (const stop of stops) stop();
        clearInterval(recheck);
        const open = (streamsByAddress.get(address) ?? 1) - 1;
        if (open === 0) streamsByAddress.delete(address);
        else streamsByAddress.set(address, open);
      });
    },
  );
}
