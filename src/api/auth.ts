// Who is calling: verifies the bearer JWT (RS256/ES256) against the issuer's keys — the built-in issuer's
// key, or an external issuer's JWKS fetched from its discovery document, cached and refetched when a
// token names an unknown `kid` — and turns it into a Principal. Messages and statuses:
// docs/wire-contract.md#tokens-and-roles.
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { AppError } from '../errors.js';
import {
  CUSTOMER_ROLES,
  isRole,
  OPERATOR_ROLES,
  ROLES,
  tokensRevoked,
  type Role,
  type TokenUser,
} from '../model/users.js';

export interface Principal {
  sub: string;
  role: Role;
  /** Set for customer roles (checked at verification); operators have none. */
  tenantId: string | undefined;
  email: string | undefined;
  /** preferred_username, when the issuer sends it. */
  username: string | undefined;
  /** Expiry, seconds since the epoch. */
  exp: number;
  /** When the token was issued (`iat`), seconds since the epoch, if it says. */
  issuedAt: number | undefined;
  /** The OAuth client the token was issued to (`client_id`, RFC 9068, else `azp`), if it says. */
  clientId: string | undefined;
  /** Set when the caller used an API key (api-keys.ts) rather than a signed-in user's token. */
  apiKey?: { id: string; name: string };
}

export type VerifyToken = (token: string) => Promise<Principal>;

export interface KeySource {
  issuer: string;
  keys: JWTVerifyGetKey;
}

const ALGORITHMS = ['RS256', 'ES256'];
export const JWKS_REFETCH_COOLDOWN_MS = 2000;

/** Keys of an external issuer: JWKS from its discovery document (looked up once, retried on failure). */
export function remoteKeySource(issuer: string): () => Promise<KeySource> {
  let source: Promise<KeySource> | undefined;
  const discover = async (): Promise<KeySource> => {
    const response = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(5000),
    });
    if (!response.ok) throw new Error(`discovery answered ${response.status}`);
    const { jwks_uri: jwksUri, issuer: advertised } = (await response.json()) as { jwks_uri?: string; issuer?: string };
    if (!jwksUri) throw new Error('discovery document has no jwks_uri');
    return {
      issuer: advertised ?? issuer,
      // A token naming an unknown kid refetches the keys (an issuer rotated them), at most every
      // JWKS_REFETCH_COOLDOWN_MS so forged kids cannot hammer the issuer.
      keys: createRemoteJWKSet(new URL(jwksUri), {
        cacheMaxAge: 10 * 60_000,
        cooldownDuration: JWKS_REFETCH_COOLDOWN_MS,
      }),
    };
  };
  return () => {
    source ??= discover().catch((error: unknown) => {
      source = undefined;
      throw error;
    });
    return source;
  };
}

export const localKeySource = (issuer: string, keys: JWK[]): KeySource => ({
  issuer,
  keys: createLocalJWKSet({ keys }),
});

export function createTokenVerifier(options: { keySource: () => Promise<KeySource>; audience: string }): VerifyToken {
  return async (token) => {
    let source: KeySource;
    try {
      source = await options.keySource();
    } catch {
      throw new AppError('UNAVAILABLE', 'Auth service unavailable');
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, source.keys, {
        issuer: source.issuer,
        audience: options.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      throw verificationError(error);
    }
    if (!isRole(payload.role)) {
      throw new AppError(
        'FORBIDDEN',
        `Token has no Pulse role; the role claim must be one of customer_viewer, customer_admin, operator, operator_admin`,
      );
    }
    const tenantId = typeof payload.tenant_id === 'string' && payload.tenant_id ? payload.tenant_id : undefined;
    if (CUSTOMER_ROLES.includes(payload.role) && !tenantId) {
      throw new AppError(
        'FORBIDDEN',
        'Token has no tenant_id claim; a customer role needs one (map tenant_id into the access token)',
      );
    }
    return {
      sub: payload.sub!,
      role: payload.role,
      tenantId: CUSTOMER_ROLES.includes(payload.role) ? tenantId : undefined,
      email: typeof payload.email === 'string' ? payload.email : undefined,
      username: typeof payload.preferred_username === 'string' ? payload.preferred_username : undefined,
      exp: payload.exp!,
      issuedAt: payload.iat,
      clientId: stringClaim(payload.client_id) ?? stringClaim(payload.azp),
    };
  };
}

const stringClaim = (value: unknown) => (typeof value === 'string' && value ? value : undefined);

/** Throws the AppError a principal's token is refused with now, though it verified; resolves otherwise. */
export type CheckPrincipal = (principal: Principal) => Promise<void>;

/** How stale the API's view of a built-in issuer's user may be (changed through another api process). */
export const USER_RECHECK_MS = 5000;

/**
 * Tokens of the built-in issuer stop working with their user: deleting or disabling it, or changing its
 * password or role, has its tokens refused within `recheckMs` instead of living out their lifetime. Users
 * are read from the database, so every api process sees a change made through any other; each remembers a
 * user for `recheckMs` only, so the check costs a query per user every few seconds, not one per request.
 * A change made through this process calls `forget()` after its commit and is seen at the next request.
 */
export function builtInUserCheck(
  findUser: (sub: string) => Promise<TokenUser | undefined>,
  recheckMs = USER_RECHECK_MS,
): CheckPrincipal & { forget(): void } {
  const looked = new Map<string, { user: TokenUser | undefined; at: number }>();
  const check: CheckPrincipal = async (principal) => {
    const now = Date.now();
    let known = looked.get(principal.sub);
    if (!known || now - known.at > recheckMs) {
      if (looked.size >= 10_000) looked.clear(); // bounded: at worst, everyone is asked again
      known = { user: await findUser(principal.sub), at: now };
      looked.set(principal.sub, known);
    }
    const { user } = known;
    if (!user || user.disabled) throw new AppError('UNAUTHORIZED', 'This user no longer exists or is disabled');
    if (tokensRevoked(user, principal.issuedAt)) {
      throw new AppError(
        'UNAUTHORIZED',
        'This token was issued before its user was disabled or its password or role changed; sign in again',
      );
    }
  };
  // Every user, not the one changed: changes are rare, and the next request of each reads it again.
  return Object.assign(check, { forget: () => looked.clear() });
}

/** A verifier that also refuses what `check` refuses. */
export const checkingPrincipals =
  (verify: VerifyToken, check: CheckPrincipal): VerifyToken =>
  async (token) => {
    const principal = await verify(token);
    await check(principal);
    return principal;
  };

function verificationError(error: unknown): AppError {
  if (error instanceof errors.JWTExpired) return new AppError('UNAUTHORIZED', 'Token expired');
  if (error instanceof errors.JWTClaimValidationFailed) return new AppError('UNAUTHORIZED', 'Invalid token claims');
  if (error instanceof errors.JWKSNoMatchingKey) return new AppError('UNAUTHORIZED', 'Unknown signing key');
  if (
    error instanceof errors.JWKSTimeout ||
    (error instanceof Error && /fetch|ECONNREFUSED|network/i.test(error.message))
  ) {
    return new AppError('UNAVAILABLE', 'Auth service unavailable');
  }
  return new AppError('UNAUTHORIZED', 'Invalid token');
}

/** The token of an `Authorization: Bearer <jwt>` header, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  return header?.startsWith('Bearer ') ? header.slice(7).trim() || undefined : undefined;
}

export type Audience = 'anyone' | 'customer' | 'customer_admin' | 'operator' | 'operator_admin';

const ALLOWED: Record<Audience, { roles: readonly Role[]; message: string }> = {
  anyone: { roles: ROLES, message: 'A Pulse role is required' },
  customer: { roles: CUSTOMER_ROLES, message: 'Customer access required' },
  customer_admin: { roles: ['customer_admin'], message: 'Customer admin role required' },
  operator: { roles: OPERATOR_ROLES, message: 'Operator access required' },
  operator_admin: { roles: ['operator_admin'], message: 'Operator admin access required' },
};

/** Throws the 403 of docs/wire-contract.md#tokens-and-roles when the principal's role is not for this audience. */
export function requireRole(principal: Principal, audience: Audience): void {
  const rule = ALLOWED[audience];
  if (!rule.roles.includes(principal.role)) throw new AppError('FORBIDDEN', rule.message);
}

/** How a person is named on what they did (an acknowledgement): email, else username, else subject. */
export const displayName = (principal: Principal) => principal.email ?? principal.username ?? principal.sub;

export const isOperator = (principal: Principal) => OPERATOR_ROLES.includes(principal.role);
