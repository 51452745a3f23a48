// Users and tokens of the built-in issuer for tests: the same signing path `pulse token` uses.
import { SignJWT, importJWK } from 'jose';
import { loadIssuerState, signAccessToken } from '../../src/identity/issuer-state.js';
import { createUsers } from '../../src/identity/users.js';
import type { Database } from '../../src/db/database.js';
import type { SecretBox } from '../../src/lib/secrets.js';
import type { Role } from '../../src/model/users.js';
import type { TestPlatform } from './platform.js';

export const TEST_PASSWORD = 'test-password-1';

/** What signing needs: the database and the key its issuer keys are sealed with (a Platform has both). */
export interface Issuing {
  db: Database;
  deps: { secrets: SecretBox };
}

/** Creates the user (if new) and returns an access token for it. */
export async function tokenFor(
  platform: Issuing,
  user: { username: string; role: Role; tenantId?: string },
  ttlSeconds = 600,
): Promise<string> {
  const users = createUsers(platform.db);
  await users.ensure({ ...user, password: TEST_PASSWORD });
  const found = (await users.findByUsername(user.username))!;
  const state = (await loadIssuerState(platform.db, platform.deps.secrets))!;
  return signAccessToken(state, found, {
    issuer: state.issuer!,
    audience: 'pulse-ui',
    clientId: 'pulse-ui',
    ttlSeconds,
  });
}

/**
 * A token signed with the issuer's key but with claims of the test's choosing. Its subject is a real
 * user ('custom-user'): the API refuses tokens of users that do not exist.
 */
export async function customToken(platform: Issuing, claims: Record<string, unknown>, expiresAt?: number) {
  const state = (await loadIssuerState(platform.db, platform.deps.secrets))!;
  const users = createUsers(platform.db);
  await users.ensure({ username: 'custom-user', role: 'operator', password: TEST_PASSWORD });
  const subject = (await users.findByUsername('custom-user'))!.user_id;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: state.signingKey.kid })
    .setIssuer(state.issuer!)
    .setAudience('pulse-ui')
    .setSubject(subject)
    .setExpirationTime(expiresAt ?? Math.floor(Date.now() / 1000) + 600)
    .sign(await importJWK(state.signingKey, 'RS256'));
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * Calls the API as one of `tokens`' users — `call('adminA', '/customer/silences', 'POST', body)`. The
 * platform is looked up at each call: tests start it in beforeAll.
 */
export const callerFor =
  (platform: () => Pick<TestPlatform, 'call'>, tokens: Record<string, string>) =>
  (who: string, path: string, method = 'GET', json?: unknown) =>
    platform().call(path, { admin: false, method, headers: bearer(tokens[who]!), ...(json !== undefined && { json }) });
