// `npm run audit:security [-- --engines pglite,postgres] [--seed N] [--fuzz N] [--only fuzz,ssrf,…]`: the attacks of the
// security audit (issue 15) re-run against fresh Pulse instances on each engine, as a table of
// attempts / refused or harmless / failures. Exits 1 when anything got through.
//
//   cross-tenant   tenant B's admin and viewer against every /api/v2 and /customer route, aimed at
//                  tenant A's ids: nothing of A's may come back, nothing of A's may change
//   wrong role     customers on /operator, an operator on operator_admin routes, nobody unauthenticated
//   forged tokens  alg none, HS256 with the public key, other keys, tampered claims, expired, …
//   ssrf           webhook URLs that spell an internal address in every form we know; a receiver on
//                  127.0.0.1 counts what reaches it
//   fuzz           seeded random and mutated MQTT packets and HTTP ingest requests at `pulse up`, its RSS
//                  watched; a 5xx, a death or lasting growth is a failure
//   kill -9        QoS 1 load, `kill -9`, restart: acknowledged messages without a row
//   restarts       QoS 1 load through graceful restarts and kills in turn, clients knocking again at once
//                  while each process starts and stops: acknowledged messages without a row
import { createServer, type Server } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as fc from 'fast-check';
import { exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import type { Engine } from '../src/db/connection.js';
import { loadIssuerState } from '../src/identity/issuer-state.js';
import { connectPacket } from '../src/ingest/mqtt-packets.js';
import { createUsers } from '../src/identity/users.js';
import { asSuperuser, dropDatabase, uniqueName, urlFor } from '../test/helpers/databases.js';
import { bearer, tokenFor } from '../test/helpers/identity.js';
import { killUnderLoad, restartUnderLoad } from '../test/helpers/kill-under-load.js';
import { mutate, mutation, validStream } from '../test/helpers/mqtt-fuzz.js';
import { startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../test/helpers/platform.js';
import { startPulse } from '../test/helpers/processes.js';
import { provisionDevices } from '../test/helpers/provision.js';
import { seedAlert, seedRule } from '../test/helpers/seed.js';
import { freePort } from '../test/helpers/mosquitto.js';

interface Outcome {
  scenario: string;
  engine: Engine;
  attempts: number;
  failures: string[];
  notes?: string;
}

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const ENGINES = (args.get('engines') ?? 'pglite,postgres').split(',') as Engine[];
const SEED = Number(args.get('seed') ?? 20261130);
const FUZZ = Number(args.get('fuzz') ?? 1500);
const ONLY = args.get('only')?.split(',');
const chosen = (name: string) => !ONLY || ONLY.includes(name);

/** What only tenant A's own rows hold: any of it in a response to B is a leak. */
const HIDDEN = ['a-secret-site', 'A secret rule', 'a-secret-hook', 'A secret route', '4242.42'];
/** An address outside the SSRF matrix that A's webhook may use (TEST-NET-1, allowlisted). */
const A_HOOK = 'http://192.0.2.10/a-secret-hook';

interface World {
  pulse: TestPlatform;
  ids: Record<string, string>;
  tokens: Record<'aAdmin' | 'bAdmin' | 'bViewer' | 'operator' | 'opAdmin', string>;
}

async function seedWorld(pulse: TestPlatform): Promise<World> {
  const tokens = {
    aAdmin: await tokenFor(pulse, { username: 'audit-a-admin', role: 'customer_admin', tenantId: 'audit-a' }),
    bAdmin: await tokenFor(pulse, { username: 'audit-b-admin', role: 'customer_admin', tenantId: 'audit-b' }),
    bViewer: await tokenFor(pulse, { username: 'audit-b-viewer', role: 'customer_viewer', tenantId: 'audit-b' }),
    operator: await tokenFor(pulse, { username: 'audit-op', role: 'operator' }),
    opAdmin: await tokenFor(pulse, { username: 'audit-op-admin', role: 'operator_admin' }),
  };
  const deviceTokens = await provisionDevices(pulse.base, TEST_ADMIN_KEY, [
    { tenant_id: 'audit-a', device_id: 'a-dev-1', site_id: 'a-secret-site' },
    { tenant_id: 'audit-b', device_id: 'b-dev-1', site_id: 'b-site' },
  ]);
  const sent = await fetch(`${pulse.base}/ingest/v1/tenant/audit-a/device/a-dev-1/telemetry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-provision-token': deviceTokens.get('audit-a/a-dev-1')! },
    body: JSON.stringify({ site_id: 'a-secret-site', seq: 1, metrics: { temp_c: 4242.42 } }),
  });
  if (sent.status !== 202) throw new Error(`seeding telemetry answered ${sent.status}`);
  const rule = await seedRule(pulse.db, 'audit-a', 'A secret rule');
  const alert = await seedAlert(pulse.db, { tenantId: 'audit-a', deviceId: 'a-dev-1' });
  const asA = (route: string, body: unknown) =>
    fetch(`${pulse.base}${route}`, {
      method: 'POST',
      headers: { ...bearer(tokens.aAdmin), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (response) => {
      if (!response.ok) throw new Error(`seeding ${route} answered ${response.status}: ${await response.text()}`);
      return (await response.json()) as Record<string, string>;
    });
  const integration = await asA('/customer/integrations', { name: 'A hook', webhook_url: A_HOOK });
  const route = await asA('/customer/integration-routes', {
    name: 'A secret route',
    integration_id: integration.integration_id,
  });
  return {
    pulse,
    tokens,
    ids: {
      device_id: 'a-dev-1',
      rule_id: rule,
      alert_id: String(alert),
      integration_id: integration.integration_id!,
      route_id: route.route_id!,
      tenant_id: 'audit-a',
    },
  };
}

/** Tenant A's rows as one string: any change by another tenant's request shows. */
async function snapshotOfA(pulse: TestPlatform): Promise<string> {
  const tables = ['device_registry', 'alert_rules', 'integrations', 'integration_routes', 'fleet_alert', 'tenants'];
  const parts: unknown[] = [];
  await pulse.db.withService(async (tx) => {
    for (const table of tables) {
      const { rows } = await tx.query<{ rows: unknown }>(
        `SELECT json_agg(t ORDER BY t::text) AS rows FROM ${table} t WHERE tenant_id = 'audit-a'`,
      );
      parts.push(rows[0]!.rows);
    }
  });
  return JSON.stringify(parts);
}

async function call(pulse: TestPlatform, method: string, route: string, token: string | undefined, body?: unknown) {
  const response = await fetch(`${pulse.base}${route}`, {
    method,
    headers: { ...(token && bearer(token)), ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, text: await response.text() };
}

async function openApiOperations(pulse: TestPlatform): Promise<{ method: string; path: string }[]> {
  const doc = (await pulse.call('/api/docs/json', { admin: false })).body as { paths: Record<string, object> };
  return Object.entries(doc.paths).flatMap(([route, operations]) =>
    Object.keys(operations).map((method) => ({ method: method.toUpperCase(), path: route })),
  );
}

const fill = (route: string, ids: Record<string, string>) =>
  route.replace(/\{(\w+)\}/g, (_match, name: string) => encodeURIComponent(ids[name] ?? ids.device_id!));

/** A body that would change A's rows if it reached them. */
const HOSTILE_BODY = {
  tenant_id: 'audit-a',
  name: 'taken over',
  enabled: false,
  threshold: 1,
  webhook_url: 'http://192.0.2.10/b-hook',
  integration_id: '00000000-0000-4000-8000-000000000000',
  metric_name: 'temp_c',
  operator: 'GT',
};

async function crossTenant(world: World, engine: Engine): Promise<Outcome> {
  const { pulse, ids, tokens } = world;
  const operations = (await openApiOperations(pulse)).filter(
    (op) => (op.path.startsWith('/api/v2/') || op.path.startsWith('/customer/')) && !op.path.endsWith('/ws'),
  );
  const failures: string[] = [];
  let attempts = 0;
  for (const token of [tokens.bAdmin, tokens.bViewer]) {
    for (const op of operations) {
      const filled = fill(op.path, ids);
      const targets = op.method === 'GET' ? [filled, `${filled}?tenant_id=audit-a&device_id=a-dev-1`] : [filled];
      for (const target of targets) {
        const before = op.method === 'GET' ? '' : await snapshotOfA(pulse);
        const response = await call(pulse, op.method, target, token, op.method === 'GET' ? undefined : HOSTILE_BODY);
        attempts += 1;
        const leaked = HIDDEN.filter((marker) => response.text.includes(marker));
        if (leaked.length > 0) failures.push(`${op.method} ${target} → ${response.status} shows ${leaked.join(', ')}`);
        if (op.method !== 'GET' && (await snapshotOfA(pulse)) !== before)
          failures.push(`${op.method} ${target} → ${response.status} changed tenant A`);
      }
    }
  }
  return { scenario: 'cross-tenant', engine, attempts, failures };
}

async function wrongRole(world: World, engine: Engine): Promise<Outcome> {
  const { pulse, ids, tokens } = world;
  const operations = await openApiOperations(pulse);
  const attemptsList: { method: string; target: string; token: string | undefined; who: string }[] = [];
  for (const op of operations) {
    const target = fill(op.path, { ...ids, tenant_id: 'audit-a' });
    if (op.path.startsWith('/operator/')) {
      attemptsList.push({ ...op, target, token: tokens.aAdmin, who: 'customer admin' });
      // operator_admin only: the audit log, and changing settings (any operator may read them).
      if (op.path.endsWith('/audit-log') || (op.path === '/operator/settings' && op.method === 'POST'))
        attemptsList.push({ ...op, target, token: tokens.operator, who: 'operator' });
    }
    if (/^\/(operator|customer|api\/v2)\//.test(op.path) && !/\/(ws|health)$/.test(op.path))
      attemptsList.push({ ...op, target, token: undefined, who: 'anonymous' });
    if (op.path.startsWith('/customer/') && op.method !== 'GET')
      attemptsList.push({
        ...op,
        target: fill(op.path, { device_id: 'b-dev-1' }),
        token: tokens.bViewer,
        who: 'viewer',
      });
  }
  const failures: string[] = [];
  for (const attempt of attemptsList) {
    const body = attempt.method === 'GET' ? undefined : HOSTILE_BODY;
    const { status } = await call(pulse, attempt.method, attempt.target, attempt.token, body);
    if (status < 400) failures.push(`${attempt.who}: ${attempt.method} ${attempt.target} → ${status}`);
  }
  return { scenario: 'wrong role', engine, attempts: attemptsList.length, failures };
}

async function forgedTokens(world: World, engine: Engine): Promise<Outcome> {
  const { pulse, tokens } = world;
  const state = (await loadIssuerState(pulse.db, pulse.deps.secrets))!;
  const realKey = await importJWK(state.signingKey, 'RS256');
  const other = await generateKeyPair('RS256');
  const users = createUsers(pulse.db);
  const subject = (await users.findByUsername('audit-op-admin'))!.user_id;
  await users.ensure({ username: 'audit-gone', role: 'operator_admin', password: 'audit-password-1' });
  const gone = (await users.findByUsername('audit-gone'))!.user_id;
  const goneToken = await sign(realKey, state.signingKey.kid, state.issuer!, { sub: gone });
  await users.delete('audit-gone');
  const now = Math.floor(Date.now() / 1000);
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const [realHeader, realPayload, realSignature] = tokens.bViewer.split('.') as [string, string, string];
  const escalated = b64({ ...JSON.parse(Buffer.from(realPayload, 'base64url').toString()), role: 'operator_admin' });
  const hmacKey = new TextEncoder().encode(JSON.stringify((await exportJWK(other.publicKey)).n));
  const variants: Record<string, string> = {
    garbage: 'not-a-token',
    'alg none': `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ sub: subject, role: 'operator_admin', aud: 'pulse-ui', iss: state.issuer, exp: now + 600 })}.`,
    'HS256 keyed with a public key': await new SignJWT({ role: 'operator_admin', aud: 'pulse-ui', iss: state.issuer! })
      .setProtectedHeader({ alg: 'HS256', kid: state.signingKey.kid })
      .setSubject(subject)
      .setExpirationTime(now + 600)
      .sign(hmacKey),
    'another key, our kid': await sign(other.privateKey, state.signingKey.kid, state.issuer!, { sub: subject }),
    'another key, unknown kid': await sign(other.privateKey, 'unknown-kid', state.issuer!, { sub: subject }),
    'claims tampered (role)': `${realHeader}.${escalated}.${realSignature}`,
    'signature stripped': `${realHeader}.${realPayload}.`,
    'signature of another token': `${realHeader}.${realPayload}.${tokens.opAdmin.split('.')[2]}`,
    expired: await sign(realKey, state.signingKey.kid, state.issuer!, { sub: subject, exp: now - 60 }),
    'not yet valid': await sign(realKey, state.signingKey.kid, state.issuer!, { sub: subject, nbf: now + 3600 }),
    'wrong audience': await sign(realKey, state.signingKey.kid, state.issuer!, { sub: subject, aud: 'other-app' }),
    'wrong issuer': await sign(realKey, state.signingKey.kid, 'https://evil.example/oidc', { sub: subject }),
    'unknown user': await sign(realKey, state.signingKey.kid, state.issuer!, {
      sub: '00000000-0000-4000-8000-000000000001',
    }),
    'deleted user': goneToken,
    'no subject': await sign(realKey, state.signingKey.kid, state.issuer!, {}),
    'five parts (JWE shape)': `${tokens.opAdmin}.x.y`,
    '100 KB token': 'a'.repeat(100_000),
    'another key, tenant A': await sign(other.privateKey, state.signingKey.kid, state.issuer!, {
      sub: subject,
      role: 'customer_admin',
      tenant_id: 'audit-a',
    }),
  };
  const failures: string[] = [];
  let attempts = 0;
  for (const [name, token] of Object.entries(variants)) {
    for (const route of ['/api/v2/devices', '/customer/devices', '/operator/tenants', '/operator/audit-log']) {
      attempts += 1;
      const { status } = await call(pulse, 'GET', route, token);
      if (status < 400) failures.push(`${name}: GET ${route} → ${status}`);
    }
  }
  return { scenario: 'forged tokens', engine, attempts, failures };
}

function sign(key: Parameters<SignJWT['sign']>[0], kid: string, issuer: string, claims: Record<string, unknown>) {
  const { sub, exp, nbf, aud, ...rest } = claims as { sub?: string; exp?: number; nbf?: number; aud?: string };
  let jwt = new SignJWT({ role: 'operator_admin', ...rest })
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience(aud ?? 'pulse-ui')
    .setIssuedAt()
    .setExpirationTime(exp ?? Math.floor(Date.now() / 1000) + 600);
  if (sub) jwt = jwt.setSubject(sub);
  if (nbf) jwt = jwt.setNotBefore(nbf);
  return jwt.sign(key);
}

async function ssrf(world: World, engine: Engine): Promise<Outcome> {
  const { pulse, tokens } = world;
  let hits = 0;
  const receiver: Server = createServer((_request, response) => {
    hits += 1;
    response.end('ok');
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as { port: number }).port;
  const hosts = [
    '127.0.0.1',
    'localhost',
    'LOCALHOST',
    'localhost.',
    '127.1',
    '127.0.1',
    '0x7f000001',
    '2130706433',
    '017700000001',
    '0177.0.0.1',
    '0x7f.0.0.1',
    '127.000.000.001',
    '0',
    '0.0.0.0',
    '[::1]',
    '[0:0:0:0:0:0:0:1]',
    '[::ffff:127.0.0.1]',
    '[::ffff:7f00:1]',
    '[::127.0.0.1]',
    '[64:ff9b::7f00:1]',
    '[64:ff9b::127.0.0.1]',
    '[::]',
    '169.254.169.254',
    '[fe80::1]',
    '10.0.0.1',
    '172.16.0.1',
    '192.168.0.1',
    '100.64.0.1',
    '[fc00::1]',
    '[fd00::1]',
    '127.0.0.2',
    '127.255.255.254',
    '224.0.0.1',
    '255.255.255.255',
    'metadata.google.internal',
  ];
  const urls = hosts.flatMap((host) => [`http://${host}:${port}/hook`, `https://${host}:${port}/hook`]);
  urls.push(`http://user@127.0.0.1:${port}/`, `http://evil.example@127.0.0.1:${port}/`);
  const failures: string[] = [];
  for (const url of urls) {
    const created = await call(pulse, 'POST', '/customer/integrations', tokens.aAdmin, {
      name: 'probe',
      webhook_url: url,
    });
    if (created.status >= 400) continue;
    const id = (JSON.parse(created.text) as { integration_id: string }).integration_id;
    const before = hits;
    await call(pulse, 'POST', `/customer/integrations/${id}/test`, tokens.aAdmin);
    if (hits > before) failures.push(`${url} was saved and reached 127.0.0.1`);
    else failures.push(`${url} was saved (the send was refused, but the save should have been)`);
  }
  receiver.close();
  return { scenario: 'ssrf', engine, attempts: urls.length, failures, notes: `${hits} requests reached 127.0.0.1` };
}

/** The JavaScript heap in use, in MB, from the process's own /metrics. */
async function heapUsedMb(base: string): Promise<number> {
  const metrics = await (await fetch(`${base}/metrics`)).text();
  return Number(/^pulse_nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics)?.[1] ?? NaN) / 1024 / 1024;
}

/** Resident memory of a process, in MB. */
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function fuzz(engine: Engine, databaseUrl: string | undefined): Promise<Outcome> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pulse-audit-fuzz-'));
  const mqttPort = await freePort();
  const pulse = await startPulse('fuzz', ['up'], {
    PULSE_DATA_DIR: dataDir,
    MQTT_PORT: String(mqttPort),
    ADMIN_KEY: TEST_ADMIN_KEY,
    ...(databaseUrl && { DATABASE_URL: databaseUrl }),
  });
  const pid = pulse.child.pid!;
  const tokens = await provisionDevices(pulse.base, TEST_ADMIN_KEY, [
    { tenant_id: 'fz', device_id: 'd1', site_id: 's' },
  ]);
  const rssBefore = rssMb(pid);
  const heapBefore = await heapUsedMb(pulse.base);
  let rssPeak = rssBefore;
  const watch = setInterval(() => {
    if (pulse.child.exitCode === null) rssPeak = Math.max(rssPeak, rssMb(pid));
  }, 200);
  const failures: string[] = [];

  // MQTT: a CONNECT (or not), then valid packet streams with mutations, on a fresh connection each.
  const samples = fc.sample(fc.tuple(validStream, fc.array(mutation, { maxLength: 4 }), fc.boolean()), {
    seed: SEED,
    numRuns: FUZZ,
  });
  const sendOne = ([stream, mutations, greet]: (typeof samples)[number]) =>
    new Promise<void>((resolve) => {
      const socket = tcpConnect(mqttPort, '127.0.0.1');
      const done = () => {
        socket.destroy();
        resolve();
      };
      socket.on('error', done);
      socket.on('close', done);
      socket.on('data', () => undefined);
      socket.once('connect', () => {
        if (greet) socket.write(connectPacket({ clientId: `fz-${Math.random()}`, clean: true, keepaliveSeconds: 30 }));
        socket.write(
          mutate(
            stream.map((packet) => packet.bytes),
            mutations,
          ),
        );
        setTimeout(done, 30);
      });
    });
  for (let i = 0; i < samples.length; i += 25) await Promise.all(samples.slice(i, i + 25).map(sendOne));

  // HTTP: a valid telemetry body, mutated at random, to random message types and with random headers.
  const valid = JSON.stringify({ site_id: 's', seq: 1, metrics: { temp_c: 21.5, ok: true } });
  const bodies = fc.sample(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc
        .tuple(fc.integer({ min: 0, max: valid.length }), fc.string({ unit: 'binary', maxLength: 8 }))
        .map(([at, text]) => valid.slice(0, at) + text + valid.slice(at + 1)),
      fc.integer({ min: 1, max: 5000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
      fc.constant('{"site_id":"s","note":"\\ud800","metrics":{}}'),
      fc.constant('{"site_id":"s\\u0000","metrics":{}}'),
    ),
    { seed: SEED + 1, numRuns: FUZZ },
  );
  const types = fc.sample(fc.constantFrom('telemetry', 'heartbeat', 'x', '%00', 'telemetry%2F..'), {
    seed: SEED + 2,
    numRuns: FUZZ,
  });
  let httpStatus5xx = 0;
  for (let i = 0; i < bodies.length; i += 20) {
    await Promise.all(
      bodies.slice(i, i + 20).map(async (body, j) => {
        const response = await fetch(`${pulse.base}/ingest/v1/tenant/fz/device/d1/${types[i + j]}`, {
          method: 'POST',
          headers: {
            'content-type': (i + j) % 7 === 0 ? 'text/plain' : 'application/json',
            'x-provision-token': (i + j) % 5 === 0 ? 'x'.repeat(5000) : tokens.get('fz/d1')!,
          },
          body,
        }).catch((error: Error) => ({ status: 599, statusText: error.message }));
        if (response.status >= 500) {
          httpStatus5xx += 1;
          if (httpStatus5xx <= 5)
            failures.push(`HTTP ingest answered ${response.status} to ${JSON.stringify(body).slice(0, 80)}`);
        }
      }),
    );
  }
  // Let what was queued settle, then look at the process.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  clearInterval(watch);
  const alive = pulse.child.exitCode === null;
  const rssAfter = alive ? rssMb(pid) : 0;
  const heapAfter = alive ? await heapUsedMb(pulse.base) : NaN;
  if (!alive) failures.push(`pulse up died:\n${pulse.output().slice(-2000)}`);
  else if ((await pulse.health()).status !== 'ok') failures.push('/health is not ok after the fuzzing');
  if (rssAfter - rssBefore > 256) failures.push(`RSS grew from ${rssBefore.toFixed(0)} to ${rssAfter.toFixed(0)} MB`);
  await pulse.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
  return {
    scenario: 'fuzz',
    engine,
    attempts: samples.length + bodies.length,
    failures,
    notes: `seed ${SEED}; RSS ${rssBefore.toFixed(0)} → peak ${rssPeak.toFixed(0)} → ${rssAfter.toFixed(0)} MB, heap ${heapBefore.toFixed(0)} → ${heapAfter.toFixed(0)} MB; ${httpStatus5xx} HTTP 5xx`,
  };
}

async function killLoss(engine: Engine, databaseUrl: string | undefined): Promise<Outcome> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pulse-audit-kill-'));
  try {
    const outcome = await killUnderLoad({ dataDir, databaseUrl, devices: 300, killAfterAcks: 1500, maxMessages: 3000 });
    return {
      scenario: 'kill -9',
      engine,
      attempts: outcome.acknowledged,
      failures: outcome.lost.map((key) => `acknowledged ${key} was lost`),
      notes: `${outcome.sent} sent, ${outcome.acknowledged} acknowledged before the kill, ${outcome.lost.length} lost`,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Graceful restarts and kills in turn, with clients that knock again at once while each process starts. */
async function restartLoss(engine: Engine, databaseUrl: string | undefined): Promise<Outcome> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pulse-audit-restart-'));
  try {
    const outcome = await restartUnderLoad({
      dataDir,
      databaseUrl,
      devices: 300,
      restarts: ['SIGTERM', 'SIGKILL', 'SIGTERM', 'SIGKILL'],
      killAfterAcks: 300,
      // At most 10 messages per device: inside the default rate limit (burst 20), so none is RATE_LIMITED.
      maxMessages: 300 * 10,
    });
    return {
      scenario: 'restarts',
      engine,
      attempts: outcome.acknowledged,
      failures: outcome.lost.map((key) => `acknowledged ${key} was lost`),
      notes: `${outcome.restarts} restarts (graceful and kill -9 in turn), ${outcome.sent} sent, ${outcome.acknowledged} acknowledged, ${outcome.lost.length} lost`,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A fresh PostgreSQL database for the processes the audit starts, or none for PGlite. */
async function freshDatabase(engine: Engine): Promise<{ url: string | undefined; drop(): Promise<void> }> {
  if (engine === 'pglite') return { url: undefined, drop: async () => undefined };
  const name = uniqueName('pulse_test_audit');
  await asSuperuser((client) => client.query(`CREATE DATABASE ${name}`));
  return { url: urlFor(name), drop: () => dropDatabase(name) };
}

async function auditEngine(engine: Engine): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const inProcess = Object.entries({
    'cross-tenant': crossTenant,
    'wrong-role': wrongRole,
    forged: forgedTokens,
    ssrf,
  });
  const chosenInProcess = inProcess.filter(([name]) => chosen(name)).map(([, scenario]) => scenario);
  if (chosenInProcess.length > 0) {
    const pulse = await startTestPlatform(engine, { SSRF_ALLOWLIST: '192.0.2.10', API_RATE_LIMIT: '1000000' });
    try {
      const world = await seedWorld(pulse);
      for (const scenario of chosenInProcess) outcomes.push(await scenario(world, engine));
    } finally {
      await pulse.close();
    }
  }
  const inProcesses = Object.entries({ fuzz, kill: killLoss, restarts: restartLoss }).filter(([name]) => chosen(name));
  for (const [, scenario] of inProcesses) {
    const database = await freshDatabase(engine);
    try {
      outcomes.push(await scenario(engine, database.url));
    } finally {
      await database.drop();
    }
  }
  return outcomes;
}

const outcomes: Outcome[] = [];
for (const engine of ENGINES) {
  for (const outcome of await auditEngine(engine)) {
    outcomes.push(outcome);
    console.log(
      `${outcome.engine} ${outcome.scenario}: ${outcome.attempts} attempts, ${outcome.failures.length} failures`,
    );
  }
}

const table = outcomes.map((o) => ({
  scenario: o.scenario,
  engine: o.engine,
  attempts: o.attempts,
  'refused or harmless': o.attempts - Math.min(o.failures.length, o.attempts),
  failures: o.failures.length,
  notes: o.notes ?? '',
}));
console.table(table);
for (const o of outcomes)
  for (const failure of o.failures.slice(0, 20)) console.log(`FAIL ${o.engine} ${o.scenario}: ${failure}`);
mkdirSync('audit/results', { recursive: true });
const file = `audit/results/security-${new Date().toISOString().replaceAll(':', '-')}.json`;
writeFileSync(
  file,
  `${JSON.stringify({ date: new Date().toISOString(), seed: SEED, fuzz: FUZZ, outcomes }, null, 2)}\n`,
);
console.log(`wrote ${file}`);
process.exit(outcomes.some((o) => o.failures.length > 0) ? 1 : 0);
