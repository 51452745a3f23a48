// /customer/api-keys: a customer admin's keys for machine clients (ADR 031) — created with a role, an
// optional expiry and allowed networks, the secret answered once; listed with their last use; revoked at
// once (refused by every API process within USER_RECHECK_MS). Managed by signed-in admins only: a key
// cannot mint or revoke keys.
import { Type } from '@sinclair/typebox';
import { AppError } from '../../errors.js';
import type { App } from '../../http/server.js';
import { parseNetworks } from '../../lib/networks.js';
import { Obj } from '../../lib/schema.js';
import { isUuid } from '../../lib/uuid.js';
import { countLiveApiKeys, insertApiKey, listApiKeys, revokeApiKey, type ApiKey } from '../../model/api-keys.js';
import { ApiKeyView } from '../../model/views.js';
import { noteAudit } from '../audit-note.js';
import { displayName } from '../auth.js';
import { newApiKeySecret } from '../api-keys.js';
import { customerAdminOnly, principalOf, signedInOnly, type InTenant } from '../guard.js';
import { parseInstant } from '../time-window.js';

const tags = ['customer/api-keys'];
/** Keys one tenant may hold unrevoked: one per machine client is plenty; more is a leak waiting to happen. */
export const MAX_LIVE_KEYS = 100;
export const KeyParams = Type.Object({ key_id: Type.String() });

/** A key as the API shows it. */
export const keyView = (key: ApiKey, now = new Date()) => ({
  ...key,
  status: key.revoked_at
    ? ('revoked' as const)
    : key.expires_at && key.expires_at <= now
      ? ('expired' as const)
      : ('active' as const),
});

export const keyNotFound = () => new AppError('NOT_FOUND', 'API key not found');

export function registerApiKeyRoutes(app: App, deps: { inTenant: InTenant; onRevoked: () => void }): void {
  const preHandler = [customerAdminOnly, signedInOnly];
  app.get(
    '/customer/api-keys',
    {
      preHandler,
      schema: {
        tags,
        summary: "The tenant's API keys with their last use, live ones first (customer_admin)",
        response: { 200: Obj({ tenant_id: Type.String(), keys: Type.Array(ApiKeyView) }) },
      },
    },
    (request) =>
      deps.inTenant(request, async (tx) => ({
        tenant_id: tx.tenantId,
        keys: (await listApiKeys(tx)).map((key) => keyView(key)),
      })),
  );
  app.post(
    '/customer/api-keys',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Create an API key; its secret is answered this once (customer_admin)',
        description: 'Use it as `Authorization: Bearer <secret>` on /api/v2 and /customer.',
        body: Type.Object({
          name: Type.String({ minLength: 1, maxLength: 100 }),
          role: Type.Union([Type.Literal('customer_viewer'), Type.Literal('customer_admin')], {
            description: 'what the key may do: read (customer_viewer) or also change (customer_admin)',
          }),
          expires_at: Type.Optional(Type.String({ description: 'when it stops working (ISO-8601); absent: never' })),
          allowed_cidrs: Type.Optional(
            Type.Array(Type.String({ maxLength: 64 }), {
              maxItems: 50,
              description: 'networks it may be used from (CIDRs or addresses); absent or empty: anywhere',
            }),
          ),
        }),
        response: { 201: Obj({ ...ApiKeyView.properties, secret: Type.String({ description: 'shown once' }) }) },
      },
    },
    async (request, reply) => {
      const { name, role, expires_at, allowed_cidrs = [] } = request.body;
      const expiresAt = expires_at === undefined ? null : parseInstant('expires_at', expires_at);
      if (expiresAt && expiresAt.getTime() <= Date.now()) {
        throw new AppError('INVALID_REQUEST', 'expires_at must be in the future');
      }
      const parsed = parseNetworks(allowed_cidrs);
      if ('problem' in parsed) throw new AppError('INVALID_REQUEST', `Invalid allowed_cidrs: ${parsed.problem}`);
      const { secret, prefix, sha256 } = newApiKeySecret();
      const key = await deps.inTenant(request, async (tx) => {
        const held = await countLiveApiKeys(tx);
        if (held >= MAX_LIVE_KEYS)
          throw new AppError(
            'LIMIT_REACHED',
            `Limit reached: ${held} API keys not revoked, at most ${MAX_LIVE_KEYS}; revoke one you no longer use`,
          );
        return insertApiKey(tx, {
          name: name.trim(),
          role,
          prefix,
          secretSha256: sha256,
          allowedCidrs: parsed.networks,
          expiresAt,
          createdBy: displayName(principalOf(request)),
        });
      });
      if (!key)
        throw new AppError('CONFLICT', `An API key named "${name.trim()}" exists; revoke it or pick another name`);
      noteAudit(request, { resourceId: key.key_id, summary: `created API key ${key.name} (${key.role})` });
      return reply.status(201).send({ ...keyView(key), secret });
    },
  );
  app.delete(
    '/customer/api-keys/:key_id',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Revoke an API key now (customer_admin); it is kept, revoked, in the list',
        params: KeyParams,
        response: { 200: ApiKeyView },
      },
    },
    async (request) => {
      const { key_id } = request.params;
      const principal = principalOf(request);
      const key = isUuid(key_id)
        ? await deps.inTenant(request, (tx) => revokeApiKey(tx, key_id, displayName(principal)))
        : undefined;
      if (!key) throw keyNotFound();
      deps.onRevoked();
      noteAudit(request, { resourceId: key.key_id, summary: `revoked API key ${key.name}` });
      return keyView(key);
    },
  );
}
