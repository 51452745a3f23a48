// The built-in issuer's key material, created once and kept in the database so every instance — and
// `pulse token` — signs and verifies with the same key, and a restart does not log anybody out.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import type { Database } from '../db/database.js';
import type { User } from './users.js';

export interface IssuerState {
  /** Private RS256 key as a JWK with `kid`, `alg` and `use`. */
  signingKey: JWK & { kid: string };
  cookieKeys: string[];
  /** The issuer URL last served (what `pulse token` puts in `iss`). */
  issuer: string | null;
}

export function publicJwk(key: IssuerState['signingKey']): JWK {
  const { kid, kty, n, e, alg, use } = key;
  return { kid, kty, n, e, alg, use } as JWK;
}

export async function loadIssuerState(db: Database): Promise<IssuerState | undefined> {
  return db.withService(async (tx) => {
    const { rows } = await tx.query<{
      signing_key: IssuerState['signingKey'];
      cookie_keys: string[];
      issuer: string | null;
    }>(`SELECT signing_key, cookie_keys, issuer FROM oidc_issuer_state`);
    const row = rows[0];
    return row && { signingKey: row.signing_key, cookieKeys: row.cookie_keys, issuer: row.issuer };
  });
}

/** Loads the key material, creating it on first use (concurrent first starts agree on one row). */
export async function ensureIssuerState(db: Database, issuer: string): Promise<IssuerState> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const candidate = {
    ...(await exportJWK(privateKey)),
    kid: randomBytes(8).toString('hex'),
    alg: 'RS256',
    use: 'sig',
  };
  return db.withService(async (tx) => {
    await tx.query(
      `INSERT INTO oidc_issuer_state (signing_key, cookie_keys, issuer) VALUES ($1, $2, $3)
       ON CONFLICT (singleton) DO UPDATE SET issuer = EXCLUDED.issuer`,
      [JSON.stringify(candidate), [randomBytes(32).toString('base64url')], issuer],
    );
    const { rows } = await tx.query<{ signing_key: IssuerState['signingKey']; cookie_keys: string[] }>(
      `SELECT signing_key, cookie_keys FROM oidc_issuer_state`,
    );
    return { signingKey: rows[0]!.signing_key, cookieKeys: rows[0]!.cookie_keys, issuer };
  });
}

export interface AccessTokenOptions {
  issuer: string;
  audience: string;
  clientId: string;
  ttlSeconds: number;
}

/** An access token with the same claims the built-in issuer puts in its own (for `pulse token`). */
export async function signAccessToken(state: IssuerState, user: User, options: AccessTokenOptions): Promise<string> {
  const key = await importJWK(state.signingKey, 'RS256');
  return new SignJWT({
    tenant_id: user.tenant_id ?? undefined,
    role: user.role,
    email: user.email ?? undefined,
    preferred_username: user.username,
    client_id: options.clientId,
    scope: 'openid profile email',
  })
    .setProtectedHeader({ alg: 'RS256', kid: state.signingKey.kid, typ: 'at+jwt' })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setSubject(user.user_id)
    .setIssuedAt()
    .setJti(randomBytes(12).toString('base64url'))
    .setExpirationTime(`${options.ttlSeconds}s`)
    .sign(key);
}
