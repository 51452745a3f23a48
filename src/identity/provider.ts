// The built-in OpenID Connect issuer (oidc-provider), mounted at /oidc on the API's own origin, with a
// plain login page at /identity/login/:uid. One public client (the web app) using the authorization code
// flow with PKCE S256; access tokens are RS256 JWTs carrying tenant_id, role and email, so the API
// verifies them exactly as it verifies an external issuer's.
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Configuration, KoaContextWithOIDC, default as Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import type { IssuerState } from './issuer-state.js';
import { oidcStorage } from './oidc-storage.js';
import { FailureLimit } from '../lib/rate-limit.js';
import { LOGOUT_SCRIPT, LOGOUT_SCRIPT_PATH, loginPage, logoutPage, messagePage } from './pages.js';
import type { Users } from './users.js';
import { tokensRevoked, type User } from '../model/users.js';

export const OIDC_MOUNT = '/oidc';
export const LOGIN_PATH = '/identity/login';
/** The resource the web app's access tokens are for (RFC 8707); its audience is JWT_AUDIENCE. */
const API_RESOURCE = 'urn:pulse:api';
const SCOPES = 'openid profile email offline_access';

export interface BuiltInIssuerOptions {
  issuer: string;
  /** Origins the web app may be served from (redirect URIs are <origin>/app/callback). */
  appOrigins: string[];
  clientId: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  state: IssuerState;
  db: Database;
  users: Users;
  log: Logger;
}

function userClaims(user: User) {
  return {
    sub: user.user_id,
    preferred_username: user.username,
    email: user.email ?? undefined,
    tenant_id: user.tenant_id ?? undefined,
    role: user.role,
  };
}

export async function createBuiltInIssuer(options: BuiltInIssuerOptions): Promise<Provider> {
  const { users } = options;
  const { default: OidcProvider, interactionPolicy } = await importOidcProvider();
  const { Check } = interactionPolicy;
  const policy = interactionPolicy.base();
  // A browser session whose user findAccount no longer gives (deleted, disabled, or signed in before the
  // password or role changed) signs in again; without this check oidc-provider fails on the missing account.
  policy
    .get('login')!
    .checks.add(
      new Check('account_unusable', 'End-User must sign in again', (ctx) =>
        ctx.oidc.session?.accountId !== undefined && !ctx.oidc.account ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
      ),
    );
  const configuration: Configuration = {
    adapter: oidcStorage(options.db),
    clients: [
      {
        client_id: options.clientId,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: options.appOrigins.map((origin) => `${origin}/app/callback`),
        post_logout_redirect_uris: options.appOrigins.map((origin) => `${origin}/app/`),
      },
    ],
    pkce: { required: () => true },
    // Browsers may call the token endpoint cross-origin only from where the web app is served.
    clientBasedCORS: (_ctx, origin) => options.appOrigins.includes(origin),
    async findAccount(ctx, sub, token) {
      const user = await users.findForTokens(sub);
      // A disabled user's refresh token no longer gets it new access tokens; nor does one from a sign-in
      // before the password or role changed (rotation keeps authTime), nor such a browser session.
      const signedInAt = token ? ((token as { authTime?: number }).authTime ?? token.iat) : ctx.oidc.session?.loginTs;
      if (!user || user.disabled || tokensRevoked(user, signedInAt)) return undefined;
      return { accountId: sub, claims: () => userClaims(user) };
    },
    claims: { openid: ['sub'], profile: ['preferred_username', 'tenant_id', 'role'], email: ['email'] },
    conformIdTokenClaims: false,
    async extraTokenClaims(_ctx, token) {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      const user = await users.find(token.accountId);
      if (!user) return undefined;
      const { sub: _sub, ...claims } = userClaims(user);
      return claims;
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => void (ctx.body = logoutPage(form)),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api',
          audience: options.audience,
          accessTokenTTL: options.accessTokenTtlSeconds,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    // First-party app: the user is never asked to consent to Pulse using Pulse.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      if (grantId) {
        const existing = await ctx.oidc.provider.Grant.find(grantId);
        if (existing) return existing;
      }
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope(SCOPES);
      grant.addOIDCClaims(['tenant_id', 'role', 'email', 'preferred_username']);
      grant.addResourceScope(API_RESOURCE, 'api');
      await grant.save();
      return grant;
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    interactions: { policy, url: (_ctx, interaction) => `${LOGIN_PATH}/${interaction.uid}` },
    ttl: {
      AccessToken: options.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Grant: options.refreshTokenTtlSeconds,
      Session: options.refreshTokenTtlSeconds,
      RefreshToken: options.refreshTokenTtlSeconds,
    },
    jwks: { keys: [options.state.signingKey] },
    cookies: { keys: options.state.cookieKeys },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = messagePage('Sign-in problem', `${out.error}: ${out.error_description ?? ''}`);
    },
  };
  const provider = new OidcProvider(options.issuer, configuration);
  // Behind a TLS-terminating proxy the issuer is https while the request is http.
  provider.proxy = options.issuer.startsWith('https:');
  provider.on('server_error', (_ctx, error) => options.log.error({ err: error }, 'OIDC issuer error'));
  return provider;
}

/**
 * oidc-provider 9 warns at import that Node 20 is unsupported; the full flow is tested on Node 20 here
 * (docs/adr/010-identity.md), so that one line is kept out of the console. Imported only when the
 * built-in issuer runs, so CLI commands and an external issuer never load it.
 */
async function importOidcProvider(): Promise<typeof import('oidc-provider')> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes('Unsupported runtime')) warn(...args);
  };
  try {
    return await import('oidc-provider');
  } finally {
    console.warn = warn;
  }
}

/**
 * Mounts the issuer on the Fastify app. `provider` resolves once the server listens (the issuer URL
 * contains the port). Requests under /oidc go to oidc-provider untouched: its body parsing is its own.
 */
/**
 * Failed sign-ins allowed per account from one client address in a window; an address may fail five
 * times as often over all accounts. Per pair, not per account: else anyone could keep any account (an
 * operator admin's) locked from everywhere with a wrong password now and then.
 */
export interface LoginLimits {
  failuresPerAccount: number;
  windowSeconds: number;
}

export function mountBuiltInIssuer(
  app: FastifyInstance,
  provider: () => Promise<Provider>,
  users: Users,
  limits: LoginLimits,
): void {
  const accountsAtAddress = new FailureLimit(limits.failuresPerAccount, limits.windowSeconds);
  const addresses = new FailureLimit(limits.failuresPerAccount * 5, limits.windowSeconds);
  app.register(async (oidc) => {
    oidc.removeAllContentTypeParsers();
    oidc.addContentTypeParser('*', (_request, _payload, done) => done(null));
    let handler: ReturnType<Provider['callback']> | undefined;
    const pass = async (request: FastifyRequest, reply: FastifyReply) => {
      handler ??= (await provider()).callback();
      reply.hijack();
      // oidc-provider builds its URLs from originalUrl, as it would under an Express mount.
      const raw = request.raw as IncomingMessage & { originalUrl?: string };
      raw.originalUrl = raw.url;
      raw.url = raw.url!.slice(OIDC_MOUNT.length) || '/';
      handler(raw, reply.raw);
    };
    oidc.all(OIDC_MOUNT, { schema: { hide: true } }, pass);
    oidc.all(`${OIDC_MOUNT}/*`, { schema: { hide: true } }, pass);
  });

  app.register(async (pages) => {
    pages.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) =>
      done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );

    pages.get(LOGOUT_SCRIPT_PATH, { schema: { hide: true } }, (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').send(LOGOUT_SCRIPT),
    );

    pages.get<{ Params: { uid: string } }>(`${LOGIN_PATH}/:uid`, { schema: { hide: true } }, async (request, reply) => {
      const issuer = await provider();
      try {
        const details = await issuer.interactionDetails(request.raw, reply.raw);
        return reply.type('text/html').send(loginPage({ action: `${LOGIN_PATH}/${details.uid}` }));
      } catch {
        return reply.status(400).type('text/html').send(expiredPage());
      }
    });

    pages.post<{ Params: { uid: string }; Body: { username?: string; password?: string } }>(
      `${LOGIN_PATH}/:uid`,
      { schema: { hide: true } },
      async (request, reply) => {
        const issuer = await provider();
        let uid: string;
        try {
          uid = (await issuer.interactionDetails(request.raw, reply.raw)).uid;
        } catch {
          return reply.status(400).type('text/html').send(expiredPage());
        }
        const username = String(request.body?.username ?? '').trim();
        // Slots are taken before the password is checked, so parallel guesses cannot all slip through.
        // The account as tried from this address; bounded: a key per made-up name.
        const account = [`${username.toLowerCase().slice(0, 200)}\u0000${request.ip}`];
        const address = [request.ip];
        const accountWait = await accountsAtAddress.reserve(account);
        const addressWait = accountWait === undefined ? await addresses.reserve(address) : undefined;
        if (addressWait !== undefined) accountsAtAddress.succeeded(account); // not this account's attempt after all
        const wait = accountWait ?? addressWait;
        if (wait !== undefined) {
          return reply
            .status(429)
            .header('Retry-After', String(wait))
            .type('text/html')
            .send(
              loginPage({
                action: `${LOGIN_PATH}/${uid}`,
                username,
                error: `Too many failed sign-ins; try again in ${Math.ceil(wait / 60)} minute(s).`,
              }),
            );
        }
        let user: Awaited<ReturnType<Users['authenticate']>>;
        try {
          user = await users.authenticate(username, String(request.body?.password ?? ''));
        } catch (error) {
          accountsAtAddress.succeeded(account); // the database failed, not the password
          addresses.succeeded(address);
          throw error;
        }
        if (!user) {
          accountsAtAddress.failed(account);
          addresses.failed(address);
          return reply
            .status(401)
            .type('text/html')
            .send(loginPage({ action: `${LOGIN_PATH}/${uid}`, username, error: 'Wrong username or password.' }));
        }
        accountsAtAddress.succeeded(account);
        addresses.succeeded(address);
        // Told only to someone who gave the right password: it says nothing to a guesser.
        if (user === 'disabled') {
          return reply
            .status(403)
            .type('text/html')
            .send(
              loginPage({
                action: `${LOGIN_PATH}/${uid}`,
                username,
                error: 'This account is disabled. Ask your administrator to enable it.',
              }),
            );
        }
        reply.hijack();
        await issuer.interactionFinished(
          request.raw,
          reply.raw,
          { login: { accountId: user.user_id } },
          { mergeWithLastSubmission: false },
        );
      },
    );
  });
}

const expiredPage = () =>
  messagePage('Sign-in expired', `This sign-in page has expired. <a href="/app/">Start again</a>.`, true);
