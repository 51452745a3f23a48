// /customer/quarantine: a tenant's admins see what ingest rejected of their own devices — counts per minute
// and reason always, and the payloads where they are stored (MODE=DEV, with their provision tokens
// replaced at ingest; {} under STORE_REJECTS in PROD) — so a device maker can debug firmware without the
// operator. Row-level security keeps it to the caller's tenant: a reject belongs to the tenant its topic
// named.
import type { App } from '../../http/server.js';
import { Type } from '@sinclair/typebox';
import { recentQuarantine } from '../../model/quarantine.js';
import { QuarantineView } from '../../model/views.js';
import { customerAdminOnly, type InTenant } from '../guard.js';

export function registerCustomerQuarantineRoutes(app: App, deps: { inTenant: InTenant }): void {
  app.get(
    '/customer/quarantine',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags: ['customer'],
        summary: "This tenant's rejected messages and reject counts per minute and reason (customer_admin)",
        querystring: Type.Object({
          minutes: Type.Integer({ minimum: 1, maximum: 1440, default: 60 }),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
        }),
        response: { 200: QuarantineView },
      },
    },
    (request) => {
      const { minutes, limit } = request.query;
      return deps.inTenant(request, async (tx) => ({
        minutes,
        limit,
        ...(await recentQuarantine(tx, { minutes, limit })),
      }));
    },
  );
}
