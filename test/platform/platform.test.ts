// Starting and stopping Pulse: /health, ports already taken, the embedded broker.
import { connect, createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { UP_COMPONENTS } from '../helpers/fixtures.js';

function occupyPort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

describe('a running platform', () => {
  let pulse: TestPlatform;
  let taken: { server: Server; port: number }[];

  beforeAll(async () => {
    taken = [await occupyPort(), await occupyPort()];
    pulse = await startTestPlatform(
      'pglite',
      // HTTP on every interface, as by default: the broker stays on loopback all the same.
      { PORT: String(taken[0]!.port), MQTT_PORT: String(taken[1]!.port), HOST: '0.0.0.0' },
      undefined,
      { embeddedBroker: true },
    );
  });
  afterAll(async () => {
    await pulse?.close();
    for (const { server } of taken) server.close();
  });

  it('moves to free ports when the configured ones are taken', () => {
    expect(pulse.httpPort).not.toBe(taken[0]!.port);
    expect(pulse.httpPort).toBeGreaterThan(0);
    expect(pulse.mqttUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(pulse.mqttUrl).not.toContain(`:${taken[1]!.port}`);
  });

  it('answers /health with 200 and the status of every role and dependency', async () => {
    const response = await pulse.call('/health', { admin: false });
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('ok');
    expect(Object.keys(response.body.components).sort()).toEqual(UP_COMPONENTS);
    expect(response.body.components.database).toMatchObject({ status: 'ok', engine: 'pglite' });
    expect(response.body.components.database.latency_ms).toBeGreaterThanOrEqual(0);
    for (const component of Object.values(response.body.components)) expect(component).toMatchObject({ status: 'ok' });
  });

  it('runs an MQTT broker: devices publish, clients subscribe, but never to device topics (they hold tokens)', async () => {
    const subscriber = await mqtt.connectAsync(pulse.mqttUrl!);
    const publisher = await mqtt.connectAsync(pulse.mqttUrl!);
    try {
      // mqtt.js rejects a SUBACK with a refusal (0x80) in it; the packet says which were refused.
      const refused = await subscriber.subscribeAsync(['tenant/+/device/+/+', '#', 'tenant/acme/#'], { qos: 1 }).then(
        () => 'granted',
        (error: { packet?: { granted?: number[] } }) => error.packet?.granted,
      );
      expect(refused).toEqual([128, 128, 128]);
      expect((await subscriber.subscribeAsync('site/+/status', { qos: 1 })).map((g) => g.qos)).toEqual([1]);
      const received: string[] = [];
      subscriber.on('message', (topic) => received.push(topic));
      await publisher.publishAsync('tenant/t1/device/d1/heartbeat', '{"site_id":"s"}', { qos: 1 });
      await publisher.publishAsync('site/s1/status', 'up', { qos: 1 });
      await expect.poll(() => received).toEqual(['site/s1/status']);
      const health = await pulse.call('/health', { admin: false });
      expect(health.body.components.broker.clients).toBeGreaterThanOrEqual(2);
    } finally {
      await subscriber.endAsync();
      await publisher.endAsync();
    }
  });

  it('keeps the embedded broker on loopback unless MQTT_HOST opens it (it takes anonymous clients)', async () => {
    const port = Number(new URL(pulse.mqttUrl!).port);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
    // A machine without a network address has nothing to prove here beyond the URL.
    expect(new URL(pulse.mqttUrl!).hostname).toBe('127.0.0.1');
    if (!external) return;
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect(port, external);
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(outcome).toBe('ECONNREFUSED');
  });

  it('redirects / to the web app and serves it at /app/', async () => {
    const root = await fetch(`${pulse.base}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/app/');
    const app = await fetch(`${pulse.base}/app/`);
    // The SPA is built by `npm install`; a checkout without a build gets a 503 that says how to fix it.
    expect([200, 503]).toContain(app.status);
    if (app.status !== 200) return;
    const page = await app.text();
    expect(page).toContain('<title>Pulse</title>');
    // Assets, named by their content, are kept by the browser; the page that names them is asked for again.
    expect(app.headers.get('cache-control')).toBe('no-cache');
    const deepLink = await fetch(`${pulse.base}/app/devices/d-1`);
    expect(deepLink.headers.get('cache-control')).toBe('no-cache');
    const asset = page.match(/\/app\/assets\/[^"]+\.js/)![0];
    const script = await fetch(`${pulse.base}${asset}`);
    expect(script.status).toBe(200);
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('adds the five demo alert rules to a demo tenant once', async () => {
    const { seedDemoRules } = await import('../../src/app/demo.js');
    expect(await seedDemoRules(pulse.db, ['demo-x'])).toBe(5);
    expect(await seedDemoRules(pulse.db, ['demo-x'])).toBe(0);
    const { rows } = await pulse.db.withTenant('demo-x', (tx) =>
      tx.query<{ name: string; severity: number }>(`SELECT name, severity FROM alert_rules ORDER BY id`),
    );
    expect(rows.map((r) => [r.name, r.severity])).toEqual([
      ['Low Battery Warning', 2],
      ['Critical Battery', 5],
      ['High Temperature', 3],
      ['Freezing Alert', 2],
      ['Weak Signal', 4],
    ]);
  });

  it('answers unknown paths with a FastAPI-style 404', async () => {
    expect(await pulse.call('/nope', { admin: false })).toMatchObject({ status: 404, body: { detail: 'Not Found' } });
  });
});

describe('startup failures', () => {
  it('refuses to run roles against a database whose schema is behind, saying what to do', async () => {
    const { loadConfig } = await import('../../src/config.js');
    const { startPlatform } = await import('../../src/app/platform.js');
    const { createLogger } = await import('../../src/app/log.js');
    const config = loadConfig({ PULSE_DATA_DIR: 'memory://', PORT: '0', HOST: '127.0.0.1', ADMIN_KEY: 'x'.repeat(20) });
    await expect(
      startPlatform({
        config,
        roles: ['provision'],
        log: createLogger('silent', { pretty: false }),
        migrate: false,
        embeddedBroker: false,
      }),
    ).rejects.toThrow(/the database schema is missing \d+ migration\(s\); run `pulse migrate` first/);
  });
});

describe('the embedded broker on a taken port', () => {
  it('falls back to the same port at every restart on one data dir', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'pulse-port-'));
    const taken = await occupyPort();
    try {
      const start = () =>
        startTestPlatform('pglite', { PULSE_DATA_DIR: dataDir, MQTT_PORT: String(taken.port) }, [], {
          embeddedBroker: true,
        });
      const first = await start();
      const url = first.mqttUrl;
      await first.close();
      expect(url).not.toContain(`:${taken.port}`);
      const second = await start();
      expect(second.mqttUrl).toBe(url);
      await second.close();
    } finally {
      taken.server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a platform on PostgreSQL', () => {
  it('names its database connections after the roles it runs (pg_stat_activity shows which role holds one)', async () => {
    const pulse = await startTestPlatform('postgres', {}, ['api', 'provision']);
    try {
      const { rows } = await pulse.db.withService((tx) =>
        tx.query<{ name: string }>(
          `SELECT application_name AS name FROM pg_stat_activity WHERE pid = pg_backend_pid()`,
        ),
      );
      expect(rows[0]!.name).toBe('pulse api provision');
    } finally {
      await pulse.close();
    }
  });
});
