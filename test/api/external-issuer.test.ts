// OIDC_ISSUER set: tokens of an external issuer (a discovery document and JWKS served on 127.0.0.1) are
// verified against its keys, a new `kid` makes Pulse fetch the keys again, and an unreachable issuer
// answers 503.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JWKS_REFETCH_COOLDOWN_MS } from '../../src/api/auth.js';
import { bearer } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function newKey(kid: string, alg: 'RS256' | 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

describe('an external OIDC issuer', () => {
  let issuerServer: Server;
  let issuer: string;
  let pulse: TestPlatform;
  const published: SigningKey[] = [];
  let jwksFetches = 0;
  let lastJwksFetch = 0;

  const sign = (key: SigningKey, alg: 'RS256' | 'ES256', claims: Record<string, unknown>, audience = 'pulse-ui') =>
    new SignJWT(claims)
      .setProtectedHeader({ alg, kid: key.kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('ext-user')
      .setExpirationTime('5m')
      .sign(key.privateKey);

  beforeAll(async () => {
    published.push(await newKey('k1', 'RS256'));
    issuerServer = createServer((request, response) => {
      response.setHeader('content-type', 'application/json');
      if (request.url === '/realms/acme/.well-known/openid-configuration') {
        response.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/certs` }));
      } else if (request.url === '/realms/acme/certs') {
        jwksFetches += 1;
        lastJwksFetch = Date.now();
        response.end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
      } else {
        response.statusCode = 404;
        response.end('{}');
      }
    });
    await new Promise<void>((resolve) => issuerServer.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}/realms/acme`;
    pulse = await startTestPlatform('pglite', { OIDC_ISSUER: issuer }, ['api']);
  }, 60_000);
  afterAll(async () => {
    await pulse?.close();
    issuerServer?.close();
  });

  it('accepts its tokens, rejects a wrong audience, and refetches the keys for a new kid', async () => {
    const token = await sign(published[0]!, 'RS256', { role: 'customer_viewer', tenant_id: 'acme' });
    const ok = await pulse.call('/api/v2/devices', { admin: false, headers: bearer(token) });
    expect(ok).toMatchObject({ status: 200, body: { tenant_id: 'acme' } });
    expect((await pulse.call('/api/auth/config', { admin: false })).body).toMatchObject({
      authority: issuer,
      built_in_issuer: false,
    });

    const otherAudience = await sign(
      published[0]!,
      'RS256',
      { role: 'customer_viewer', tenant_id: 'acme' },
      'someone-else',
    );
    expect((await pulse.call('/api/v2/devices', { admin: false, headers: bearer(otherAudience) })).body).toEqual({
      detail: 'Invalid token claims',
    });

    // The issuer rotates to an ES256 key: the first token naming it once the refetch cooldown since the last
    // fetch is over triggers one refetch.
    await waitFor(() => Date.now() > lastJwksFetch + JWKS_REFETCH_COOLDOWN_MS + 100, JWKS_REFETCH_COOLDOWN_MS + 1000);
    const before = jwksFetches;
    published.push(await newKey('k2', 'ES256'));
    const rotated = await sign(published[1]!, 'ES256', { role: 'customer_admin', tenant_id: 'acme' });
    expect((await pulse.call('/api/v2/alerts', { admin: false, headers: bearer(rotated) })).status).toBe(200);
    expect(jwksFetches).toBe(before + 1);
    // The built-in issuer is not there when an external one is configured.
    expect((await pulse.call('/oidc/.well-known/openid-configuration', { admin: false })).status).toBe(404);
  });

  it('answers 503 when the issuer cannot be reached', async () => {
    const unreachable = await startTestPlatform('pglite', { OIDC_ISSUER: 'http://127.0.0.1:9/realms/none' }, ['api']);
    try {
      const token = await sign(published[0]!, 'RS256', { role: 'customer_viewer', tenant_id: 'acme' });
      const response = await unreachable.call('/api/v2/devices', { admin: false, headers: bearer(token) });
      expect(response).toMatchObject({ status: 503, body: { detail: 'Auth service unavailable' } });
    } finally {
      await unreachable.close();
    }
  });
});
