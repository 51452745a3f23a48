// The simulator against a running Pulse: it provisions and activates its devices through the API, then
// publishes messages shaped as docs/wire-contract.md#message-payload with valid tokens over MQTT or HTTP.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/simulator/device-model.js';
import { startSimulator } from '../../src/simulator/index.js';
import { uniqueName } from '../helpers/databases.js';
import { clearMqttSession, startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { SIMULATED_METRIC_NAMES } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/wait.js';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const TENANTS = [
  { tenantId: 'sim-a', sites: ['site-1', 'site-2'] },
  { tenantId: 'sim-b', sites: ['site-3'] },
];
const FAST = { heartbeatSeconds: 1, telemetrySeconds: 1, uplinkDrops: { periodSeconds: 0, durationSeconds: 0 } };

const BROKER = 'mqtt://127.0.0.1:1883';

describe('device simulator', () => {
  const clientId = uniqueName('pulse_test_simulator');
  let pulse: TestPlatform;
  beforeAll(async () => {
    // On Mosquitto, where a test may listen to device topics (the embedded broker refuses that: their
    // payloads carry tokens).
    pulse = await startTestPlatform('pglite', {
      MQTT_URL: BROKER,
      MQTT_CLIENT_ID: clientId,
      MQTT_SHARED_GROUP: clientId,
    });
  });
  afterAll(async () => {
    await pulse?.close();
    await clearMqttSession(BROKER, clientId);
  });

  it('provisions its devices through the API and publishes messages as the original simulator does over MQTT', async () => {
    const listener = await mqtt.connectAsync(pulse.mqttUrl!);
    const messages: { topic: string; payload: any }[] = [];
    const replies: { topic: string; payload: any }[] = [];
    listener.on('message', (topic, payload) => {
      const message = { topic, payload: JSON.parse(payload.toString()) };
      (/\/(heartbeat|telemetry)$/.test(topic) ? messages : replies).push(message);
    });
    await listener.subscribeAsync(TENANTS.map((tenant) => `tenant/${tenant.tenantId}/device/+/+`));

    const simulator = await startSimulator({
      ...FAST,
      apiUrl: pulse.base,
      adminKey: TEST_ADMIN_KEY,
      transport: 'mqtt',
      mqttUrl: pulse.mqttUrl,
      deviceCount: 4,
      tenants: TENANTS,
      random: seededRandom(1),
    });
    const sendersOf = (list: { topic: string }[]) => new Set(list.map((m) => m.topic.split('/').slice(0, 4).join('/')));
    // Every device has spoken, telemetry among it.
    await waitFor(
      () => sendersOf(messages).size === 4 && messages.some((m) => m.payload.msg_type === 'telemetry'),
      10_000,
    );
    await simulator.stop();
    // The broker has delivered the last messages: all that were sent, and each device's goodbye.
    await waitFor(
      () =>
        messages.length === simulator.stats().sent &&
        replies.filter((reply) => reply.topic.endsWith('/commands_offline')).length === 4,
    );
    await listener.endAsync();

    const registry = await pulse.db.withService((tx) =>
      tx.query<{ tenant_id: string; device_id: string; site_id: string; provision_token_hash: string }>(
        `SELECT tenant_id, device_id, site_id, provision_token_hash FROM device_registry WHERE tenant_id LIKE 'sim-%'`,
      ),
    );
    expect(registry.rows.map((r) => `${r.tenant_id}/${r.device_id}/${r.site_id}`).sort()).toEqual([
      'sim-a/dev-0001/site-1',
      'sim-a/dev-0003/site-2',
      'sim-b/dev-0002/site-3',
      'sim-b/dev-0004/site-3',
    ]);

    const stats = simulator.stats();
    expect(stats.devices).toBe(4);
    expect(stats.sent).toBe(messages.length);
    expect(stats.rejected).toBe(0);
    const senders = sendersOf(messages);
    expect(senders.size).toBe(4);
    // Each device is ready for commands once connected, and says it goes when stopped.
    for (const sender of senders) {
      const said = replies.filter((reply) => reply.topic.startsWith(`${sender}/`)).map((r) => r.topic.split('/')[4]);
      expect(said).toEqual(['commands_ready', 'commands_offline']);
    }

    for (const { topic, payload } of messages) {
      const [, tenant, , device, type] = topic.split('/');
      const row = registry.rows.find((r) => r.tenant_id === tenant && r.device_id === device)!;
      expect(['heartbeat', 'telemetry']).toContain(type);
      expect(payload).toMatchObject({ tenant_id: tenant, device_id: device, site_id: row.site_id, msg_type: type });
      expect(sha256(payload.provision_token)).toBe(row.provision_token_hash);
      expect(Number.isInteger(payload.seq)).toBe(true);
      expect(Number.isNaN(Date.parse(payload.ts))).toBe(false);
      if (type === 'telemetry') {
        expect(Object.keys(payload.metrics).sort()).toEqual(SIMULATED_METRIC_NAMES);
      } else {
        expect(payload.metrics).toBeUndefined();
        expect(payload.fw_version).toBe('1.0.0');
      }
    }
    expect(messages.some((m) => m.payload.msg_type === 'telemetry')).toBe(true);
  });

  describe('over HTTP', () => {
    let front: Server;
    let frontUrl: string;
    const ingestRequests: { url: string; token: string | undefined; body: any }[] = [];

    // A front server that passes provisioning through to Pulse and records ingest requests.
    beforeAll(async () => {
      front = createServer(async (request: IncomingMessage, response) => {
        const chunks: Buffer[] = [];
        for await (const chunk of request) chunks.push(chunk as Buffer);
        const body = Buffer.concat(chunks).toString();
        if (request.url!.startsWith('/ingest/')) {
          ingestRequests.push({
            url: request.url!,
            token: request.headers['x-provision-token'] as string,
            body: JSON.parse(body),
          });
          response.writeHead(request.url!.includes('dev-0002') ? 403 : 202).end('{}');
          return;
        }
        // Hop-by-hop and length headers are the proxy's own business (fetch sets them for the new body).
        const { host: _host, connection: _connection, 'content-length': _length, ...headers } = request.headers;
        const upstream = await fetch(`${pulse.base}${request.url}`, {
          method: request.method,
          headers: headers as Record<string, string>,
          body: body || undefined,
        });
        response.writeHead(upstream.status, { 'content-type': 'application/json' }).end(await upstream.text());
      });
      await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
      const address = front.address();
      frontUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    });
    afterAll(() => new Promise<void>((resolve) => front.close(() => resolve())));

    it('posts to /ingest/v1 with X-Provision-Token and counts non-2xx answers as rejected', async () => {
      const simulator = await startSimulator({
        ...FAST,
        apiUrl: frontUrl,
        adminKey: TEST_ADMIN_KEY,
        transport: 'http',
        deviceCount: 2,
        tenants: [{ tenantId: 'sim-http', sites: ['s'] }],
      });
      // Both devices have sent, one of them refused.
      await waitFor(() => new Set(ingestRequests.map((r) => r.url.split('/')[6])).size === 2, 10_000);
      await simulator.stop();

      expect(ingestRequests.length).toBeGreaterThan(0);
      for (const request of ingestRequests) {
        expect(request.url).toMatch(/^\/ingest\/v1\/tenant\/sim-http\/device\/dev-000[12]\/(heartbeat|telemetry)$/);
        expect(request.token).toMatch(/^tok-[A-Za-z0-9_-]{32}$/);
        expect(request.body.provision_token).toBeUndefined();
        expect(request.body.site_id).toBe('s');
      }
      const stats = simulator.stats();
      expect(stats.sent).toBe(ingestRequests.length);
      expect(stats.rejected).toBe(ingestRequests.filter((r) => r.url.includes('dev-0002')).length);
      expect(stats.rejected).toBeGreaterThan(0);
    });
  });
});
