// Commands benchmark: `npm run bench:commands -- [--devices N] [--calls C] [--telemetry-rate R]`.
// Starts its own Mosquitto, a fresh PostgreSQL database and Pulse (`pulse run` with every role, built),
// provisions N devices (default 10,000) and connects each as a device of the documented
// protocol (docs/commands.md) that answers every command. Then:
//   1. a fleet job of one command to all N devices at unlimited rollout: wall time from the API call to
//      COMPLETED, and CPU per device of Pulse, its PostgreSQL backends, Mosquitto and the simulated devices;
//   2. C two-way calls (`POST …/commands?wait=5`, one after another) while R msg/s of telemetry flow from
//      a raw-socket generator: round trip API → device → result, p50/p99.
// Writes bench/results/commands-*.json.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { asSuperuser, dropDatabase, uniqueName, urlFor } from '../test/helpers/databases.js';
import { freePort, startMosquitto } from '../test/helpers/mosquitto.js';
import { provisionDevices } from '../test/helpers/provision.js';
import { processCpuSeconds, samplePostgresCpu } from './cpu.js';
import { RawPublisher, sendAll, simulatedTelemetry } from './mqtt-load.js';
import { benchArgs, saveResult } from './results.js';

const args = benchArgs();
const DEVICES = Number(args.get('devices') ?? 10_000);
const CALLS = Number(args.get('calls') ?? 300);
const TELEMETRY_RATE = Number(args.get('telemetry-rate') ?? 5000);
const ADMIN_KEY = 'bench-admin-key-0123456789';
const TENANT = 'bench';

const mosquitto = await startMosquitto();
const database = uniqueName('pulse_bench_commands');
await asSuperuser((client) => client.query(`CREATE DATABASE ${database}`));
const httpPort = await freePort();
const env = {
  ...process.env,
  DATABASE_URL: urlFor(database),
  MQTT_URL: mosquitto.url,
  MQTT_CLIENT_ID: `pulse-bench-commands-${process.pid}`,
  PORT: String(httpPort),
  HOST: '127.0.0.1',
  ADMIN_KEY,
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
  PULSE_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'pulse-bench-')),
  API_RATE_LIMIT: '1000000',
  COMMANDS_PER_MINUTE: '1000000',
  HEARTBEAT_STALE_SECONDS: '3600',
};
const cli = (...command: string[]) =>
  execFileSync(process.execPath, ['dist/app/cli.js', ...command], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  }).toString();
cli('migrate');
const pulse = spawn(
  process.execPath,
  [
    '--max-semi-space-size=64',
    'dist/app/cli.js',
    'run',
    'api',
    'provision',
    'ingest',
    'dispatcher',
    'evaluator',
    'delivery',
  ],
  {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  },
);
process.on('exit', () => pulse.kill('SIGTERM'));
const api = `http://127.0.0.1:${httpPort}`;
for (let i = 0; !(await fetch(`${api}/health`).catch(() => undefined))?.ok; i++) {
  if (i > 300) throw new Error('pulse did not start');
  await new Promise((resolve) => setTimeout(resolve, 100));
}

const sql = new pg.Pool({ connectionString: urlFor(database), application_name: 'pulse-bench' });
await sql.query(
  `INSERT INTO app_settings (key, value) VALUES ('RATE_LIMIT_RPS', '100000'), ('RATE_LIMIT_BURST', '100000')`,
);
const username = `bench-admin-${process.pid}`;
cli(
  'user',
  'create',
  '--username',
  username,
  '--role',
  'customer_admin',
  '--tenant',
  TENANT,
  '--password',
  'bench-password-1',
);
const token = cli('token', username).trim();
interface Answer {
  job_id: string;
  state: string;
  counts: Record<string, number>;
}
const customer = async (route: string, body?: unknown): Promise<Answer> => {
  const response = await fetch(`${api}${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${route} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Answer;
};

// Devices: provisioned through the API, each connected as the protocol says, answering every command.
const ids = Array.from({ length: DEVICES }, (_, i) => `dev-${String(i).padStart(5, '0')}`);
const plan = (deviceIds: string[]) =>
  deviceIds.map((device_id) => ({ tenant_id: TENANT, device_id, site_id: 'lab-1' }));
// One bulk request takes at most 10,000 devices.
const tokens = new Map([
  ...(await provisionDevices(api, ADMIN_KEY, plan(ids))),
  ...(await provisionDevices(api, ADMIN_KEY, plan(['rtt']))),
]);
console.log(`provisioned ${DEVICES + 1} devices`);
const connectDevice = async (deviceId: string): Promise<MqttClient> => {
  const own = `tenant/${TENANT}/device/${deviceId}`;
  const provision_token = tokens.get(`${TENANT}/${deviceId}`)!;
  const client = await mqtt.connectAsync(mosquitto.url, {
    clientId: `bench-${deviceId}`,
    clean: true,
    reconnectPeriod: 0,
  });
  client.on('message', (_topic, payload) => {
    const { id, name } = JSON.parse(payload.toString()) as { id?: string; name?: string };
    if (!id || !name) return;
    client.publish(
      `${own}/command_result`,
      JSON.stringify({ provision_token, id, status: 'SUCCEEDED', result: { pong: true } }),
      {
        qos: 1,
      },
    );
  });
  await client.subscribeAsync(`${own}/commands/#`, { qos: 1 });
  await client.publishAsync(`${own}/commands_ready`, JSON.stringify({ provision_token }), { qos: 1 });
  return client;
};
const clients: MqttClient[] = [];
for (let i = 0; i < ids.length; i += 200)
  clients.push(...(await Promise.all(ids.slice(i, i + 200).map(connectDevice))));
clients.push(await connectDevice('rtt'));
for (let i = 0; ; i++) {
  const { rows } = await sql.query(`SELECT count(*)::int AS n FROM device_control WHERE online`);
  if (rows[0].n === DEVICES + 1) break;
  if (i > 600) throw new Error(`only ${rows[0].n} devices online`);
  await new Promise((resolve) => setTimeout(resolve, 100));
}
console.log(`connected ${DEVICES + 1} devices`);

// 1. One job to every device.
const cpuOf = () => ({
  pulse: processCpuSeconds(pulse.pid!) ?? 0,
  devices: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
  mosquitto: processCpuSeconds(mosquitto.pid()!) ?? 0,
});
const postgresCpu = samplePostgresCpu(sql, database);
await postgresCpu.start();
const before = cpuOf();
const started = performance.now();
const job = await customer('/customer/jobs', {
  name: 'ping everyone',
  kind: 'command',
  command_name: 'ping',
  selector: { device_prefix: 'dev-' },
  max_in_flight: 100_000,
  timeout_seconds: 600,
});
let finished = job;
while (finished.state === 'RUNNING') {
  await new Promise((resolve) => setTimeout(resolve, 100));
  finished = await customer(`/customer/jobs/${job.job_id}`);
}
const jobSeconds = (performance.now() - started) / 1000;
const after = cpuOf();
const postgres = Object.values(await postgresCpu.stop()).reduce((sum, seconds) => sum + seconds, 0);
const perDevice = (seconds: number) => Math.round((seconds / DEVICES) * 1e6);
const jobResult = {
  devices: DEVICES,
  state: finished.state,
  counts: finished.counts,
  wall_seconds: Number(jobSeconds.toFixed(2)),
  devices_per_second: Math.round(DEVICES / jobSeconds),
  cpu_us_per_device: {
    pulse: perDevice(after.pulse - before.pulse),
    postgres: perDevice(postgres),
    mosquitto: perDevice(after.mosquitto - before.mosquitto),
    simulated_devices: perDevice(after.devices - before.devices),
  },
};
console.log('job', jobResult);

// 2. Two-way calls while telemetry flows.
const publishers = await Promise.all(
  Array.from({ length: 2 }, (_, i) =>
    RawPublisher.connect('127.0.0.1', mosquitto.port, `bench-telemetry-${i}-${process.pid}`),
  ),
);
const telemetrySeconds = Math.max(10, Math.ceil((CALLS * 0.05) / 1)) + 5;
const messages = simulatedTelemetry({
  tokens: ids.slice(0, 2000).map((id) => tokens.get(`${TENANT}/${id}`)!),
  count: TELEMETRY_RATE * telemetrySeconds,
  qos: 0,
  siteId: 'lab-1',
  seed: 7,
});
const flowing = sendAll(publishers, messages, { rate: TELEMETRY_RATE });
await new Promise((resolve) => setTimeout(resolve, 2000));
const latencies: number[] = [];
let unanswered = 0;
for (let i = 0; i < CALLS; i++) {
  const sentAt = performance.now();
  const answer = await customer('/customer/devices/rtt/commands?wait=5', { name: 'ping' });
  if (answer.state === 'SUCCEEDED') latencies.push(performance.now() - sentAt);
  else unanswered += 1;
}
const telemetrySent = await flowing;
latencies.sort((a, b) => a - b);
const quantile = (q: number) =>
  Number(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(1));
const roundTrip = {
  calls: CALLS,
  unanswered,
  telemetry_rate_offered: TELEMETRY_RATE,
  telemetry_seconds: Number(telemetrySent.toFixed(1)),
  p50_ms: quantile(0.5),
  p99_ms: quantile(0.99),
  max_ms: Number(latencies.at(-1)!.toFixed(1)),
};
console.log('round trip', roundTrip);
saveResult('commands', { job: jobResult, round_trip: roundTrip });

for (const client of clients) client.end(true);
pulse.kill('SIGTERM');
await new Promise((resolve) => pulse.once('exit', resolve));
await sql.end();
await mosquitto.close();
await dropDatabase(database);
process.exit(0);
