// The built-in issuer's key material, created once and kept in the database so every instance — and
// `pulse token` — signs and verifies with the same key, and a restart does not log anybody out. It is
// sealed with SECRETS_KEY: whoever reads the database files cannot sign a token with it.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import type { Database } from '../db/database.js';
import type { SecretBox } from '../lib/secrets.js';
import { issuerStateRow, saveIssuerState, sealIssuerKeys, setIssuerUrl, type IssuerStateRow } from '../model/oidc.js';
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

type Keys = Pick<IssuerState, 'signingKey' | 'cookieKeys'>;

/** Loads the key material; a row from before the keys were sealed is sealed now. */
export async function loadIssuerState(db: Database, secrets: SecretBox): Promise<IssuerState | undefined> {
  const row = await db.withService(issuerStateRow);
  if (row && row.sealed_keys === null) {
    await db.withService((tx) =>
      sealIssuerKeys(tx, secrets.seal({ signingKey: row.signing_key, cookieKeys: row.cookie_keys })),
    );
    return loadIssuerState(db, secrets);
  }
  return row && fromRow(row, secrets);
}

/** Loads the key material, creating it on first use (concurrent first starts agree on one row). */
export async function ensureIssuerState(db: Database, secrets: SecretBox, issuer: string): Promise<IssuerState> {
  const existing = await loadIssuerState(db, secrets);
  if (existing) {
    await db.withService((tx) => setIssuerUrl(tx, issuer));
    return { ...existing, issuer };
  }
  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const signingKey = {
    ...(await exportJWK(privateKey)),
    kid: randomBytes(8).toString('hex'),
    alg: 'RS256',
    use: 'sig',
  };
  const keys: Keys = { signingKey, cookieKeys: [randomBytes(32).toString('base64url')] };
  return fromRow(await db.withService((tx) => saveIssuerState(tx, secrets.seal(keys), issuer)), secrets);
}

function fromRow(row: IssuerStateRow, secrets: SecretBox): IssuerState {
  let keys: Keys | undefined;
  try {
    if (row.sealed_keys) keys = secrets.open(row.sealed_keys) as unknown as Keys;
  } catch {
    throw new Error(
      "the built-in issuer's keys were sealed with another SECRETS_KEY: start with the key they were sealed with",
    );
  }
  if (!keys?.signingKey) throw new Error("the built-in issuer's keys are missing from the database");
  return { ...keys, issuer: row.issuer };
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
  return (
    new SignJWT({
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
      // To the millisecond: a script's `pulse user passwd` then `pulse token` must not look issued before the change.
      .setIssuedAt(Date.now() / 1000)
      .setJti(randomBytes(12).toString('base64url'))
      .setExpirationTime(`${options.ttlSeconds}s`)
      .sign(key)
  );
}
