// A load generator that leaves the cores to what is measured. The broker, PostgreSQL, Pulse and the
// generator share two cores here, and a generator built on MQTT.js (one packet object, one promise and
// one JSON.stringify per message, a busy loop between ticks) spent as much CPU as the ingest it loaded.
// Here every message is encoded into its MQTT PUBLISH packet before the clock starts; sending only
// stamps the packet's `ts` (and QoS 1 packet id) in place and writes a tick's packets in one syscall.
import { connect, type Socket } from 'node:net';
import { connectPacket, remainingLength } from '../src/ingest/mqtt-packets.js';
import {
  defaultDeviceModelSettings,
  initialReadings,
  nextReadings,
  seededRandom,
  telemetryMetrics,
} from '../src/simulator/device-model.js';

/** An encoded PUBLISH whose payload begins `{"ts":"<24-character ISO time>"`. */
export interface PreparedPublish {
  packet: Buffer;
  /** Where the two-byte packet id goes (QoS 1), or -1. */
  idOffset: number;
  tsOffset: number;
}

const TS_PLACEHOLDER = '0000-00-00T00:00:00.000Z';

/** `fields` is the payload's JSON after `ts` (without the leading comma), e.g. `"seq":1,"metrics":{…}`. */
export function preparePublish(topic: string, fields: string, qos: 0 | 1): PreparedPublish {
  const topicBytes = Buffer.from(topic, 'utf8');
  const payload = Buffer.from(`{"ts":"${TS_PLACEHOLDER}",${fields}}`, 'utf8');
  const variableLength = 2 + topicBytes.length + (qos > 0 ? 2 : 0);
  const header = [0x30 | (qos << 1), ...remainingLength(variableLength + payload.length)];
  const packet = Buffer.alloc(header.length + variableLength + payload.length);
  let offset = Buffer.from(header).copy(packet, 0);
  offset = packet.writeUInt16BE(topicBytes.length, offset);
  offset += topicBytes.copy(packet, offset);
  const idOffset = qos > 0 ? offset : -1;
  if (qos > 0) offset += 2;
  payload.copy(packet, offset);
  return { packet, idOffset, tsOffset: offset + '{"ts":"'.length };
}

/** One MQTT connection that writes prepared packets and counts the broker's PUBACKs. */
export class RawPublisher {
  /** QoS 1 packets written and not yet acknowledged. */
  inFlight = 0;
  acked = 0;
  private nextId = 1;
  private pending = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {}

  static async connect(host: string, port: number, clientId: string): Promise<RawPublisher> {
    const socket = connect({ host, port, noDelay: true });
    const publisher = new RawPublisher(socket);
    socket.on('data', (chunk) => publisher.read(chunk));
    socket.on('error', (error) => publisher.fail(error));
    socket.on('close', () => publisher.fail(new Error('the broker closed the connection')));
    socket.once('connect', () => socket.write(connectPacket({ clientId, clean: true, keepaliveSeconds: 60 })));
    await new Promise<void>((resolve) => publisher.waiters.push(resolve)); // CONNACK, or a failure
    if (publisher.failure) throw publisher.failure;
    return publisher;
  }

  /** Stamps and writes `messages` in one write; resolves when the socket can take more. */
  async send(messages: PreparedPublish[], ts: string): Promise<void> {
    if (this.failure) throw this.failure;
    for (const message of messages) {
      message.packet.write(ts, message.tsOffset, 'latin1');
      if (message.idOffset >= 0) {
        message.packet.writeUInt16BE(this.nextId, message.idOffset);
        this.nextId = this.nextId === 0xffff ? 1 : this.nextId + 1;
        this.inFlight += 1;
      }
    }
    const flushed = this.socket.write(Buffer.concat(messages.map((message) => message.packet)));
    if (!flushed) await new Promise((resolve) => this.socket.once('drain', resolve));
  }

  /** Resolves once at most `limit` QoS 1 packets await their PUBACK. */
  async settle(limit: number): Promise<void> {
    while (this.inFlight > limit) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.end(Buffer.from([0xe0, 0x00]), () => resolve()));
  }

  private read(chunk: Buffer) {
    let buffer = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buffer.length >= 2) {
      let length = 0;
      let multiplier = 1;
      let index = 1;
      for (; index < buffer.length; index++) {
        length += (buffer[index]! & 0x7f) * multiplier;
        multiplier *= 128;
        if ((buffer[index]! & 0x80) === 0) break;
      }
      const end = index + 1 + length;
      if (index >= buffer.length || buffer.length < end) break;
      const type = buffer[0]! >> 4;
      if (type === 4) {
        this.inFlight -= 1; // PUBACK
        this.acked += 1;
      }
      if (type === 2 && buffer[index + 2] !== 0) this.fail(new Error(`CONNACK refused: ${buffer[index + 2]}`));
      buffer = buffer.subarray(end);
    }
    this.pending = Buffer.from(buffer);
    this.wake();
  }

  private fail(error: Error) {
    this.failure ??= error;
    this.wake();
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}

/**
 * Sends `messages` over `publishers` at `rate` per second (Infinity: as fast as the sockets take them),
 * in ticks of at most `tickSize` messages, sleeping between ticks instead of spinning.
 * QoS 1 keeps at most `window` unacknowledged packets per connection. Returns the seconds it took.
 */
export async function sendAll(
  publishers: RawPublisher[],
  messages: PreparedPublish[],
  options: { rate: number; tickSize?: number; window?: number },
): Promise<number> {
  const tickSize = options.tickSize ?? 1000;
  const window = options.window ?? 20_000;
  const started = performance.now();
  let sent = 0;
  let turn = 0;
  while (sent < messages.length) {
    const elapsed = (performance.now() - started) / 1000;
    const due = Math.min(messages.length, options.rate === Infinity ? Infinity : Math.floor(elapsed * options.rate));
    if (due <= sent) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      continue;
    }
    const ts = new Date().toISOString();
    const publisher = publishers[turn++ % publishers.length]!;
    const count = Math.min(due - sent, tickSize);
    await publisher.settle(window - count);
    await publisher.send(messages.slice(sent, sent + count), ts);
    sent += count;
  }
  await Promise.all(publishers.map((publisher) => publisher.settle(0)));
  return (performance.now() - started) / 1000;
}

/**
 * `count` telemetry PUBLISHes with the simulator's metrics, round-robin over devices dev-0 … dev-(n-1)
 * of tenant `bench` (`tokens[i]` is dev-i's provision token), encoded before the clock starts. `adjust`
 * may change one message's metrics (a probe).
 */
export function simulatedTelemetry(options: {
  tokens: string[];
  count: number;
  qos: 0 | 1;
  siteId: string;
  seed: number;
  adjust?: (metrics: Record<string, number | boolean>, sent: number, device: number) => Record<string, unknown>;
}): PreparedPublish[] {
  const devices = options.tokens.length;
  const random = seededRandom(options.seed);
  const readings = options.tokens.map(() => initialReadings(random));
  return Array.from({ length: options.count }, (_, sent) => {
    const index = sent % devices;
    readings[index] = nextReadings(readings[index]!, random, defaultDeviceModelSettings);
    const metrics = telemetryMetrics(readings[index]!, true);
    const fields = JSON.stringify({
      site_id: options.siteId,
      seq: sent,
      provision_token: options.tokens[index],
      metrics: options.adjust ? options.adjust(metrics, sent, index) : metrics,
    }).slice(1, -1);
    return preparePublish(`tenant/bench/device/dev-${index}/telemetry`, fields, options.qos);
  });
}
