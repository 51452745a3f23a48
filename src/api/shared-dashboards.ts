// A dashboard's read-only share link (issue 32), with no login: its token (only its SHA-256 is stored)
// opens that one dashboard and its widgets' data — nothing else of the tenant — until the link expires or
// is revoked, and each address may ask so many times per window (a wall screen refreshes; a guesser waits).
import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Database, TenantTx } from '../db/database.js';
import { AppError } from '../errors.js';
import type { App } from '../http/server.js';
import { sha256Hex } from '../lib/credentials.js';
import type { SlidingWindowLimiter } from '../lib/rate-limit.js';
import { liveShare } from '../model/dashboards.js';
import type { Retention } from '../model/resolution.js';
import { DashboardData } from './customer/dashboard-data.js';
import { Choices, DataRequest, dashboardOr404, dashboardView, dataOf } from './customer/dashboards.js';
import { Obj } from '../lib/schema.js';
import { DashboardDocument } from '../model/dashboard-schema.js';

const tags = ['shared dashboards'];
const TokenParams = Type.Object({ token: Type.String({ minLength: 1, maxLength: 100 }) });

export function registerSharedDashboardRoutes(
  app: App,
  deps: { db: Pick<Database, 'withService' | 'withTenant'>; limiter: SlidingWindowLimiter; retention: Retention },
): void {
  const { db, limiter, retention } = deps;

  /** Runs `fn` in the link's tenant on its dashboard; 404 for a link unknown, expired or revoked. */
  const withShare = async <T>(
    request: FastifyRequest<{ Params: { token: string } }>,
    fn: (tx: TenantTx, dashboardId: string) => Promise<T>,
  ): Promise<T> => {
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
    return db.withTenant(share.tenant_id, (tx) => fn(tx, share.dashboard_id));
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
    (request) =>
      withShare(request, async (tx, dashboardId) => {
        const { definition, choices } = await dashboardView(tx, dashboardId);
        return { definition, choices };
      }),
  );

  app.post(
    '/api/shared-dashboards/:token/data',
    {
      schema: {
        tags,
        summary: "The shared dashboard's widgets' data (its stored widgets only)",
        params: TokenParams,
        body: Type.Omit(DataRequest, ['widgets']),
        response: { 200: DashboardData },
      },
    },
    (request) =>
      withShare(request, async (tx, dashboardId) => {
        const { definition } = await dashboardOr404(tx, dashboardId);
        return dataOf(tx, definition, request.body, retention);
      }),
  );
}
