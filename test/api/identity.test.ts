// The built-in OpenID Connect issuer as the web app uses it, on PostgreSQL: authorization code + PKCE
// through the login page, tokens the API accepts, refresh, logout — driven with fetch and a cookie jar.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsers } from '../../src/identity/users.js';
import { bearer, TEST_PASSWORD, tokenFor } from '../helpers/identity.js';
import { authorizeUrl as authorizeAt, Browser, form, login as loginAt } from '../helpers/oidc-browser.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

describe('built-in OIDC issuer', () => {
  let pulse: TestPlatform;
  let redirectUri: string;
  beforeAll(async () => {
    pulse = await startTestPlatform('postgres', { LOGIN_FAILURE_LIMIT: '3' }, ['api']);
    redirectUri = `${pulse.base}/app/callback`;
    for (const username of ['carol', 'dave', 'erin', 'grace'])
      await tokenFor(pulse, { username, role: 'customer_admin', tenantId: 'tenant-c' });
  }, 60_000);
  afterAll(() => pulse?.close());

  const authorizeUrl = (challenge?: string) => authorizeAt(pulse.base, challenge);
  const login = (browser: Browser, password = TEST_PASSWORD, username = 'carol') =>
    loginAt(pulse.base, browser, username, password);

  it('discovers PKCE S256 only and a JWKS with the signing key', async () => {
    const discovery = (await pulse.call('/oidc/.well-known/openid-configuration', { admin: false })).body;
    expect(discovery.issuer).toBe(`http://localhost:${pulse.httpPort}/oidc`);
    expect(discovery.code_challenge_methods_supported).toEqual(['S256']);
    const jwks = (await pulse.call('/oidc/jwks', { admin: false })).body;
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect((await pulse.call('/api/auth/config', { admin: false })).body).toMatchObject({
      authority: discovery.issuer,
      client_id: 'pulse-ui',
      built_in_issuer: true,
    });
  });

  it('refuses an authorization request without PKCE', async () => {
    const response = await new Browser().fetch(authorizeUrl());
    const location = response.headers.get('location') ?? '';
    expect(location).toContain('error=invalid_request');
    expect(decodeURIComponent(location)).toMatch(/PKCE/);
  });

  it('shows the login page again on a wrong password', async () => {
    const { submitted } = await login(new Browser(), 'wrong-password');
    expect(submitted.response.status).toBe(401);
    expect(await submitted.response.text()).toContain('Wrong username or password.');
  });

  it('locks an account out after LOGIN_FAILURE_LIMIT wrong passwords, with Retry-After, and no other', async () => {
    for (let i = 0; i < 3; i += 1)
      expect((await login(new Browser(), 'wrong-password', 'dave')).submitted.response.status).toBe(401);
    const locked = (await login(new Browser(), TEST_PASSWORD, 'dave')).submitted.response;
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await locked.text()).toContain('Too many failed sign-ins');
    // Another account signs in; a right password never counts against one.
    expect((await login(new Browser())).submitted.url).toContain('/app/callback');
    expect((await login(new Browser())).submitted.url).toContain('/app/callback');
  });

  it('counts parallel guesses before checking them: of ten at once, only the limit get an answer', async () => {
    const statuses = await Promise.all(
      Array.from(
        { length: 10 },
        async () => (await login(new Browser(), 'wrong-password', 'erin')).submitted.response.status,
      ),
    );
    expect(statuses.filter((status) => status === 401)).toHaveLength(3);
    expect(statuses.filter((status) => status === 429)).toHaveLength(7);
  });

  it("refuses a deleted user's access token within seconds, not at its expiry", async () => {
    const token = await tokenFor(pulse, { username: 'frank', role: 'customer_admin', tenantId: 'tenant-c' });
    const devices = () => pulse.call('/api/v2/devices', { admin: false, headers: bearer(token) });
    expect((await devices()).status).toBe(200);
    await createUsers(pulse.db).delete('frank');
    await expect
      .poll(async () => (await devices()).body, { timeout: 10_000, interval: 500 })
      .toEqual({
        detail: 'This user no longer exists or is disabled',
      });
  });

  it('logs in with code + PKCE, gives tokens the API accepts, refreshes them and logs out', async () => {
    const browser = new Browser();
    const { submitted } = await login(browser);
    const callback = new URL(submitted.url);
    expect(callback.origin + callback.pathname).toBe(redirectUri);
    expect(callback.searchParams.get('state')).toBe('state-1');
    const code = callback.searchParams.get('code')!;

    const exchange = async (fields: Record<string, string>) => {
      const response = await fetch(`${pulse.base}/oidc/token`, form({ client_id: 'pulse-ui', ...fields }));
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    };
    const stolen = await exchange({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: 'x'.repeat(43),
    });
    expect(stolen.body.error).toBe('invalid_grant');

    // Log in afresh elsewhere for a code that was never offered with a wrong verifier.
    const browser2 = new Browser();
    const again = await login(browser2);
    const freshCode = new URL(again.submitted.url).searchParams.get('code')!;
    const tokens = await exchange({
      grant_type: 'authorization_code',
      code: freshCode,
      redirect_uri: redirectUri,
      code_verifier: again.verifier,
    });
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    expect(tokens.body.refresh_token).toBeTruthy();
    const [, payload] = tokens.body.access_token.split('.');
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toMatchObject({
      aud: 'pulse-ui',
      tenant_id: 'tenant-c',
      role: 'customer_admin',
      iss: `http://localhost:${pulse.httpPort}/oidc`,
    });
    const api = await pulse.call('/api/v2/devices', { admin: false, headers: bearer(tokens.body.access_token) });
    expect(api).toMatchObject({ status: 200, body: { tenant_id: 'tenant-c' } });
    // Signed in: the next authorization request in that browser goes straight back with a code.
    const sso = await browser2.follow(
      authorizeUrl(createHash('sha256').update('v'.repeat(43)).digest('base64url')),
      pulse.base,
    );
    expect(new URL(sso.url).searchParams.get('code')).toBeTruthy();

    const refreshed = await exchange({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(
      (await pulse.call('/api/v2/alerts', { admin: false, headers: bearer(refreshed.body.access_token) })).status,
    ).toBe(200);

    const logout = await browser2.fetch(
      `${pulse.base}/oidc/session/end?${new URLSearchParams({
        id_token_hint: refreshed.body.id_token ?? tokens.body.id_token,
        post_logout_redirect_uri: `${pulse.base}/app/`,
      })}`,
    );
    const page = await logout.text();
    expect(page).toContain('op.logoutForm');
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page)![1]!;
    const confirmed = await browser2.fetch(`${pulse.base}/oidc/session/end/confirm`, form({ xsrf, logout: 'yes' }));
    expect(confirmed.status).toBe(303);
    expect(confirmed.headers.get('location')).toBe(`${pulse.base}/app/`);
    const afterLogout = await browser2.follow(
      authorizeUrl(createHash('sha256').update('v'.repeat(43)).digest('base64url')),
      pulse.base,
    );
    expect(afterLogout.url).toMatch(/\/identity\/login\//);

    // A deleted user's refresh token stops working.
    await createUsers(pulse.db).delete('carol');
    const afterDelete = await exchange({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token });
    expect(afterDelete.body.error).toBe('invalid_grant');
  });

  it('rotates refresh tokens: each is good for one refresh, and a replayed one ends the grant', async () => {
    const { verifier, submitted } = await login(new Browser(), TEST_PASSWORD, 'grace');
    const exchange = async (fields: Record<string, string>) =>
      (await fetch(`${pulse.base}/oidc/token`, form({ client_id: 'pulse-ui', ...fields }))).json() as Promise<
        Record<string, any>
      >;
    const first = await exchange({
      grant_type: 'authorization_code',
      code: new URL(submitted.url).searchParams.get('code')!,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    });
    const second = await exchange({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    // Someone replays the first (stolen) one: refused, and the rotated one dies with the grant.
    expect((await exchange({ grant_type: 'refresh_token', refresh_token: first.refresh_token })).error).toBe(
      'invalid_grant',
    );
    expect((await exchange({ grant_type: 'refresh_token', refresh_token: second.refresh_token })).error).toBe(
      'invalid_grant',
    );
  });

  it('serves its pages and the web app with a CSP without inline script, no framing by others, nosniff', async () => {
    const browser = new Browser();
    const start = await browser.follow(authorizeUrl('c'.repeat(43)), pulse.base);
    const pages = [start.response, await fetch(`${pulse.base}/app/`), await fetch(`${pulse.base}/oidc/jwks`)];
    for (const response of pages) {
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self';");
      expect(csp).toContain("frame-ancestors 'self'");
      expect(csp).toContain("object-src 'none'");
      expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('same-origin');
    }
    expect(await start.response.text()).not.toMatch(/<script(?![^>]*\ssrc=)/);
    const logoutScript = await fetch(`${pulse.base}/identity/logout.js`);
    expect(logoutScript.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await logoutScript.text()).toContain("i.name='logout'");
  });
});
