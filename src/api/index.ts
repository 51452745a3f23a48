// The api role. For now it serves the web app at /app/ (and / redirects there); the REST API, WebSocket
// and HTTP ingest join it in later issues.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { RoleDeps, RunningRole } from '../roles.js';

const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

export function start(deps: RoleDeps): RunningRole {
  const { app } = deps.http;
  const webBuilt = existsSync(`${WEB_DIST}index.html`);
  app.get('/', (_request, reply) => reply.redirect('/app/'));
  if (webBuilt) {
    app.register(fastifyStatic, { root: WEB_DIST, prefix: '/app/', redirect: true });
  } else {
    app.get('/app/', (_request, reply) =>
      reply.status(503).send({ detail: 'The web app is not built; run `npm run build` in the checkout' }),
    );
  }
  return {
    name: 'api',
    health: () => ({ status: 'ok', web_app: webBuilt ? 'built' : 'missing' }),
    stop: async () => undefined,
  };
}
