// A device written only from the documented command protocol (docs/commands.md) over MQTT, for tests:
// it logs in as itself, subscribes to its commands, says it is ready, and (given `answer`) acknowledges and
// answers each command it gets.
import mqtt, { type MqttClient } from 'mqtt';

export interface Received {
  topic: string;
  message: { id?: string; name?: string; params?: unknown; version?: number; desired?: unknown };
}

export type Answer = (command: Received['message']) => { status: 'SUCCEEDED' | 'FAILED'; result?: unknown };

export class TestDevice {
  received: Received[] = [];
  private client: MqttClient | undefined;
  constructor(
    private readonly url: string,
    private readonly tenantId: string,
    readonly deviceId: string,
    private readonly token: string,
    private readonly answer?: Answer,
  ) {}

  get own() {
    return `tenant/${this.tenantId}/device/${this.deviceId}`;
  }

  async connect(): Promise<void> {
    const login = `${this.tenantId}/${this.deviceId}`;
    this.client = await mqtt.connectAsync(this.url, {
      username: login,
      password: this.token,
      clientId: login,
      clean: true,
      reconnectPeriod: 0,
    });
    this.client.on('message', (topic, payload) => {
      const message = JSON.parse(payload.toString()) as Received['message'];
      this.received.push({ topic, message });
      if (this.answer && message.id && message.name) {
        const outcome = this.answer(message);
        // A device going away answers nothing (its client refuses to publish while disconnecting).
        void this.reply('command_ack', { id: message.id })
          .then(() => this.reply('command_result', { id: message.id, ...outcome }))
          .catch(() => undefined);
      }
    });
    await this.client.subscribeAsync(`${this.own}/commands/#`, { qos: 1 });
    await this.reply('commands_ready', {});
  }

  reply(type: string, body: object): Promise<unknown> {
    return this.client!.publishAsync(`${this.own}/${type}`, JSON.stringify(body), { qos: 1 });
  }

  commands() {
    return this.received.filter((r) => r.message.name).map((r) => r.message);
  }

  /** The desired configurations it was sent, oldest first. */
  configs() {
    return this.received.filter((r) => r.topic.endsWith('/commands/config')).map((r) => r.message);
  }

  async disconnect(): Promise<void> {
    await this.client?.endAsync();
    this.client = undefined;
  }
}
