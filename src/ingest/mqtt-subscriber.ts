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
import {
  PacketReader,
  PACKET,
  connectPacket,
  pubackPackets,
  subscribePacket,
  unsubscribePacket,
  type ServerPacket,
} from './mqtt-packets.js';

export interface InboundPublish {
  topic: string;
  /** A view of the received bytes (copy it to keep it); of an oversized message, only its first bytes. */
  payload: Buffer;
  /** The payload's size as sent, beyond payload.length when it was larger than maxPacketBytes. */
  sizeBytes: number;
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
  /** A larger PUBLISH is not held in memory: its first bytes are delivered with its true sizeBytes. */
  maxPacketBytes?: number;
  /**
   * One message. For QoS 1, `done` releases its PUBACK (call it once the message is stored or
   * quarantined); a message of a connection that has since dropped is delivered again by the broker.
   */
  onMessage: (message: InboundPublish, done: (() => void) | undefined) => void;
  /** Connection changes, for logs: `error` says why a connection closed or could not be made. */
  onEvent?: (event: 'connected' | 'closed', detail: { sessionPresent?: boolean; error?: Error }) => void;
  /** The broker broke the protocol (the connection is closed and made again): for a counter. */
  onProtocolError?: (reason: string) => void;
}

const PINGREQ = Buffer.from([PACKET.PINGREQ << 4, 0x00]);
const DISCONNECT = Buffer.from([PACKET.DISCONNECT << 4, 0x00]);
const CONNACK_ERRORS = [
  '',
  'unacceptable protocol version',
  'client identifier rejected',
  'server unavailable',
  'bad user name or password',
  'not authorized',
];
/** The one packet id of our SUBSCRIBE or UNSUBSCRIBE. */
const SUBSCRIPTION_PACKET_ID = 1;
export const DEFAULT_MAX_PACKET_BYTES = 256 * 1024;

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
  private reader: PacketReader | undefined;
  private connectedNow = false;
  private stopping = false;
  private paused = false;
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
  private readonly maxPacketBytes: number;

  constructor(private readonly options: SubscriberOptions) {
    this.url = new URL(options.url);
    if (this.url.password && !this.url.username)
      throw new Error('an MQTT password needs a user name: write the broker URL as mqtt://user:password@host');
    this.keepaliveSeconds = options.keepaliveSeconds ?? 60;
    this.maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
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
      this.readPackets();
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
    this.reader = new PacketReader(this.maxPacketBytes);
    let stream: Duplex;
    try {
      stream = openStream(this.url, this.options.ca);
    } catch (error) {
      first?.reject(error as Error);
      return;
    }
    this.stream = stream;
    let acknowledged = false; // CONNACK received
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
    const granted = () => {
      subscribed = true;
      this.connectedNow = true;
      first?.resolve();
      first = undefined;
    };
    this.onProtocolError = (reason) => {
      closeError = new Error(`the MQTT broker broke the protocol: ${reason}`);
      this.options.onProtocolError?.(reason);
      stream.destroy(); // and reconnect
    };
    this.onPacket = (packet) => {
      if (!acknowledged && packet.type !== 'connack') return this.onProtocolError(`${packet.type} before CONNACK`);
      switch (packet.type) {
        case 'publish':
          return this.publish(packet, generation);
        case 'connack':
          if (acknowledged) return this.onProtocolError('a second CONNACK');
          acknowledged = true;
          if (packet.returnCode !== 0)
            return refuse(
              new Error(
                `the MQTT broker refused the connection: ${CONNACK_ERRORS[packet.returnCode] ?? packet.returnCode}`,
              ),
            );
          stream.write(
            this.options.mode === 'leave'
              ? unsubscribePacket(SUBSCRIPTION_PACKET_ID, this.options.subscription)
              : subscribePacket(SUBSCRIPTION_PACKET_ID, this.options.subscription),
          );
          this.options.onEvent?.('connected', { sessionPresent: packet.sessionPresent });
          return;
        case 'suback':
        case 'unsuback':
          if (packet.packetId !== SUBSCRIPTION_PACKET_ID || subscribed)
            return this.onProtocolError(`${packet.type.toUpperCase()} for packet id ${packet.packetId}`);
          if (packet.type === 'suback' && packet.returnCodes[0] === 0x80)
            return refuse(new Error(`the MQTT broker refused the subscription ${this.options.subscription}`));
          return granted();
        case 'pingresp':
          return;
      }
    };
    stream.on('data', (chunk: Buffer) => {
      this.lastReceivedAt = Date.now();
      this.reader?.push(chunk);
      this.readPackets();
    });
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

  private onPacket: (packet: ServerPacket) => void = () => undefined;
  private onProtocolError: (reason: string) => void = () => undefined;

  /** Handles the packets received so far; stops at a packet boundary while paused. */
  private readPackets(): void {
    const { reader, stream } = this;
    while (!this.paused && reader === this.reader && stream === this.stream && !stream?.destroyed) {
      let packet;
      try {
        packet = reader?.next();
        if (!packet) return;
        if (packet.type === 'violation') return this.onProtocolError(packet.reason);
        this.onPacket(packet);
      } catch (error) {
        // A bug of ours, not the broker's; still, nothing may escape a socket's data handler.
        return this.onProtocolError(`could not handle a packet (${(error as Error).message})`);
      }
    }
  }

  private publish(packet: Extract<ServerPacket, { type: 'publish' }>, generation: number): void {
    this.lastPublishAt = Date.now();
    const { topic, payload, sizeBytes, qos } = packet;
    if (qos === 0) {
      this.options.onMessage({ topic, payload, sizeBytes, qos }, undefined);
      return;
    }
    const held: HeldAck = { packetId: packet.packetId, done: false };
    this.acks.push(held);
    this.options.onMessage({ topic, payload, sizeBytes, qos }, () => {
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
    const packetIds: number[] = [];
    for (let i = 0; i < count; i += 1) packetIds.push(this.acks[this.ackHead + i]!.packetId);
    this.stream.write(pubackPackets(packetIds));
    this.ackHead += count;
    if (this.ackHead > 4096 && this.ackHead * 2 > this.acks.length) {
      this.acks = this.acks.slice(this.ackHead);
      this.ackHead = 0;
    }
  }
}
