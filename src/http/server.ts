// The one HTTP server on PORT. Roles register their routes on it before it listens; this module owns what
// every route shares: security headers, input checks, how answers are written, the API's description,
// GET /health and /metrics — and, through error-answers.ts, error mapping to the `{"detail": …}` bodies of
// docs/wire-contract.md#errors, 422 validation errors in FastAPI's shape and the 404 body.
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
  type RouteOptions,
} from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ComponentHealth, HealthCheck } from '../contracts/health.js';
import { AppError } from '../errors.js';
import { answerErrors } from './error-answers.js';
import { jsonProblem } from '../lib/json-input.js';
import { isoUtc } from '../lib/time.js';
import { boundIntegers, controlCharacterProblem } from './input-checks.js';
import { defaultsOptionalForSenders } from './openapi-requests.js';
import { compileResponseCheck, ResponseSchemaError } from './response-check.js';

/** The server every role registers on: request and reply types come from the routes' TypeBox schemas. */
export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** The body of every 4xx and 5xx: a message, or FastAPI's list for a request that fails its schema. */
export const Problem = Type.Object(
  {
    detail: Type.Union([
      Type.String(),
      Type.Array(
        Type.Object({
          loc: Type.Array(Type.Union([Type.String(), Type.Number()])),
          msg: Type.String(),
          type: Type.String(),
        }),
      ),
    ]),
  },
  { description: 'What went wrong and what to change' },
);

export interface HttpServer {
  app: App;
  /** Adds a component (a role, the database, the broker) to GET /health. */
  addHealthCheck(name: string, check: HealthCheck): void;
  /** Runs every health check (a failing check reports `down` with its error). */
  checkComponents(): Promise<Record<string, ComponentHealth>>;
  /**
   * Lets pages reach these origins too (CSP connect-src) and send forms that end there (form-action, which
   * browsers apply to a form's redirects): the built-in issuer's sign-in moves between the addresses the
   * web app is served from, known once the server listens.
   */
  allowOrigins(origins: string[]): void;
}

export interface HttpServerOptions {
  log: Logger;
  /** Largest request body accepted by default, in bytes; routes may allow more. */
  bodyLimit?: number;
  /** Peers whose X-Forwarded-For is believed (fastify's trustProxy). */
  trustProxy?: boolean | string | string[];
  /** Served at GET /metrics in Prometheus text format. */
  metrics: Registry;
  /** Origins pages may fetch from besides their own (an external OIDC issuer's token endpoint). */
  connectOrigins?: string[];
  /** Sources pages may load images from besides their own (MAP_TILE_URL's tiles). */
  imageSources?: string[];
  /** Check every JSON answer against its route's response schema (API_CHECK_RESPONSES). */
  checkResponses?: boolean;
  /** Serve HTTPS (HTTP/2, and HTTP/1.1 for older clients and WebSocket) with this certificate and key. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** Largest WebSocket message (the live API's frames, MQTT packets over WebSocket). */
  webSocketMaxPayload: number;
}

/**
 * Headers every response carries (ADR 013). The CSP allows no inline script: the web app, the login page
 * and the logout page load their scripts as files. Inline styles stay allowed (charts set them). Framing
 * only by the same origin, which the OIDC silent renew may need.
 */
export function securityHeaders(
  connectOrigins: string[] = [],
  formOrigins: string[] = [],
  imageSources: string[] = [],
): Record<string, string> {
  const connect = ["'self'", ...connectOrigins].join(' ');
  const form = ["'self'", ...formOrigins].join(' ');
  const image = ["'self'", 'data:', 'blob:', ...imageSources].join(' ');
  return {
    'content-security-policy': [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self' 'unsafe-inline'",
      `img-src ${image}`,
      "font-src 'self' data:",
      `connect-src ${connect}`,
      "frame-ancestors 'self'",
      `form-action ${form}`,
      "base-uri 'none'",
      "object-src 'none'",
    ].join('; '),
    'x-frame-options': 'SAMEORIGIN',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
  };
}

const startedAt = Date.now();

const ProcessHealth = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  uptime_seconds: Type.Integer(),
  components: Type.Record(
    Type.String(),
    Type.Object(
      { status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('down')]) },
      { additionalProperties: true, description: 'a component: its status and what it reports of itself' },
    ),
  ),
});

export async function createHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  // With TLS the server is fastify's HTTP/2 one; routes see the same request and reply API either way.
  const transport = options.tls ? { http2: true, https: { allowHTTP1: true, ...options.tls } } : {};
  const app = Fastify({
    ...(transport as object),
    loggerInstance: options.log as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    trustProxy: options.trustProxy ?? false,
    // Per-request lines would drown the log under device traffic; errors are still logged below.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { allErrors: true, coerceTypes: true, removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // One WebSocket server for every `websocket: true` route (the live API, MQTT over WebSocket).
  await app.register(fastifyWebsocket, { options: { maxPayload: options.webSocketMaxPayload } });

  const allowOrigins = sendSecurityHeaders(app, options);
  refuseUnusableInput(app);
  serialiseAnswers(app, options.checkResponses ?? false);
  await describeApi(app);
  answerErrors(app);
  const health = serveHealthAndMetrics(app, options.metrics);
  return { app, ...health, allowOrigins };
}

/** The security headers on every answer; returns how to allow more origins (allowOrigins of HttpServer). */
function sendSecurityHeaders(app: App, options: HttpServerOptions): (origins: string[]) => void {
  // Set on the raw response, so that routes which hijack it (the OIDC issuer) carry them too; a route's
  // own header of the same name (Swagger UI's CSP) wins.
  const connectOrigins = new Set(options.connectOrigins);
  const formOrigins = new Set<string>();
  const imageSources = options.imageSources ?? [];
  let headers = Object.entries(securityHeaders([...connectOrigins], [], imageSources));
  const allowOrigins = (origins: string[]) => {
    for (const origin of origins) {
      connectOrigins.add(origin);
      formOrigins.add(origin);
    }
    headers = Object.entries(securityHeaders([...connectOrigins], [...formOrigins], imageSources));
  };
  app.addHook('onRequest', async (request, reply) => {
    for (const [name, value] of headers) reply.raw.setHeader(name, value);
    if (request.protocol === 'https') reply.raw.setHeader('strict-transport-security', 'max-age=31536000');
  });
  return allowOrigins;
}

/** What no route needs to check for itself. */
function refuseUnusableInput(app: App): void {
  // No id, name or filter holds a control character (PostgreSQL cannot even compare text with U+0000):
  // refused for every route before it reads them.
  app.addHook('onRequest', async (request) => {
    const problem =
      controlCharacterProblem('path parameter', request.params) ??
      controlCharacterProblem('query parameter', request.query);
    if (problem) throw new AppError('INVALID_CHARACTER', problem);
  });
  // Integers a request sends stay within what JavaScript holds exactly (see boundIntegers).
  app.addHook('onRoute', (route: RouteOptions) => {
    for (const part of ['params', 'querystring', 'body'] as const) boundIntegers(route.schema?.[part]);
  });

  // JSON bodies as Fastify parses them (prototype poisoning refused), then refused with a 400 when they
  // nest absurdly deep or hold text the database cannot store, instead of a 500 from deeper down.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
    parseJson(request, body as string, (error, value) => {
      if (error) return done(error, undefined);
      const problem = jsonProblem(value);
      if (problem) return done(new AppError('INVALID_REQUEST', `The JSON body ${problem}`), undefined);
      done(null, value);
    }),
  );
}

/** How answers are written, and (API_CHECK_RESPONSES) checked against the route's schema. */
function serialiseAnswers(app: App, checkResponses: boolean): void {
  // Timestamps leave as ISO-8601 with an explicit +00:00 offset (docs/wire-contract.md#timestamps).
  const toJson = (payload: unknown) =>
    JSON.stringify(payload, function (this: Record<string, unknown>, key, value: unknown) {
      const raw = this[key];
      return raw instanceof Date ? isoUtc(raw) : value;
    });
  // Answers are serialised per status from the route's response schema, by this compiler; a route without
  // one (static files, the issuer's pages) gets Fastify's JSON.stringify.
  app.setSerializerCompiler(({ schema, method, url, httpStatus }) => {
    if (!checkResponses) return toJson;
    const check = compileResponseCheck(schema);
    return (payload) => {
      const json = toJson(payload);
      const problem = check(JSON.parse(json));
      if (problem) throw new ResponseSchemaError(`${method} ${url} answered ${httpStatus} off its schema: ${problem}`);
      return json;
    };
  });
  // Every error answer is a Problem; routes declare their successful answers. Hidden routes (the docs'
  // own pages) are no part of the API.
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.schema || route.schema.hide) return;
    route.schema.response = { '4xx': Problem, '5xx': Problem, ...(route.schema.response as object) };
  });
  if (checkResponses) {
    // A status the route does not declare would leave unchecked (and undocumented).
    app.addHook('onSend', async (request, reply, payload) => {
      const declared = request.routeOptions.schema?.response as Record<string, unknown> | undefined;
      if (!declared || reply.statusCode === 204) return payload;
      const status = String(reply.statusCode);
      if (!(status in declared) && !(`${status[0]}xx` in declared)) {
        throw new ResponseSchemaError(
          `${request.method} ${request.routeOptions.url} answered ${status}, which it does not declare`,
        );
      }
      return payload;
    });
  }
}

async function describeApi(app: App): Promise<void> {
  // Every route registered after this is described at /api/docs/json from the schemas that validate it.
  // A shared schema (`app.addSchema`) is listed under components by its $id.
  await app.register(fastifySwagger, {
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transformObject: (document) =>
      'openapiObject' in document ? defaultsOptionalForSenders(document.openapiObject) : document.swaggerObject,
    openapi: {
      info: {
        title: 'Pulse API',
        version: '2',
        description:
          'Device ingest, provisioning, the customer API (/api/v2, /customer) and the operator API (/operator). ' +
          'Data routes take `Authorization: Bearer <JWT>`; provisioning takes `X-Admin-Key`; ingest takes `X-Provision-Token`.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          adminKey: { type: 'apiKey', in: 'header', name: 'X-Admin-Key' },
          provisionToken: { type: 'apiKey', in: 'header', name: 'X-Provision-Token' },
        },
      },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs', staticCSP: true });
}

/** GET /health (every component's check) and GET /metrics. */
function serveHealthAndMetrics(app: App, metrics: Registry) {
  const checks = new Map<string, HealthCheck>();
  const checkComponents = async () => {
    const components: Record<string, ComponentHealth> = {};
    await Promise.all(
      [...checks].map(async ([name, check]) => {
        try {
          components[name] = await check();
        } catch (error) {
          components[name] = { status: 'down', error: (error as Error).message };
        }
      }),
    );
    return components;
  };
  app.get(
    '/health',
    {
      schema: {
        tags: ['system'],
        summary: 'Health of every component in this process',
        response: { '2xx': ProcessHealth, 503: ProcessHealth },
      },
    },
    async (_request, reply) => {
      const components = await checkComponents();
      const healthy = Object.values(components).every((c) => c.status === 'ok');
      return reply.status(healthy ? 200 : 503).send({
        status: healthy ? ('ok' as const) : ('degraded' as const),
        uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
        components,
      });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['system'],
        summary: 'Prometheus metrics',
        response: {
          200: { description: 'Prometheus text format', content: { 'text/plain': { schema: Type.String() } } },
        },
      },
    },
    async (_request, reply) => reply.header('content-type', metrics.contentType).send(await metrics.metrics()),
  );

  return { addHealthCheck: (name: string, check: HealthCheck) => void checks.set(name, check), checkComponents };
}
