// The MQTT 3.1.1 client of ingest's one subscription to an external broker: connect, subscribe,
// receive, acknowledge, keep alive, reconnect. Nothing else (it never publishes).
//
// Why not MQTT.js (ADR 014): at 30,000 messages a second its packet objects, stream plumbing and debug
// calls cost ~9 µs a message, a quarter of ingest's CPU; and holding each PUBACK until the message is
// stored meant overriding its private _sendPacket. Here a PUBLISH is read straight out of the socket's
// bytes, acknowledgements are written in arrival order (as MQTT 3.1.1 requires) once their messages are
// done, a burst of them in one write, and pause() stops reading at the packet boundary: backpressure to
// the broker.
import { isIP, connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import WebSocket, { createWebSocketStream } from 'ws';

export interface InboundPublish {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
}

export interface SubscriberOptions {
  /** mqtt://, mqtts://, ws:// or wss://, with user:password@ when the broker wants them. */
  url: string;
  clientId: string;
  /** Certificate authority of a TLS broker (PEM), when the system's CAs do not know it. */
  ca?: Buffer | undefined;
  /** The topic filter, subscribed at QoS 1. */
  subscription: string;
  /**
   * 'leave': the session's last visit (an instance being removed): unsubscribe instead of subscribing,
   * so the broker routes nothing new to it, and take what its session still holds.
   */
  mode?: 'subscribe' | 'leave';
  /** false: a persistent session, so QoS 1 messages sent while away arrive on reconnect. */
  clean: boolean;
  keepaliveSeconds?: number;
  reconnectMs?: number;
  /**
   * One message. For QoS 1, `done` releases its PUBACK (call it once the message is stored or
   * quarantined); a message of a connection that has since dropped is delivered again by the broker.
   */
  onMessage: (message: InboundPublish, done: (() => void) | undefined) => void;
  /** Connection changes, for logs: `error` says why a connection closed or could not be made. */
  onEvent?: (event: 'connected' | 'closed', detail: { sessionPresent?: boolean; error?: Error }) => void;
}

const PACKET = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGRESP: 13,
} as const;
const PINGREQ = Buffer.from([0xc0, 0x00]);
const DISCONNECT = Buffer.from([0xe0, 0x00]);
const CONNACK_ERRORS = [
  '',
  'unacceptable protocol version',
  'client identifier rejected',
  'server unavailable',
  'bad user name or password',
  'not authorized',
];

/** MQTT's variable-length "remaining length" field. */
export function remainingLength(length: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return bytes;
}

function packet(type: number, flags: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(type << 4) | flags, ...remainingLength(body.length)]), body]);
}

const field = (value: string | Buffer) => {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes]);
};

export function connectPacket(options: {
  clientId: string;
  clean: boolean;
  keepaliveSeconds: number;
  username?: string | undefined;
  password?: string | undefined;
}): Buffer {
  const flags = (options.clean ? 0x02 : 0) | (options.username ? 0x80 : 0) | (options.password ? 0x40 : 0);
  const keepalive = Buffer.from([options.keepaliveSeconds >> 8, options.keepaliveSeconds & 0xff]);
  return packet(
    PACKET.CONNECT,
    0,
    Buffer.concat([
      field('MQTT'),
      Buffer.from([4, flags]),
      keepalive,
      field(options.clientId),
      ...(options.username ? [field(options.username)] : []),
      ...(options.password ? [field(options.password)] : []),
    ]),
  );
}

export function subscribePacket(packetId: number, filter: string): Buffer {
  return packet(
    PACKET.SUBSCRIBE,
    0x02,
    Buffer.concat([Buffer.from([packetId >> 8, packetId & 0xff]), field(filter), Buffer.from([1])]),
  );
}

export function unsubscribePacket(packetId: number, filter: string): Buffer {
  return packet(
    PACKET.UNSUBSCRIBE,
    0x02,
    Buffer.concat([Buffer.from([packetId >> 8, packetId & 0xff]), field(filter)]),
  );
}

/** Opens the transport the URL names. */
function openStream(url: URL, ca: Buffer | undefined): Duplex {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  switch (url.protocol) {
    case 'mqtt:':
      return tcpConnect({ host, port: Number(url.port || 1883), noDelay: true });
    case 'mqtts:':
      return tlsConnect({
        host,
        port: Number(url.port || 8883),
        ...(isIP(host) === 0 && { servername: host }),
        ...(ca && { ca }),
      });
    case 'ws:':
    case 'wss:': {
      const target = new URL(url.href);
      target.username = '';
      target.password = '';
      return createWebSocketStream(new WebSocket(target, 'mqtt', ca ? { ca } : {}));
    }
    default:
      throw new Error(`unsupported MQTT URL scheme ${url.protocol}`);
  }
}

interface HeldAck {
  packetId: number;
  done: boolean;
}

export class MqttSubscriber {
  private stream: Duplex | undefined;
  private connectedNow = false;
  private stopping = false;
  private paused = false;
  private pending: Buffer | undefined;
  /** Bumped per connection: acknowledgements of an older one are dropped. */
  private generation = 0;
  private acks: HeldAck[] = [];
  private ackHead = 0;
  private releaseScheduled = false;
  private lastReceivedAt = 0;
  /** When the last PUBLISH arrived (a leaving session is drained once they stop). */
  lastPublishAt = 0;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly url: URL;
  private readonly keepaliveSeconds: number;

  constructor(private readonly options: SubscriberOptions) {
    this.url = new URL(options.url);
    this.keepaliveSeconds = options.keepaliveSeconds ?? 60;
  }

  /**
   * Connects and subscribes; resolves once the broker has granted the subscription. Unreachable brokers
   * are retried every reconnectMs; a broker that refuses the connection or the subscription fails it.
   */
  start(): Promise<void> {
    return new Promise((resolve, reject) => this.connect({ resolve, reject }));
  }

  get connected(): boolean {
    return this.connectedNow;
  }

  /** QoS 1 messages received on this connection whose PUBACK has not been written yet. */
  get unacknowledged(): number {
    return this.acks.length - this.ackHead;
  }

  /** Stops reading after the current packet; the broker holds the rest. */
  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.lastReceivedAt = Date.now();
    const stream = this.stream;
    setImmediate(() => {
      if (this.paused || stream !== this.stream) return;
      if (this.pending) this.read(Buffer.alloc(0));
      if (!this.paused) stream?.resume();
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.keepaliveTimer);
    const stream = this.stream;
    if (!stream || stream.destroyed) return;
    this.releaseAcks();
    await new Promise<void>((resolve) => {
      stream.once('close', () => resolve());
      stream.end(DISCONNECT);
      setTimeout(() => stream.destroy(), 1000).unref();
    });
  }

  private connect(first?: { resolve: () => void; reject: (error: Error) => void }): void {
    const generation = ++this.generation;
    this.acks = [];
    this.ackHead = 0;
    this.pending = undefined;
    let stream: Duplex;
    try {
      stream = openStream(this.url, this.options.ca);
    } catch (error) {
      first?.reject(error as Error);
      return;
    }
    this.stream = stream;
    let subscribed = false;
    let closeError: Error | undefined;
    // A refusal at start is a configuration error: fail it. Later, keep trying (the broker may come back).
    const refuse = (error: Error) => {
      closeError = error;
      if (first) {
        first.reject(error);
        first = undefined;
        this.stopping = true;
      }
      stream.destroy();
    };
    this.onPacket = (type, flags, body) => {
      if (type === PACKET.PUBLISH) {
        this.publish(flags, body, generation);
      } else if (type === PACKET.CONNACK) {
        const code = body[1] ?? 0;
        if (code !== 0)
          return refuse(new Error(`the MQTT broker refused the connection: ${CONNACK_ERRORS[code] ?? code}`));
        stream.write(
          this.options.mode === 'leave'
            ? unsubscribePacket(1, this.options.subscription)
            : subscribePacket(1, this.options.subscription),
        );
        this.options.onEvent?.('connected', { sessionPresent: (body[0]! & 1) === 1 });
      } else if (type === PACKET.UNSUBACK) {
        this.connectedNow = true;
        first?.resolve();
        first = undefined;
      } else if (type === PACKET.SUBACK) {
        if (body[2] === 0x80)
          return refuse(new Error(`the MQTT broker refused the subscription ${this.options.subscription}`));
        subscribed = true;
        this.connectedNow = true;
        first?.resolve();
        first = undefined;
      }
    };
    stream.on('data', (chunk: Buffer) => this.read(chunk));
    stream.on('error', (error: Error) => (closeError ??= error)); // 'close' follows
    stream.once('close', () => {
      if (this.stream !== stream) return;
      this.connectedNow = false;
      clearInterval(this.keepaliveTimer);
      if (this.stopping) return;
      this.options.onEvent?.('closed', closeError ? { error: closeError } : {});
      this.reconnectTimer = setTimeout(() => this.connect(first), this.options.reconnectMs ?? 1000);
    });
    const onOpen = () => {
      const { username, password } = this.url;
      stream.write(
        connectPacket({
          clientId: this.options.clientId,
          clean: this.options.clean,
          keepaliveSeconds: this.keepaliveSeconds,
          username: username ? decodeURIComponent(username) : undefined,
          password: password ? decodeURIComponent(password) : undefined,
        }),
      );
      this.lastReceivedAt = Date.now();
      // Ping at half the keepalive; a broker silent for a whole keepalive is gone.
      this.keepaliveTimer = setInterval(
        () => {
          // While paused nothing is read, PINGRESPs included: silence then says nothing about the broker.
          if (!this.paused && Date.now() - this.lastReceivedAt > this.keepaliveSeconds * 1000) {
            closeError = new Error('the MQTT broker stopped answering');
            stream.destroy();
          } else if (subscribed) stream.write(PINGREQ);
        },
        (this.keepaliveSeconds * 1000) / 2,
      );
      this.keepaliveTimer.unref();
    };
    // TCP and TLS sockets say when they are connected; a WebSocket stream holds writes until it is open.
    if ((stream as Partial<Socket>).connecting) {
      stream.once(this.url.protocol === 'mqtts:' ? 'secureConnect' : 'connect', onOpen);
    } else onOpen();
    if (this.paused) stream.pause();
  }

  private onPacket: (type: number, flags: number, body: Buffer) => void = () => undefined;

  /** Splits the byte stream into packets; stops at a packet boundary while paused. */
  private read(chunk: Buffer): void {
    this.lastReceivedAt = Date.now();
    const buffer = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (!this.paused && buffer.length - offset >= 2) {
      let length = 0;
      let multiplier = 1;
      let index = offset + 1;
      for (; index < buffer.length && index < offset + 5; index += 1) {
        length += (buffer[index]! & 0x7f) * multiplier;
        if ((buffer[index]! & 0x80) === 0) break;
        multiplier *= 128;
      }
      if (index >= buffer.length) break; // the length itself is incomplete
      if (index === offset + 5) {
        this.stream?.destroy(new Error('malformed MQTT packet length from the broker')); // reconnects
        return;
      }
      const end = index + 1 + length;
      if (end > buffer.length) break;
      const header = buffer[offset]!;
      this.onPacket(header >> 4, header & 0x0f, buffer.subarray(index + 1, end));
      offset = end;
    }
    this.pending = offset < buffer.length ? Buffer.from(buffer.subarray(offset)) : undefined;
  }

  private publish(flags: number, body: Buffer, generation: number): void {
    this.lastPublishAt = Date.now();
    const qos = (flags >> 1) & 0x03;
    const topicLength = body.readUInt16BE(0);
    const topic = body.toString('utf8', 2, 2 + topicLength);
    if (qos === 0) {
      this.options.onMessage({ topic, payload: body.subarray(2 + topicLength), qos: 0 }, undefined);
      return;
    }
    // The subscription is granted at QoS 1, so the broker downgrades QoS 2 to 1: a packet id follows.
    const packetId = body.readUInt16BE(2 + topicLength);
    const held: HeldAck = { packetId, done: false };
    this.acks.push(held);
    this.options.onMessage({ topic, payload: body.subarray(4 + topicLength), qos: 1 }, () => {
      if (generation !== this.generation || held.done) return;
      held.done = true;
      if (!this.releaseScheduled) {
        this.releaseScheduled = true;
        setImmediate(() => this.releaseAcks());
      }
    });
  }

  /** Writes the PUBACKs of the done messages at the head of the arrival order, in one write. */
  private releaseAcks(): void {
    this.releaseScheduled = false;
    let count = 0;
    while (this.acks[this.ackHead + count]?.done) count += 1;
    if (count === 0 || !this.stream || this.stream.destroyed) return;
    const bytes = Buffer.allocUnsafe(count * 4);
    for (let i = 0; i < count; i += 1) {
      const at = i * 4;
      bytes[at] = PACKET.PUBACK << 4;
      bytes[at + 1] = 2;
      bytes.writeUInt16BE(this.acks[this.ackHead + i]!.packetId, at + 2);
    }
    this.stream.write(bytes);
    this.ackHead += count;
    if (this.ackHead > 4096 && this.ackHead * 2 > this.acks.length) {
      this.acks = this.acks.slice(this.ackHead);
      this.ackHead = 0;
    }
  }
}
