// The api role: the web app at /app/, identity (the built-in OIDC issuer unless OIDC_ISSUER names one),
// the public auth config the web app reads, /api/v2 and /customer (customers, a rate limit per user;
// devices, alerts, rules, integrations, routes; API keys too, ADR 031), /operator (audited, incl. /operator/system with its
// metrics collector) and the live WebSocket. Every data route verifies a bearer JWT (./auth.ts); customer
// routes run in withTenant(), operator routes in withOperator().
import type { FastifyRequest } from 'fastify';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type Provider from 'oidc-provider';
import { Type } from '@sinclair/typebox';
import { AppError } from '../errors.js';
import type { App } from '../http/server.js';
import { Obj } from '../lib/schema.js';
import { ensureIssuerState, publicJwk } from '../identity/issuer-state.js';
import { createBuiltInIssuer, mountBuiltInIssuer, OIDC_MOUNT } from '../identity/provider.js';
import { createUsers } from '../identity/users.js';
import { SlidingWindowLimiter } from '../lib/rate-limit.js';
import type { RoleDeps, RunningRole } from '../roles.js';
import {
  builtInUserCheck,
  checkingPrincipals,
  createTokenVerifier,
  localKeySource,
  remoteKeySource,
  type CheckPrincipal,
  type KeySource,
} from './auth.js';
import { decoratePrincipal, guard, principalOf, tenantTransactions } from './guard.js';
import { apiKeyVerifier } from './api-keys.js';
import { findKeyBySecret, recordKeyUses } from '../model/api-keys.js';
import { registerApiKeyRoutes } from './customer/api-keys.js';
import { registerCustomerQuarantineRoutes } from './customer/quarantine.js';
import { registerOperatorApiKeyRoutes } from './operator/api-keys.js';
import { registerLiveRoutes } from './live.js';
import { registerMeRoutes } from './me.js';
import { registerV2Routes } from './v2/routes.js';
import { registerExportRoutes } from './v2/export.js';
import { registerStateRoutes } from './v2/states.js';
import { registerUiSettingsRoutes } from './v2/ui-settings.js';
import { registerCustomerRoutes } from './customer/routes.js';
import { registerAlertRoutes } from './customer/alerts.js';
import { auditCustomerChanges, registerCustomerAuditRoutes } from './customer/audit.js';
import { registerDeliveryRoutes } from './customer/deliveries.js';
import { registerIntegrationRoutes } from './customer/integrations.js';
import { customerDevices, operatorDevices, registerDeviceRoutes, type DeviceRouteDeps } from './devices.js';
import { registerUserRoutes } from './customer/users.js';
import { registerMqttReaderRoutes } from './customer/mqtt-readers.js';
import { registerSilenceRoutes } from './customer/silences.js';
import { registerDashboardRoutes } from './customer/dashboards.js';
import { LiveShareChecks, registerSharedDashboardRoutes } from './shared-dashboards.js';
import { registerJobRoutes } from './customer/jobs.js';
import { commandPace, registerCommandRoutes } from './commands.js';
import { registerFirmwareRoutes } from './customer/firmware.js';
import { registerOperatorUserRoutes } from './operator/users.js';
import { sendContext } from '../channels/index.js';
import { createAudited } from './operator/audit.js';
import { registerOperatorRoutes } from './operator/routes.js';
import { MetricsCollector } from './system/collector.js';
import { registerSystemRoutes } from './system/routes.js';
import { tcpProbe } from '../lib/tcp-probe.js';

const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));
const LOGIN_SCOPE = 'openid profile email offline_access';

export function start(deps: RoleDeps): RunningRole {
  const { app } = deps.http;
  const { config } = deps;
  serveWebApp(deps);
  decoratePrincipal(app);

  // The built-in issuer's URL holds the port, known once the server listens (see `listening` below).
  let issuerReady!: (value: { provider: Provider; keys: KeySource }) => void;
  const builtIn = new Promise<{ provider: Provider; keys: KeySource }>((resolve) => (issuerReady = resolve));
  const keySource = config.OIDC_ISSUER ? remoteKeySource(config.OIDC_ISSUER) : async () => (await builtIn).keys;
  const users = createUsers(deps.db);
  const shareChecks = new LiveShareChecks();
  const verifyJwt = createTokenVerifier({ keySource, audience: config.JWT_AUDIENCE });
  // Users of an external issuer live there; the built-in issuer's live here, and deleting, disabling or
  // changing one ends its earlier tokens, on REST and on open WebSockets alike.
  const builtInUsers = config.OIDC_ISSUER ? undefined : builtInUserCheck((sub) => users.findForTokens(sub));
  const checkPrincipal: CheckPrincipal = builtInUsers ?? (async () => undefined);
  const userDeps = { externalIssuer: config.OIDC_ISSUER, usersChanged: () => builtInUsers?.forget() };
  const verify = checkingPrincipals(verifyJwt, checkPrincipal);
  let issuerUrl = config.OIDC_ISSUER;
  /** Where the web app can sign in with the built-in issuer (its client's redirect URIs); set once listening. */
  let appOrigins: string[] | undefined;
  if (!config.OIDC_ISSUER)
    mountBuiltInIssuer(app, async () => (await builtIn).provider, users, {
      failuresPerAccount: config.LOGIN_FAILURE_LIMIT,
      windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
    });

  app.get(
    '/api/auth/config',
    {
      schema: {
        tags: ['auth'],
        summary: 'How the web app signs in (public)',
        response: {
          200: Obj({
            authority: Type.Optional(
              Type.String({ description: 'the OIDC issuer; absent while the built-in one starts' }),
            ),
            client_id: Type.String(),
            scope: Type.String(),
            audience: Type.String(),
            built_in_issuer: Type.Boolean(),
            app_origins: Type.Optional(
              Type.Array(Type.String(), {
                description:
                  'the built-in issuer only: the origins sign-in returns to (PUBLIC_URL first); the web app opened elsewhere names them',
              }),
            ),
          }),
        },
      },
    },
    () => ({
      authority: issuerUrl,
      client_id: config.OIDC_CLIENT_ID,
      scope: LOGIN_SCOPE,
      audience: config.JWT_AUDIENCE,
      built_in_issuer: !config.OIDC_ISSUER,
      ...(appOrigins && { app_origins: appOrigins }),
    }),
  );
  app.get(
    '/api/v2/health',
    {
      schema: {
        tags: ['api/v2'],
        summary: 'Liveness (no token needed)',
        response: {
          200: Obj({ status: Type.Literal('ok'), service: Type.Literal('pulse-ui'), api_version: Type.Literal('v2') }),
        },
      },
    },
    () => ({ status: 'ok' as const, service: 'pulse-ui' as const, api_version: 'v2' as const }),
  );

  // One budget per user and API client across /api/v2 and /customer (the original's was per tenant on
  // /api/v2 only, so one viewer could spend a whole tenant's, admin included, and /customer had none). Not
  // per token: every tab of the web app signs in for its own tokens, and tabs must not multiply the budget;
  // per client, so a user's script with its own client cannot starve that user's web app.
  const limiter = new SlidingWindowLimiter(config.API_RATE_LIMIT, config.API_RATE_WINDOW_SECONDS * 1000);
  const rateLimited = async (request: FastifyRequest) => {
    const { sub, tenantId, clientId } = principalOf(request);
    const decision = limiter.take(`${tenantId}\u0000${sub}\u0000${clientId ?? ''}`);
    if (!decision.allowed) {
      throw new AppError(
        'RATE_LIMITED',
        `Rate limit exceeded (${config.API_RATE_LIMIT} requests per ${config.API_RATE_WINDOW_SECONDS}s)`,
        {},
        Math.ceil(decision.retryAfterMs / 1000),
      );
    }
  };
  // API keys of machine clients, on /api/v2 and /customer only; their use is rate-limited per key above
  // (a key's principal is its own subject).
  const apiKeys = apiKeyVerifier({
    find: (sha256) => deps.db.withService((tx) => findKeyBySecret(tx, sha256)),
    recordUses: (uses) => deps.db.withService((tx) => recordKeyUses(tx, uses)),
    log: deps.log,
  });
  // Customer routes get their database only as transactions of the caller's tenant.
  const inTenant = tenantTransactions(deps.db);
  const retention = {
    rawDays: config.TELEMETRY_RETENTION_DAYS,
    minuteDays: config.ROLLUP_1M_RETENTION_DAYS,
    hourDays: config.ROLLUP_1H_RETENTION_DAYS,
  };
  app.register(async (v2) => {
    guard(v2, verify, 'customer', apiKeys);
    v2.addHook('onRequest', rateLimited);
    registerV2Routes(v2, inTenant, retention);
    registerExportRoutes(v2, inTenant, { perTenant: config.EXPORTS_PER_TENANT, engine: deps.db.engine });
    registerStateRoutes(v2, inTenant);
    registerUiSettingsRoutes(v2, { mapTileUrl: config.MAP_TILE_URL, mapTileAttribution: config.MAP_TILE_ATTRIBUTION });
  });

  app.register(async (me) => {
    guard(me, verify, 'anyone');
    me.addHook('onRequest', rateLimited);
    registerMeRoutes(me, {
      users,
      externalIssuer: config.OIDC_ISSUER,
      failureLimit: config.LOGIN_FAILURE_LIMIT,
      failureWindowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
    });
  });

  const deviceDeps: DeviceRouteDeps = {
    bus: deps.bus,
    logins: deps.brokerLogins,
    activationTtlMinutes: config.ACTIVATION_TTL_MINUTES,
    mqttUrl: deps.mqttUrl,
    publicUrl: config.PUBLIC_URL,
  };
  const commandDeps = { bus: deps.bus, pace: commandPace(config.COMMANDS_PER_MINUTE) };
  // A CSV of devices arrives as text.
  const acceptCsv = (scope: App) =>
    scope.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: 16 * 1024 * 1024 }, (_r, body, done) =>
      done(null, body),
    );
  app.register(async (customer) => {
    guard(customer, verify, 'customer', apiKeys);
    customer.addHook('onRequest', rateLimited);
    auditCustomerChanges(customer, { db: deps.db, log: deps.log });
    registerCustomerRoutes(customer, { inTenant, caps: config });
    registerAlertRoutes(customer, { inTenant, bus: deps.bus, caps: config });
    registerDeliveryRoutes(customer, { inTenant, bus: deps.bus, retriesPerMinute: config.DELIVERY_RETRIES_PER_MINUTE });
    registerCustomerAuditRoutes(customer, { inTenant });
    registerApiKeyRoutes(customer, { inTenant, onRevoked: apiKeys.forget });
    registerCustomerQuarantineRoutes(customer, { inTenant });
    registerIntegrationRoutes(customer, {
      inTenant,
      bus: deps.bus,
      config,
      secrets: deps.secrets,
      sendContext: sendContext(config, deps.serviceMqttUrl),
    });
    acceptCsv(customer);
    registerUserRoutes(customer, { inTenant, ...userDeps });
    registerDeviceRoutes(customer, customerDevices(inTenant), deviceDeps);
    registerCommandRoutes(customer, customerDevices(inTenant), commandDeps);
    registerJobRoutes(customer, { inTenant, ...commandDeps });
    registerSilenceRoutes(customer, { inTenant, caps: config });
    registerDashboardRoutes(customer, {
      inTenant,
      retention,
      sharesChanged: (dashboardId) => shareChecks.recheck(dashboardId),
    });
    registerFirmwareRoutes(customer, { inTenant, maxBytes: config.FIRMWARE_MAX_BYTES });
    registerMqttReaderRoutes(customer, {
      inTenant,
      bus: deps.bus,
      logins: deps.brokerLogins,
      mqttUrl: deps.mqttUrl,
    });
  });

  // Share links have no login: the same budget, per address.
  registerSharedDashboardRoutes(app, {
    db: deps.db,
    bus: deps.bus,
    limiter: new SlidingWindowLimiter(config.API_RATE_LIMIT, config.API_RATE_WINDOW_SECONDS * 1000),
    retention,
    checks: shareChecks,
  });

  const collector = new MetricsCollector({
    db: deps.db,
    checkComponents: deps.http.checkComponents,
    intervalMs: config.METRICS_COLLECTION_INTERVAL * 1000,
    retentionDays: config.METRICS_RETENTION_DAYS,
    log: deps.log,
  });
  collector.start();
  app.register(async (operator) => {
    guard(operator, verify, 'operator');
    const audited = createAudited(deps.db);
    registerOperatorRoutes(operator, { audited, config, bus: deps.bus });
    registerOperatorUserRoutes(operator, { audited, ...userDeps });
    registerOperatorApiKeyRoutes(operator, { audited, onRevoked: apiKeys.forget });
    acceptCsv(operator);
    registerDeviceRoutes(operator, operatorDevices(audited), deviceDeps);
    registerCommandRoutes(operator, operatorDevices(audited), commandDeps);
    registerSystemRoutes(operator, {
      audited,
      collector,
      checkComponents: deps.http.checkComponents,
      probes: {
        identity: async () => {
          if (!config.OIDC_ISSUER)
            return { status: issuerUrl ? 'ok' : 'degraded', issuer: issuerUrl ?? 'starting', built_in: true };
          await keySource();
          return { status: 'ok', issuer: config.OIDC_ISSUER, built_in: false };
        },
        // The embedded broker reports itself; an external one is checked by connecting to it.
        ...(config.MQTT_URL && { broker: () => tcpProbe(config.MQTT_URL!) }),
      },
      dataDir: config.PULSE_DATA_DIR,
      metricsIntervalSeconds: config.METRICS_COLLECTION_INTERVAL,
    });
  });

  let live: ReturnType<typeof registerLiveRoutes> | undefined;
  app.register(async (ws) => {
    // @fastify/websocket hides its routes from the API docs; this one is part of the documented API.
    ws.addHook('onRoute', (route) => {
      if (route.websocket && route.schema) route.schema.hide = false;
    });
    live = registerLiveRoutes(ws, {
      verify,
      recheck: checkPrincipal,
      db: deps.db,
      bus: deps.bus,
      log: deps.log,
      checkFrames: config.API_CHECK_RESPONSES === 'on',
    });
  });

  return {
    name: 'api',
    async listening(publicUrl, localUrls) {
      if (config.OIDC_ISSUER) return;
      // One issuer URL (tokens name it in `iss`), served to the web app at every address it is opened on:
      // each of them may reach the issuer and be returned to (ADR 013).
      const origins = [...new Set([publicUrl, ...localUrls].map((url) => new URL(url).origin))];
      deps.http.allowOrigins(origins);
      const state = await ensureIssuerState(deps.db, deps.secrets, `${publicUrl}${OIDC_MOUNT}`);
      const provider = await createBuiltInIssuer({
        issuer: `${publicUrl}${OIDC_MOUNT}`,
        appOrigins: origins,
        clientId: config.OIDC_CLIENT_ID,
        audience: config.JWT_AUDIENCE,
        accessTokenTtlSeconds: config.OIDC_ACCESS_TOKEN_TTL_SECONDS,
        refreshTokenTtlSeconds: config.OIDC_REFRESH_TOKEN_TTL_SECONDS,
        state,
        db: deps.db,
        users,
        log: deps.log,
      });
      issuerUrl = `${publicUrl}${OIDC_MOUNT}`;
      appOrigins = origins;
      issuerReady({ provider, keys: localKeySource(issuerUrl, [publicJwk(state.signingKey)]) });
    },
    health: () => ({
      status: 'ok',
      web_app: existsSync(`${WEB_DIST}index.html`) ? 'built' : 'missing',
      issuer: issuerUrl ?? 'starting',
      websocket_connections: live?.connections() ?? 0,
    }),
    stop: async () => {
      collector.stop();
      live?.stop();
      await apiKeys.stop();
    },
  };
}

function serveWebApp({ http: { app } }: RoleDeps): void {
  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect('/app/'));
  if (existsSync(`${WEB_DIST}index.html`)) {
    app.register(async (web) => {
      await web.register(fastifyStatic, {
        root: WEB_DIST,
        prefix: '/app/',
        redirect: true,
        wildcard: false,
        // The build names each asset by its content: a browser keeps it and never asks again. The app's page
        // names the assets of the build being served: asked for again each time.
        cacheControl: false,
        setHeaders: (response, path) =>
          response.setHeader(
            'cache-control',
            path.startsWith(`${WEB_DIST}assets/`) ? 'public, max-age=31536000, immutable' : 'no-cache',
          ),
      });
      // Client-side routes (/app/devices/…, /app/callback) get the app itself.
      web.get('/app/*', { schema: { hide: true } }, (_request, reply) => reply.sendFile('index.html'));
    });
  } else {
    app.get('/app/', { schema: { hide: true } }, (_request, reply) =>
      reply.status(503).send({ detail: 'The web app is not built; run `npm run build` in the checkout' }),
    );
  }
}
