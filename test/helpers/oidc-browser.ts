// The built-in issuer as the web app drives it: a cookie jar over fetch, the authorization code flow with
// PKCE through the login page, and the token endpoint.
import { createHash, randomBytes } from 'node:crypto';
import { TEST_PASSWORD } from './identity.js';

export class Browser {
  private readonly cookies = new Map<string, string>();

  /** `headers` go with every request (an X-Forwarded-For, say). */
  constructor(private readonly headers: Record<string, string> = {}) {}

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: {
        ...this.headers,
        ...(init.headers as Record<string, string>),
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, value] = pair!.split('=');
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name!);
      else this.cookies.set(name!, value!);
    }
    return response;
  }

  /** Follows redirects while they stay on `origin`; returns the first response that is not one, or leaves. */
  async follow(url: string, origin: string, init?: RequestInit): Promise<{ response: Response; url: string }> {
    let response = await this.fetch(url, init);
    let current = url;
    while (response.status >= 300 && response.status < 400) {
      current = new URL(response.headers.get('location')!, current).href;
      if (!current.startsWith(origin) || current.startsWith(`${origin}/app/`)) break;
      response = await this.fetch(current);
    }
    return { response, url: current };
  }
}

export const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

export const redirectUriOf = (base: string) => `${base}/app/callback`;

export function authorizeUrl(base: string, challenge?: string): string {
  const params = new URLSearchParams({
    client_id: 'pulse-ui',
    response_type: 'code',
    redirect_uri: redirectUriOf(base),
    scope: 'openid profile email offline_access',
    state: 'state-1',
    nonce: 'nonce-1',
    ...(challenge && { code_challenge: challenge, code_challenge_method: 'S256' }),
  });
  return `${base}/oidc/auth?${params}`;
}

/** Signs in through the login page; `submitted` is where the form post led (the callback, or a page). */
export async function login(base: string, browser: Browser, username: string, password = TEST_PASSWORD) {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const start = await browser.follow(authorizeUrl(base, challenge), base);
  if (!/\/identity\/login\/[\w-]+$/.test(start.url)) throw new Error(`no login page: ${start.url}`);
  const page = await start.response.text();
  if (!page.includes('<form method="post"')) throw new Error('the login page has no form');
  const submitted = await browser.follow(start.url, base, form({ username, password }));
  return { verifier, submitted };
}

/** Calls the token endpoint as the web app (a public client). */
export async function tokenRequest(base: string, fields: Record<string, string>) {
  const response = await fetch(`${base}/oidc/token`, form({ client_id: 'pulse-ui', ...fields }));
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** Signs in and exchanges the code: the web app's tokens. */
export async function signIn(base: string, username: string, password = TEST_PASSWORD) {
  const { verifier, submitted } = await login(base, new Browser(), username, password);
  const code = new URL(submitted.url).searchParams.get('code');
  if (!code) throw new Error(`sign-in of ${username} ended at ${submitted.url} (${submitted.response.status})`);
  const tokens = await tokenRequest(base, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUriOf(base),
    code_verifier: verifier,
  });
  if (tokens.status !== 200) throw new Error(`code exchange failed: ${JSON.stringify(tokens.body)}`);
  return tokens.body as { access_token: string; refresh_token: string; id_token: string };
}
