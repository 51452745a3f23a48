// /operator/api-keys: every tenant's API keys (operators, audited) and revoking one (operator_admin), for
// a key that leaked or a customer who cannot reach their admin. Keys themselves never reach /operator.
import { Type } from '@sinclair/typebox';
import type { App } from '../../http/server.js';
import { narrow } from '../../db/database.js';
import { Nullable, Obj } from '../../lib/schema.js';
import { isUuid } from '../../lib/uuid.js';
import { apiKeysOfAnyTenant, revokeApiKey } from '../../model/api-keys.js';
import { ApiKeyView } from '../../model/views.js';
import { displayName } from '../auth.js';
import { principalOf } from '../guard.js';
import { KeyParams, keyNotFound, keyView } from '../customer/api-keys.js';
import type { Audited } from './audit.js';

const tags = ['operator/api-keys'];

export function registerOperatorApiKeyRoutes(app: App, deps: { audited: Audited; onRevoked: () => void }): void {
  const { audited } = deps;
  app.get(
    '/operator/api-keys',
    {
      schema: {
        tags,
        summary: 'API keys of every tenant, or of one (never a secret)',
        querystring: Type.Object({ tenant_id: Type.Optional(Type.String()) }),
        response: { 200: Obj({ tenant_id: Nullable(Type.String()), keys: Type.Array(ApiKeyView) }) },
      },
    },
    (request) => {
      const tenantId = request.query.tenant_id;
      return audited(
        request,
        { action: 'list_api_keys', tenantFilter: tenantId, resourceType: 'api_key' },
        async (tx) => ({
          tenant_id: tenantId ?? null,
          keys: (await apiKeysOfAnyTenant(tx, tenantId)).map((key) => keyView(key)),
        }),
      );
    },
  );
  app.delete(
    '/operator/tenants/:tenant_id/api-keys/:key_id',
    {
      schema: {
        tags,
        summary: "Revoke a tenant's API key now (operator_admin)",
        params: Type.Object({ tenant_id: Type.String(), ...KeyParams.properties }),
        response: { 200: ApiKeyView },
      },
    },
    async (request) => {
      const { tenant_id, key_id } = request.params;
      const by = displayName(principalOf(request));
      const key = await audited(
        request,
        { action: 'revoke_api_key', admin: true, tenantFilter: tenant_id, resourceType: 'api_key', resourceId: key_id },
        async (tx) => {
          const revoked = isUuid(key_id) ? await revokeApiKey(narrow(tx, tenant_id), key_id, by) : undefined;
          if (!revoked) throw keyNotFound();
          return revoked;
        },
      );
      deps.onRevoked();
      return keyView(key);
    },
  );
}
