// Authentication and role checks for a scope of routes: every request of the scope must carry a valid
// bearer token whose role belongs to the scope's audience; the principal is then on the request.
import type { FastifyRequest } from 'fastify';
import type { App } from '../http/server.js';
import type { Database, TenantTx } from '../db/database.js';
import { AppError } from '../errors.js';
import { bearerToken, requireRole, type Audience, type Principal, type VerifyToken } from './auth.js';
import { isApiKey, type ApiKeyVerifier } from './api-keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; null outside guard()ed scopes. */
    principal: Principal | null;
  }
}

/** Declares request.principal once, before any guard(): every request then has the same shape. */
export function decoratePrincipal(app: App): void {
  app.decorateRequest('principal', null);
}

/**
 * `apiKeys`: the scope also takes API keys (/api/v2 and /customer). Elsewhere — /operator above all — a
 * key is refused before anything else is looked at.
 */
export function guard(scope: App, verify: VerifyToken, audience: Audience, apiKeys?: ApiKeyVerifier): void {
  scope.addHook('onRequest', async (request) => {
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new AppError('UNAUTHORIZED', 'Missing authorization');
    let principal: Principal;
    if (isApiKey(token)) {
      if (!apiKeys) {
        throw new AppError('UNAUTHORIZED', 'API keys are accepted on /api/v2 and /customer only; sign in for this');
      }
      principal = await apiKeys.verify(token, request.ip);
    } else {
      principal = await verify(token);
    }
    requireRole(principal, audience);
    request.principal = principal;
  });
}

export function principalOf(request: Pick<FastifyRequest, 'principal'>): Principal {
  if (!request.principal) throw new Error('route is not behind guard()');
  return request.principal;
}

/**
 * All that customer routes get of the database: a transaction in the caller's tenant, under row-level
 * security. They are given this instead of the Database, so nothing that bypasses RLS is in reach.
 */
export type InTenant = <T>(request: FastifyRequest, fn: (tx: TenantTx) => Promise<T>) => Promise<T>;

export const tenantTransactions =
  (db: Pick<Database, 'withTenant'>): InTenant =>
  (request, fn) =>
    db.withTenant(tenantOf(request), fn);

/** preHandler of routes a signed-in person must call: an API key cannot manage API keys. */
export const signedInOnly = async (request: FastifyRequest) => {
  if (principalOf(request).apiKey) {
    throw new AppError('FORBIDDEN', 'API keys cannot manage API keys; sign in as a customer admin');
  }
};

/** preHandler of routes that change a tenant's data. */
export const customerAdminOnly = async (request: FastifyRequest) => requireRole(principalOf(request), 'customer_admin');

/** The caller's tenant; only for routes guarded for customer roles (whose tokens always name one). */
export function tenantOf(request: Pick<FastifyRequest, 'principal'>): string {
  const { tenantId } = principalOf(request);
  if (!tenantId) throw new AppError('FORBIDDEN', 'Customer access required');
  return tenantId;
}
