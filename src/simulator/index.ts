// The device simulator: registers its devices through the provisioning API (bulk), activates each one
// like a real device would, then publishes heartbeats and telemetry over MQTT or HTTP once a second tick.
// Over MQTT each device has its own connection, logged in as `<tenant>/<device>` with its token, as
// brokers with device logins (the embedded one in PROD, Mosquitto with dynsec) require, and answers its
// commands (mqtt-device.ts). Some MQTT devices sleep: they connect for a few seconds now and then, say
// hello, take what waited for them and go, as battery devices do.
import type { MqttClient } from 'mqtt';
import { initialControl } from './device-commands.js';
import {
  defaultDeviceModelSettings,
  initialReadings,
  isAwake,
  isUplinkDown,
  nextReadings,
  telemetryMetrics,
  type DeviceModelSettings,
  type DeviceReadings,
  type Random,
  type SleepSettings,
  type UplinkDrops,
} from './device-model.js';
import { MqttDevice, type LinkedDevice, type LinkSettings } from './mqtt-device.js';

export { reconnectWithBackoff } from './mqtt-device.js';

/** The firmware simulated devices start with. */
const FIRST_FIRMWARE = '1.0.0';

export interface SimulatorOptions {
  /** Base URL of Pulse's HTTP server (provisioning, firmware downloads and, for the http transport, ingest). */
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
  /** Until set_interval or the configuration's interval_seconds changes a device's. */
  telemetrySeconds: number;
  uplinkDrops: UplinkDrops;
  /** Which MQTT devices sleep, and how; none when unset. */
  sleep?: SleepSettings | undefined;
  model?: DeviceModelSettings;
  random?: Random;
}

export interface SimulatorStats {
  devices: number;
  sent: number;
  rejected: number;
  /** Commands answered: a result, or the end of a firmware update. */
  commands: number;
  /** Messages per second over the last 10 s. */
  rate: number;
}

export interface RunningSimulator {
  stats(): SimulatorStats;
  stop(): Promise<void>;
}

interface SimulatedDevice extends LinkedDevice {
  siteId: string;
  readings: DeviceReadings;
}

type MessageType = 'heartbeat' | 'telemetry';

export async function startSimulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const random = options.random ?? Math.random;
  const model = options.model ?? defaultDeviceModelSettings;
  const devices = await provisionDevices(options, random);
  const counters = { sent: 0, rejected: 0, commands: 0 };
  const links =
    options.transport === 'mqtt'
      ? await connectDevices(devices, {
          url: options.mqttUrl ?? 'mqtt://localhost:1883',
          ca: options.mqttCa,
          apiUrl: options.apiUrl,
          onAnswered: () => (counters.commands += 1),
        })
      : undefined;
  const recent: number[] = []; // messages sent in each of the last 10 ticks
  const started = Date.now();
  let sending = Promise.resolve();

  const message = (device: SimulatedDevice, type: MessageType, seq: number) => {
    const base = {
      ts: new Date().toISOString(),
      tenant_id: device.tenantId,
      site_id: device.siteId,
      device_id: device.deviceId,
      seq,
      provision_token: device.token,
    };
    // The firmware rides along for whoever listens (ingest keeps no text; the registry learns it from the update).
    if (type === 'heartbeat')
      return { device, type, payload: { ...base, msg_type: type, fw_version: device.control.fwVersion } };
    device.readings = nextReadings(device.readings, random, model);
    const metrics = telemetryMetrics(device.readings, model.extraMetrics);
    return { device, type, payload: { ...base, msg_type: type, metrics } };
  };

  // Batches never overlap: a slow HTTP round trip delays the next one instead of piling them up.
  const send = (messages: ReturnType<typeof message>[]) => {
    sending = sending.then(() =>
      Promise.all(
        messages.map(async ({ device, type, payload }) => {
          const accepted = links
            ? await publishMqtt(links.get(device)!.client, device, type, payload, options.qos ?? 0)
            : await postHttp(options.apiUrl, device, type, payload);
          counters.sent += 1;
          if (!accepted) counters.rejected += 1;
        }),
      ).then(() => undefined),
    );
  };

  /** Sleepy devices wake and sleep, rebooted ones come back; each says hello with a heartbeat and telemetry. */
  const keepConnected = (elapsed: number) => {
    for (const [device, link] of links ?? []) {
      const wanted = !device.sleepy || !options.sleep || isAwake(elapsed, device.phase, options.sleep);
      if (!wanted) {
        if (link.client) void link.disconnect();
      } else if (link.canConnect) {
        void link.connect().then(
          () => send([message(device, 'heartbeat', elapsed), message(device, 'telemetry', elapsed)]),
          // Broker away: the next tick tries again.
          () => undefined,
        );
      }
    }
  };

  const tick = () => {
    const elapsed = Math.floor((Date.now() - started) / 1000);
    keepConnected(elapsed);
    const messages: ReturnType<typeof message>[] = [];
    for (const device of devices) {
      if (isUplinkDown(elapsed, device.phase, options.uplinkDrops)) continue;
      // Asleep or rebooting: nothing to send through.
      if (links && !links.get(device)!.client) continue;
      if ((elapsed + device.phase) % options.heartbeatSeconds === 0)
        messages.push(message(device, 'heartbeat', elapsed));
      if ((elapsed + device.phase) % device.control.telemetrySeconds === 0)
        messages.push(message(device, 'telemetry', elapsed));
    }
    recent.push(messages.length);
    if (recent.length > 10) recent.shift();
    send(messages);
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
      await Promise.all([...(links?.values() ?? [])].map((link) => link.stop()));
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
      fw_version: FIRST_FIRMWARE,
      metadata: { simulated: true },
    };
  });
  // One device in everyNth sleeps: dev-0005, dev-0010… for one in five.
  const everyNth = options.sleep?.everyNth ?? 0;
  const sleepers = new Set(plan.filter((_, i) => everyNth > 0 && (i + 1) % everyNth === 0).map((d) => d.device_id));
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
        sleepy: options.transport === 'mqtt' && sleepers.has(next.device_id),
        control: initialControl(options.telemetrySeconds, FIRST_FIRMWARE, Date.now()),
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

/** One logged-in connection per device that is awake, eight connecting at a time. */
async function connectDevices(devices: SimulatedDevice[], settings: LinkSettings) {
  const links = new Map(devices.map((device) => [device, new MqttDevice(device, settings)]));
  const queue = devices.filter((device) => !device.sleepy);
  const worker = async () => {
    for (let device = queue.shift(); device; device = queue.shift()) await links.get(device)!.connect();
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return links;
}

async function publishMqtt(
  client: MqttClient | undefined,
  device: SimulatedDevice,
  type: string,
  payload: object,
  qos: 0 | 1,
): Promise<boolean> {
  if (!client) return false;
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
