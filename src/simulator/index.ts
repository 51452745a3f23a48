// The device simulator: registers its devices through the provisioning API (bulk), activates each one
// like a real device would, then publishes heartbeats and telemetry over MQTT or HTTP once a second tick.
// Over MQTT each device has its own connection, logged in as `<tenant>/<device>` with its token, as
// brokers with device logins (the embedded one in PROD, Mosquitto with dynsec) require.
import mqtt, { type MqttClient } from 'mqtt';
import {
  defaultDeviceModelSettings,
  initialReadings,
  isUplinkDown,
  nextReadings,
  telemetryMetrics,
  type DeviceModelSettings,
  type DeviceReadings,
  type Random,
  type UplinkDrops,
} from './device-model.js';

export interface SimulatorOptions {
  /** Base URL of Pulse's HTTP server (provisioning and, for the http transport, ingest). */
  apiUrl: string;
  adminKey: string;
  transport: 'mqtt' | 'http';
  mqttUrl?: string | undefined;
  /** The CA that signed an mqtts:// or wss:// broker's certificate (MQTT_CA_FILE). */
  mqttCa?: Buffer | undefined;
  qos?: 0 | 1;
  deviceCount: number;
  /** Devices are spread round-robin over these tenants, and within a tenant over its sites. */
  tenants: { tenantId: string; sites: string[] }[];
  heartbeatSeconds: number;
  telemetrySeconds: number;
  uplinkDrops: UplinkDrops;
  model?: DeviceModelSettings;
  random?: Random;
}

export interface SimulatorStats {
  devices: number;
  sent: number;
  rejected: number;
  /** Messages per second over the last 10 s. */
  rate: number;
}

export interface RunningSimulator {
  stats(): SimulatorStats;
  stop(): Promise<void>;
}

interface SimulatedDevice {
  tenantId: string;
  siteId: string;
  deviceId: string;
  token: string;
  phase: number;
  readings: DeviceReadings;
}

export async function startSimulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const random = options.random ?? Math.random;
  const model = options.model ?? defaultDeviceModelSettings;
  const devices = await provisionDevices(options, random);

  const clients =
    options.transport === 'mqtt'
      ? await connectDevices(devices, options.mqttUrl ?? 'mqtt://localhost:1883', options.mqttCa)
      : undefined;
  const counters = { sent: 0, rejected: 0 };
  const recent: number[] = []; // messages sent in each of the last 10 ticks
  const started = Date.now();
  let sending = Promise.resolve();

  const tick = () => {
    const elapsed = Math.floor((Date.now() - started) / 1000);
    const messages: { device: SimulatedDevice; type: 'heartbeat' | 'telemetry'; payload: object }[] = [];
    for (const device of devices) {
      if (isUplinkDown(elapsed, device.phase, options.uplinkDrops)) continue;
      const base = {
        ts: new Date().toISOString(),
        tenant_id: device.tenantId,
        site_id: device.siteId,
        device_id: device.deviceId,
        seq: elapsed,
        provision_token: device.token,
      };
      if ((elapsed + device.phase) % options.heartbeatSeconds === 0) {
        messages.push({ device, type: 'heartbeat', payload: { ...base, msg_type: 'heartbeat' } });
      }
      if ((elapsed + device.phase) % options.telemetrySeconds === 0) {
        device.readings = nextReadings(device.readings, random, model);
        const metrics = telemetryMetrics(device.readings, model.extraMetrics);
        messages.push({ device, type: 'telemetry', payload: { ...base, msg_type: 'telemetry', metrics } });
      }
    }
    recent.push(messages.length);
    if (recent.length > 10) recent.shift();
    // Ticks never overlap: a slow HTTP round trip delays the next batch instead of piling them up.
    sending = sending.then(() =>
      Promise.all(
        messages.map(async ({ device, type, payload }) => {
          const client = clients?.get(device);
          const accepted = clients
            ? client !== undefined && (await publishMqtt(client, device, type, payload, options.qos ?? 0))
            : await postHttp(options.apiUrl, device, type, payload);
          counters.sent += 1;
          if (!accepted) counters.rejected += 1;
        }),
      ).then(() => undefined),
    );
  };
  const timer = setInterval(tick, 1000);
  tick();

  return {
    stats: () => ({
      devices: devices.length,
      ...counters,
      rate: recent.reduce((sum, n) => sum + n, 0) / Math.max(1, recent.length),
    }),
    async stop() {
      clearInterval(timer);
      await sending;
      await Promise.all([...(clients?.values() ?? [])].map((client) => client.endAsync()));
    },
  };
}

/** Registers the devices in one bulk request and activates each, returning their provision tokens. */
async function provisionDevices(options: SimulatorOptions, random: Random): Promise<SimulatedDevice[]> {
  const plan = Array.from({ length: options.deviceCount }, (_, i) => {
    const tenant = options.tenants[i % options.tenants.length]!;
    const indexInTenant = Math.floor(i / options.tenants.length);
    return {
      tenant_id: tenant.tenantId,
      site_id: tenant.sites[indexInTenant % tenant.sites.length]!,
      device_id: `dev-${String(i + 1).padStart(4, '0')}`,
      metadata: { simulated: true },
    };
  });
  const registered = await request<{ devices: { tenant_id: string; device_id: string; activation_code: string }[] }>(
    `${options.apiUrl}/api/admin/devices/bulk`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-admin-key': options.adminKey },
      body: JSON.stringify(plan),
    },
  );
  const codes = new Map(registered.devices.map((d) => [`${d.tenant_id}/${d.device_id}`, d.activation_code]));

  const devices: SimulatedDevice[] = [];
  const queue = [...plan];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const activated = await request<{ provision_token: string }>(`${options.apiUrl}/api/device/activate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          tenant_id: next.tenant_id,
          device_id: next.device_id,
          activation_code: codes.get(`${next.tenant_id}/${next.device_id}`),
        }),
      });
      devices.push({
        tenantId: next.tenant_id,
        siteId: next.site_id,
        deviceId: next.device_id,
        token: activated.provision_token,
        phase:
          devices.length %
          Math.max(options.heartbeatSeconds, options.telemetrySeconds, options.uplinkDrops.periodSeconds),
        readings: initialReadings(random),
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return devices.sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}

async function request<T>(url: string, init: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  const body = (await response.json().catch(() => ({}))) as T & { detail?: unknown };
  if (!response.ok) {
    throw new Error(
      `${init.method ?? 'GET'} ${url} answered ${response.status}: ${JSON.stringify(body.detail ?? body)}`,
    );
  }
  return body;
}

const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30_000;

/** Waits twice as long after each failed attempt (up to 30 s), and from 1 s again once connected. */
export function reconnectWithBackoff(client: MqttClient): MqttClient {
  // A refused or broken connection is emitted as an error; the reconnect below is the answer to it.
  client.on('error', () => undefined);
  client.on('close', () => {
    client.options.reconnectPeriod = Math.min((client.options.reconnectPeriod ?? 0) * 2, RECONNECT_MAX_MS);
  });
  client.on('connect', () => {
    client.options.reconnectPeriod = RECONNECT_MIN_MS;
  });
  return client;
}

/** One logged-in connection per device, eight connecting at a time. */
async function connectDevices(devices: SimulatedDevice[], url: string, ca: Buffer | undefined) {
  const clients = new Map<SimulatedDevice, MqttClient>();
  const queue = [...devices];
  const worker = async () => {
    for (let device = queue.shift(); device; device = queue.shift()) {
      clients.set(
        device,
        reconnectWithBackoff(
          await mqtt.connectAsync(url, {
            // A login's client id is its user name: the one Mosquitto with dynsec lets it use.
            clientId: `${device.tenantId}/${device.deviceId}`,
            username: `${device.tenantId}/${device.deviceId}`,
            password: device.token,
            reconnectPeriod: RECONNECT_MIN_MS,
            // Pulse restarting answers "server unavailable": mqtt.js gives up on any refusal unless told.
            reconnectOnConnackError: true,
            ...(ca && { ca }),
          }),
        ),
      );
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return clients;
}

async function publishMqtt(
  client: MqttClient,
  device: SimulatedDevice,
  type: string,
  payload: object,
  qos: 0 | 1,
): Promise<boolean> {
  try {
    await client.publishAsync(`tenant/${device.tenantId}/device/${device.deviceId}/${type}`, JSON.stringify(payload), {
      qos,
    });
    return true;
  } catch {
    return false;
  }
}

async function postHttp(apiUrl: string, device: SimulatedDevice, type: string, payload: object): Promise<boolean> {
  const { provision_token: token, ...body } = payload as { provision_token: string };
  try {
    const response = await fetch(
      `${apiUrl}/ingest/v1/tenant/${encodeURIComponent(device.tenantId)}/device/${encodeURIComponent(device.deviceId)}/${type}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-provision-token': token },
        body: JSON.stringify(body),
      },
    );
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
