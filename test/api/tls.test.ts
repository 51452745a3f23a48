// TLS everywhere Pulse listens (issue 16 item 4), with a CA the test makes: HTTPS over HTTP/1.1 and
// HTTP/2 on the one HTTP port, MQTT over TLS on MQTT_TLS_PORT and over WebSocket at /mqtt, a renewed
// certificate taken on SIGHUP without a restart, and the simulator over mqtts://.
import { connect as connectHttp2 } from 'node:http2';
import { connect as connectTls } from 'node:tls';
import mqtt from 'mqtt';
import { Agent, setGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startSimulator } from '../../src/simulator/index.js';
import { provisionDevices } from '../helpers/provision.js';
import { startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { createTestCa, type TestCa } from '../helpers/tls.js';
import { storedRows } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'tls';

describe('TLS on the HTTP server and the embedded broker', () => {
  let ca: TestCa;
  let pulse: TestPlatform;
  let origin: string;
  let tokens: Map<string, string>;
  const clients: mqtt.MqttClient[] = [];
  const stored = (deviceId: string) => storedRows(pulse.db, TENANT, deviceId);
  const loginAs = async (url: string, deviceId: string) => {
    const client = await mqtt.connectAsync(url, {
      username: `${TENANT}/${deviceId}`,
      password: tokens.get(`${TENANT}/${deviceId}`),
      ca: ca.ca,
      reconnectPeriod: 0,
      clientId: `tls-${deviceId}-${Math.random().toString(36).slice(2)}`,
    });
    clients.push(client);
    return client;
  };
  /** The serial number of the certificate a new TLS connection to the port is served. */
  const servedSerial = (port: number) =>
    new Promise<string>((resolve, reject) => {
      const socket = connectTls({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.ca }, () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.end();
      });
      socket.on('error', reject);
    });

  beforeAll(async () => {
    ca = createTestCa();
    setGlobalDispatcher(new Agent({ connect: { ca: ca.ca } }));
    pulse = await startTestPlatform(
      'pglite',
      {
        MODE: 'PROD',
        SECRETS_KEY: 'cd'.repeat(32),
        TLS_CERT_FILE: ca.certFile,
        TLS_KEY_FILE: ca.keyFile,
        MQTT_TLS_PORT: '0',
      },
      undefined,
      { embeddedBroker: true },
    );
    origin = `https://localhost:${pulse.httpPort}`;
    tokens = await provisionDevices(
      origin,
      TEST_ADMIN_KEY,
      ['dev-s', 'dev-w', 'dev-x'].map((device_id) => ({ tenant_id: TENANT, device_id, site_id: 'site-1' })),
    );
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true).catch(() => undefined)));
    await pulse?.close();
    ca?.close();
  });

  it('serves HTTPS over HTTP/1.1 and HTTP/2 on the one port, with HSTS, and no plain HTTP', async () => {
    const health = await fetch(`${origin}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('strict-transport-security')).toBe('max-age=31536000');
    expect(pulse.httpUrl).toBe(origin);

    const session = connectHttp2(origin, { ca: ca.ca });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = session.request({ ':path': '/health' });
      let body = '';
      let status = 0;
      request.on('response', (headers) => (status = Number(headers[':status'])));
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => resolve({ status, body }));
      request.on('error', reject);
    });
    session.close();
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 'ok' });

    await expect(fetch(`http://127.0.0.1:${pulse.httpPort}/health`)).rejects.toThrow();
  });

  it('takes MQTT over TLS from a device that logs in, and stores what it sends', async () => {
    const tlsUrl = pulse.deps.embeddedBroker!.tlsUrl!;
    expect(tlsUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const device = await loginAs(tlsUrl.replace('127.0.0.1', 'localhost'), 'dev-s');
    await device.publishAsync(`tenant/${TENANT}/device/dev-s/telemetry`, '{"site_id":"site-1","metrics":{"t":1}}', {
      qos: 1,
    });
    expect(await stored('dev-s')).toBe(1); // QoS 1 acknowledged: stored
  });

  it('takes MQTT over WebSocket (wss://…/mqtt) on the HTTP port, with the same logins and limits', async () => {
    const device = await loginAs(`wss://localhost:${pulse.httpPort}/mqtt`, 'dev-w');
    await device.publishAsync(`tenant/${TENANT}/device/dev-w/telemetry`, '{"site_id":"site-1","metrics":{"t":2}}', {
      qos: 1,
    });
    expect(await stored('dev-w')).toBe(1);
    // Another device's topic closes the connection, as over TCP.
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device.publish(`tenant/${TENANT}/device/dev-s/telemetry`, '{"site_id":"site-1","metrics":{"t":3}}', { qos: 1 });
    await closed;
    expect(await stored('dev-s')).toBe(1);
    await expect(
      mqtt.connectAsync(`wss://localhost:${pulse.httpPort}/mqtt`, { ca: ca.ca, reconnectPeriod: 0 }),
    ).rejects.toThrow(/Not authorized/);
  });

  it('serves a renewed certificate after SIGHUP, on HTTPS and MQTT over TLS, without a restart', async () => {
    const mqttTlsPort = Number(new URL(pulse.deps.embeddedBroker!.tlsUrl!).port);
    const before = await servedSerial(pulse.httpPort);
    const renewed = ca.issueServerCert();
    expect(renewed).not.toBe(before);
    process.emit('SIGHUP');
    await waitFor(async () => (await servedSerial(pulse.httpPort)) === renewed, 5000);
    expect(await servedSerial(mqttTlsPort)).toBe(renewed);
    expect((await fetch(`${origin}/health`)).status).toBe(200);
  });

  it('runs the simulator over mqtts:// with the CA it is given', async () => {
    const simulator = await startSimulator({
      apiUrl: origin,
      adminKey: TEST_ADMIN_KEY,
      transport: 'mqtt',
      mqttUrl: pulse.deps.embeddedBroker!.tlsUrl!.replace('127.0.0.1', 'localhost'),
      mqttCa: ca.ca,
      qos: 1,
      deviceCount: 2,
      tenants: [{ tenantId: 'tls-sim', sites: ['lab-1'] }],
      heartbeatSeconds: 1,
      telemetrySeconds: 1,
      uplinkDrops: { periodSeconds: 0, durationSeconds: 0 },
    });
    try {
      await waitFor(async () => {
        const { rows } = await pulse.db.withService((tx) =>
          tx.query<{ n: number }>(
            `SELECT count(DISTINCT device_id)::int AS n FROM telemetry WHERE tenant_id = 'tls-sim'`,
          ),
        );
        return rows[0]!.n === 2;
      }, 15_000);
      expect(simulator.stats().rejected).toBe(0);
    } finally {
      await simulator.stop();
    }
  });

  it('refuses to start with half a TLS configuration, saying what is missing', () => {
    expect(() => loadConfig({ TLS_CERT_FILE: '/x/cert.pem' })).toThrow(/TLS_KEY_FILE is needed too/);
    expect(() => loadConfig({ MQTT_TLS_PORT: '8883' })).toThrow(/MQTT_TLS_PORT needs TLS_CERT_FILE/);
  });
});
