// The built-in issuer's key material, created once and kept in the database so every instance — and
// `pulse token` — signs and verifies with the same key, and a restart does not log anybody out.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import type { Database } from '../db/database.js';
import { issuerStateRow, saveIssuerState, type IssuerStateRow } from '../model/oidc.js';
import type { User } from '../model/users.js';

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
  const row = await db.withService(issuerStateRow);
  return row && fromRow(row);
}

/** Loads the key material, creating it on first use (concurrent first starts agree on one row). */
export async function ensureIssuerState(db: Database, issuer: string): Promise<IssuerState> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const signingKey = {
    ...(await exportJWK(privateKey)),
    kid: randomBytes(8).toString('hex'),
    alg: 'RS256',
    use: 'sig',
  };
  const cookieKey = randomBytes(32).toString('base64url');
  const row = await db.withService((tx) => saveIssuerState(tx, { signingKey, cookieKey }, issuer));
  return fromRow(row);
}

const fromRow = (row: IssuerStateRow): IssuerState => ({
  signingKey: row.signing_key,
  cookieKeys: row.cookie_keys,
  issuer: row.issuer,
});

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
