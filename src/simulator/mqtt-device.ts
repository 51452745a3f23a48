// One simulated device's MQTT connection, the edge of device-commands.ts: logged in as `<tenant>/<device>`
// with its token, its last will `commands_offline`, subscribed to its commands subtree and saying
// `commands_ready` at every (re)connection; it answers what arrives, reboots (a clean disconnect, back a
// few seconds later) and downloads firmware. Replies carry the token, as its telemetry does, for brokers
// that do not vouch for the topic.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { firmwareOutcome } from '../model/command-protocol.js';
import {
  afterDownload,
  firmwareUrl,
  handleMessage,
  type Action,
  type DeviceControl,
  type FirmwareUpdate,
  type Reply,
} from './device-commands.js';

const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30_000;
const REBOOT_MS = 3000;
/** Between a firmware update's steps, so they can be watched. */
const FIRMWARE_STEP_MS = 500;
const DOWNLOAD_TIMEOUT_MS = 60_000;

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

/** What the connection needs of a simulated device; `control` is what its commands change. */
export interface LinkedDevice {
  tenantId: string;
  deviceId: string;
  token: string;
  phase: number;
  /** Connects only now and then (MQTT). */
  sleepy: boolean;
  control: DeviceControl;
}

export interface LinkSettings {
  url: string;
  ca: Buffer | undefined;
  /** Pulse's HTTP base URL: firmware URLs may be relative to it. */
  apiUrl: string;
  /** Counts a command answered for good (a result, or the end of a firmware update). */
  onAnswered: () => void;
}

export class MqttDevice {
  /** Set while connected, or reconnecting after a broken connection; unset while asleep or rebooting. */
  client: MqttClient | undefined;
  private pending: MqttClient | undefined;
  private connecting: Promise<void> | undefined;
  private answering = Promise.resolve();
  private rebootUntil = 0;
  private stopped = false;

  constructor(
    readonly device: LinkedDevice,
    private readonly settings: LinkSettings,
  ) {}

  private get own(): string {
    return `tenant/${this.device.tenantId}/device/${this.device.deviceId}`;
  }

  /** Whether it may connect now: not connected or connecting, not rebooting, not stopped. */
  get canConnect(): boolean {
    return !this.client && !this.connecting && !this.stopped && Date.now() >= this.rebootUntil;
  }

  /** Connects and says it is ready for commands; rejects when the broker refuses. */
  connect(): Promise<void> {
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const login = `${this.device.tenantId}/${this.device.deviceId}`;
    const client = await this.connectClient({
      // A login's client id is its user name: the one Mosquitto with dynsec lets it use.
      clientId: login,
      username: login,
      password: this.device.token,
      reconnectPeriod: RECONNECT_MIN_MS,
      // Pulse restarting answers "server unavailable": mqtt.js gives up on any refusal unless told.
      reconnectOnConnackError: true,
      will: { topic: `${this.own}/commands_offline`, payload: Buffer.from(this.body({})), qos: 1, retain: false },
      ...(this.settings.ca && { ca: this.settings.ca }),
    });
    if (this.stopped) {
      await client.endAsync(true);
      return;
    }
    reconnectWithBackoff(client);
    client.on('message', (topic, payload) => this.receive(topic, payload));
    // After a broken connection: the broker has forgotten the subscription and Pulse thinks it gone.
    client.on('connect', () => void this.ready(client).catch(() => undefined));
    this.client = client;
    await this.ready(client);
  }

  /** mqtt.connectAsync, with the client at hand to end if the simulator stops while it connects. */
  private connectClient(options: IClientOptions): Promise<MqttClient> {
    const client = mqtt.connect(this.settings.url, options);
    this.pending = client;
    return new Promise<MqttClient>((resolve, reject) => {
      const settle = (error?: Error) => {
        client.off('connect', onConnect).off('error', onError).off('end', onEnd);
        this.pending = undefined;
        if (error) {
          client.end(true);
          reject(error);
        } else resolve(client);
      };
      const onConnect = () => settle();
      const onError = (error: Error) => settle(error);
      const onEnd = () => settle(new Error('the simulator stopped'));
      client.on('connect', onConnect).on('error', onError).on('end', onEnd);
    });
  }

  private async ready(client: MqttClient): Promise<void> {
    const [granted] = await client.subscribeAsync(`${this.own}/commands/#`, { qos: 1 });
    if (granted?.qos === 128)
      throw new Error(
        `the broker refused ${this.device.tenantId}/${this.device.deviceId} its commands (${this.own}/commands/#): give device logins that subscription`,
      );
    await this.publish('commands_ready', {});
  }

  /** Says it goes (commands_offline), then disconnects. */
  async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (client.connected) await this.publish('commands_offline', {}, client).catch(() => undefined);
    await client.endAsync(!client.connected);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pending?.end(true);
    await this.connecting?.catch(() => undefined);
    await this.disconnect();
  }

  private body(payload: Record<string, unknown>): string {
    return JSON.stringify({ ...payload, provision_token: this.device.token });
  }

  private async publish(type: string, payload: Record<string, unknown>, client = this.client): Promise<void> {
    if (!client) throw new Error(`${this.device.deviceId} is not connected`);
    await client.publishAsync(`${this.own}/${type}`, this.body(payload), { qos: 1 });
  }

  private receive(topic: string, payload: Buffer): void {
    const prefix = `${this.own}/commands/`;
    if (!topic.startsWith(prefix)) return;
    const handled = handleMessage(this.device.control, topic.slice(prefix.length), payload, Date.now());
    this.device.control = handled.control;
    // One message's actions in order, and messages in the order they came.
    this.answering = this.answering.then(() => this.perform(handled.actions)).catch(() => undefined);
  }

  private async perform(actions: Action[]): Promise<void> {
    for (const action of actions) {
      if (action.kind === 'publish') await this.reply(action.reply);
      else if (action.kind === 'reboot') await this.reboot();
      else void this.install(action.id, action.update).catch(() => undefined);
    }
  }

  private async reply(reply: Reply): Promise<void> {
    await this.publish(reply.type, reply.payload);
    const state = reply.payload.state;
    if (reply.type === 'command_result' || (typeof state === 'string' && firmwareOutcome(state)))
      this.settings.onAnswered();
  }

  private async reboot(): Promise<void> {
    await this.disconnect();
    this.rebootUntil = Date.now() + REBOOT_MS;
    this.device.control = { ...this.device.control, bootedAt: this.rebootUntil };
  }

  private async install(id: string, update: FirmwareUpdate): Promise<void> {
    const download = await downloadImage(update, this.settings.apiUrl);
    const handled = afterDownload(this.device.control, id, update, download);
    this.device.control = handled.control;
    for (const action of handled.actions) {
      await new Promise((resolve) => setTimeout(resolve, FIRMWARE_STEP_MS));
      if (action.kind === 'publish') await this.reply(action.reply);
    }
  }
}

/** The image, read up to one byte more than announced; or why it could not be had. */
async function downloadImage(update: FirmwareUpdate, apiUrl: string): Promise<{ image: Buffer } | { error: string }> {
  const url = firmwareUrl(update.url, apiUrl);
  if (typeof url === 'string') return { error: url };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      return { error: `GET ${url.href} answered ${response.status}` };
    }
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of response.body) {
      chunks.push(Buffer.from(chunk));
      length += chunk.length;
      if (length > update.size) break;
    }
    return { image: Buffer.concat(chunks) };
  } catch (error) {
    return { error: `could not download ${url.href}: ${(error as Error).message}` };
  }
}
