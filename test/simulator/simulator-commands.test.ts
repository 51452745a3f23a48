// Simulated devices answer commands through Pulse itself (embedded broker, dispatcher sweeping every
// second): ping, set_interval and desired configuration over the API, a reboot, a sleepy device whose
// command waits QUEUED until it wakes, and a firmware update downloaded, checked and reported.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { narrow } from '../../src/db/database.js';
import type { Engine } from '../../src/db/connection.js';
import { createCommand } from '../../src/model/commands.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { pollNow, startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'simcmd';
const IMAGE = Buffer.from('simulated firmware 2.0.0\n'.repeat(100));
const SHA256 = createHash('sha256').update(IMAGE).digest('hex');

// PGlite only: what differs between the engines is the server's, which test/commands covers on both.
describe('simulated devices answer commands', () => {
  const engine: Engine = 'pglite';
  let pulse: TestPlatform;
  let simulator: RunningSimulator;
  let images: Server;
  let imageUrl: string;
  const users: Record<string, string> = {};
  const call = callerFor(() => pulse, users);
  const send = async (deviceId: string, name: string, params?: unknown, wait = 10) => {
    const sent = await call('admin', `/customer/devices/${deviceId}/commands?wait=${wait}`, 'POST', { name, params });
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    return sent.body;
  };
  const command = async (id: string) => (await call('admin', `/customer/commands/${id}`)).body;
  const config = async (deviceId: string) => (await call('admin', `/customer/devices/${deviceId}/config`)).body;

  beforeAll(async () => {
    images = createServer((request, response) => {
      if (request.url === '/fw/2.0.0.bin') response.writeHead(200).end(IMAGE);
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
    const address = images.address();
    imageUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/fw/2.0.0.bin`;

    pulse = await startTestPlatform(engine, { COMMAND_SWEEP_SECONDS: '1', API_RATE_LIMIT: '100000' }, undefined, {
      embeddedBroker: true,
    });
    await pulse.call('/operator/tenants', { json: { tenant_id: TENANT, name: TENANT } });
    users.admin = await tokenFor(pulse, { username: `simcmd-${engine}`, role: 'customer_admin', tenantId: TENANT });
    // dev-0001 and dev-0002 stay connected; dev-0003 sleeps, awake 2 s in every 6.
    simulator = await startSimulator({
      apiUrl: pulse.base,
      adminKey: TEST_ADMIN_KEY,
      transport: 'mqtt',
      mqttUrl: pulse.mqttUrl,
      deviceCount: 3,
      tenants: [{ tenantId: TENANT, sites: ['lab'] }],
      heartbeatSeconds: 1,
      telemetrySeconds: 1,
      uplinkDrops: { periodSeconds: 0, durationSeconds: 0 },
      sleep: { everyNth: 3, periodSeconds: 6, awakeSeconds: 2 },
    });
  }, 120_000);
  afterAll(async () => {
    await simulator?.stop();
    await pulse?.close();
    await new Promise((resolve) => images?.close(resolve));
  });

  it('answers ping with its uptime and firmware, and unknown commands FAILED', async () => {
    const pong = await send('dev-0001', 'ping');
    expect(pong).toMatchObject({ state: 'SUCCEEDED', result: { pong: true, fw_version: '1.0.0' } });
    expect(pong.result.uptime_s).toBeGreaterThanOrEqual(0);
    expect(pong.delivered_at).not.toBeNull();
    expect(await send('dev-0001', 'frobnicate')).toMatchObject({
      state: 'FAILED',
      error: 'unknown command frobnicate',
    });
    expect(simulator.stats().commands).toBeGreaterThanOrEqual(2);
  });

  it('sends telemetry at the interval set_interval gives, and refuses one out of range', async () => {
    const refused = await send('dev-0001', 'set_interval', { seconds: 0 });
    expect(refused).toMatchObject({ state: 'FAILED', error: expect.stringMatching(/from 1 to 3600/) });
    expect(await send('dev-0001', 'set_interval', { seconds: 4 })).toMatchObject({
      state: 'SUCCEEDED',
      result: { interval_seconds: 4 },
    });
    const since = new Date();
    const counted = async () => {
      const { rows } = await pulse.db.withService((tx) =>
        tx.query<{ device_id: string; n: number }>(
          `SELECT device_id, count(*)::int AS n FROM telemetry
           WHERE tenant_id = $1 AND msg_type = 'telemetry' AND time > $2 AND device_id IN ('dev-0001', 'dev-0002')
           GROUP BY device_id`,
          [TENANT, since],
        ),
      );
      return Object.fromEntries(rows.map((row) => [row.device_id, row.n]));
    };
    // dev-0002 still sends every second: five of its messages make the clock.
    let sent: Record<string, number> = {};
    await waitFor(async () => ((sent = await counted())['dev-0002'] ?? 0) >= 5, 15_000);
    expect(sent['dev-0001'] ?? 0).toBeLessThanOrEqual(2);
  });

  it('applies the desired configuration and reports what it applied; the delta keeps what it does not know', async () => {
    const set = await call('admin', '/customer/devices/dev-0002/config', 'PUT', {
      desired: { interval_seconds: 2, mode: 'eco' },
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    await waitFor(async () => (await config('dev-0002')).reported_version === 1, 10_000);
    expect(await config('dev-0002')).toMatchObject({
      reported: { interval_seconds: 2 },
      delta: ['mode'],
      in_sync: true,
      online: true,
    });
  });

  it('reboots: answers, goes away cleanly and comes back with a fresh uptime', async () => {
    // An uptime the reboot visibly resets: after it, the uptime is shorter than the time since the reboot.
    await waitFor(async () => (await send('dev-0002', 'ping')).result.uptime_s >= 2, 10_000);
    const rebootAt = Date.now();
    expect(await send('dev-0002', 'reboot')).toMatchObject({ state: 'SUCCEEDED', result: { rebooting: true } });
    await waitFor(async () => (await config('dev-0002')).online === false, 5000);
    await waitFor(async () => (await config('dev-0002')).online === true, 10_000);
    const pong = await send('dev-0002', 'ping');
    expect(pong.result.uptime_s).toBeLessThanOrEqual(Math.floor((Date.now() - rebootAt) / 1000));
  });

  it('keeps a sleeping device’s command QUEUED until it wakes, then the device answers and sleeps again', async () => {
    await waitFor(async () => (await config('dev-0003')).online === false, 10_000);
    const queued = await send('dev-0003', 'ping', undefined, 0);
    await pollNow(pulse, 'dispatcher'); // a command sweep sends nothing to a device asleep
    expect((await command(queued.command_id)).state).toBe('QUEUED');
    await waitFor(async () => (await command(queued.command_id)).state === 'SUCCEEDED', 10_000);
    await waitFor(async () => (await config('dev-0003')).online === false, 10_000);
  });

  it('downloads a firmware image, checks it, installs it and runs the new version; a bad image FAILS', async () => {
    // The API sends firmware only through jobs of kind firmware: the command is made as such a job would.
    const firmware = async (sha256: string) => {
      const created = await pulse.db.withService((tx) =>
        createCommand(narrow(tx, TENANT), {
          device_id: 'dev-0001',
          name: 'firmware_update',
          params: { url: imageUrl, size: IMAGE.length, sha256, version: '2.0.0' },
          expires_at: new Date(Date.now() + 60_000),
          created_by: 'test',
        }),
      );
      await waitFor(async () => ['SUCCEEDED', 'FAILED'].includes((await command(created.command_id)).state), 15_000);
      return command(created.command_id);
    };
    const bad = await firmware('0'.repeat(64));
    expect(bad).toMatchObject({
      state: 'FAILED',
      error: expect.stringMatching(/SHA-256 is [0-9a-f]{64}, not the 0{64}/),
    });

    expect(await firmware(SHA256)).toMatchObject({ state: 'SUCCEEDED', result: { fw_version: '2.0.0' } });
    const registry = await pulse.db.withService((tx) =>
      tx.query(`SELECT fw_version FROM device_registry WHERE tenant_id = $1 AND device_id = 'dev-0001'`, [TENANT]),
    );
    expect(registry.rows[0]!.fw_version).toBe('2.0.0');
    expect((await send('dev-0001', 'ping')).result.fw_version).toBe('2.0.0');
  });
});
