// MQTT 3.1.1 bytes for ingest's subscriber (mqtt-subscriber.ts): encoders for the few packets it sends,
// and a reader for what a broker sends it. Pure: no socket, no timer. The reader never throws — any byte
// sequence, split anywhere, yields packets, "need more bytes" or a protocol violation that says why —
// because its caller runs inside a socket's data handler (fuzzed in test/ingest/mqtt-packets.test.ts).
import { isUtf8 } from 'node:buffer';

export const PACKET = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

const PACKET_NAMES = [
  'reserved (0)',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'reserved (15)',
];

/** What a broker may send a client that only subscribes. */
const FROM_BROKER = new Set<number>([PACKET.CONNACK, PACKET.PUBLISH, PACKET.SUBACK, PACKET.UNSUBACK, PACKET.PINGRESP]);
/** Packets a broker sends a subscriber, PUBLISH aside, are a few bytes; more is a broken stream. */
const MAX_CONTROL_PACKET_BYTES = 1024;
/** Of an oversized PUBLISH, the payload bytes kept for the quarantine; the rest is skipped unread. */
export const OVERSIZED_PREVIEW_BYTES = 4096;

// ---------------------------------------------------------------------------------------------------
// Encoders

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

export function encodePacket(type: number, flags: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(type << 4) | flags, ...remainingLength(body.length)]), body]);
}

/** A length-prefixed string or byte field. */
export function lengthPrefixed(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes]);
}

export function connectPacket(options: {
  clientId: string;
  clean: boolean;
  keepaliveSeconds: number;
  username?: string | undefined;
  password?: string | undefined;
}): Buffer {
  // MQTT 3.1.1 §3.1.2.9: a password flag without the user name flag is a protocol violation.
  if (options.password && !options.username)
    throw new Error('an MQTT password needs a user name: write the broker URL as mqtt://user:password@host');
  const flags = (options.clean ? 0x02 : 0) | (options.username ? 0x80 : 0) | (options.password ? 0x40 : 0);
  const keepalive = Buffer.from([options.keepaliveSeconds >> 8, options.keepaliveSeconds & 0xff]);
  return encodePacket(
    PACKET.CONNECT,
    0,
    Buffer.concat([
      lengthPrefixed('MQTT'),
      Buffer.from([4, flags]),
      keepalive,
      lengthPrefixed(options.clientId),
      ...(options.username ? [lengthPrefixed(options.username)] : []),
      ...(options.password ? [lengthPrefixed(options.password)] : []),
    ]),
  );
}

export function subscribePacket(packetId: number, filter: string): Buffer {
  return encodePacket(
    PACKET.SUBSCRIBE,
    0x02,
    Buffer.concat([Buffer.from([packetId >> 8, packetId & 0xff]), lengthPrefixed(filter), Buffer.from([1])]),
  );
}

export function unsubscribePacket(packetId: number, filter: string): Buffer {
  return encodePacket(
    PACKET.UNSUBSCRIBE,
    0x02,
    Buffer.concat([Buffer.from([packetId >> 8, packetId & 0xff]), lengthPrefixed(filter)]),
  );
}

/** PUBACKs of the given packet ids, in one buffer. */
export function pubackPackets(packetIds: number[]): Buffer {
  const bytes = Buffer.allocUnsafe(packetIds.length * 4);
  packetIds.forEach((packetId, i) => {
    bytes[i * 4] = PACKET.PUBACK << 4;
    bytes[i * 4 + 1] = 2;
    bytes.writeUInt16BE(packetId, i * 4 + 2);
  });
  return bytes;
}

// ---------------------------------------------------------------------------------------------------
// Reader

export type ServerPacket =
  | { type: 'connack'; sessionPresent: boolean; returnCode: number }
  | {
      type: 'publish';
      topic: string;
      /** A view of the received bytes; of an oversized message, its first OVERSIZED_PREVIEW_BYTES. */
      payload: Buffer;
      /** The payload's size as sent: larger than payload.length when the message was oversized. */
      sizeBytes: number;
      qos: 0 | 1;
      /** 0 for QoS 0. */
      packetId: number;
    }
  | { type: 'suback'; packetId: number; returnCodes: number[] }
  | { type: 'unsuback'; packetId: number }
  | { type: 'pingresp' };

export type ReadResult = ServerPacket | { type: 'violation'; reason: string };

const violation = (reason: string): ReadResult => ({ type: 'violation', reason });

/**
 * Splits a broker's byte stream into packets. push() what arrives, then call next() until it returns
 * undefined (more bytes needed). After a violation the stream is broken: drop the reader and reconnect.
 * A PUBLISH larger than maxPacketBytes is never held whole: its topic, packet id and first payload bytes
 * are returned, the rest skipped as it arrives, so a quarantine can still say PAYLOAD_TOO_LARGE.
 */
export class PacketReader {
  private buffer: Buffer = Buffer.alloc(0);
  private offset = 0;
  /** Bytes of an oversized PUBLISH still to skip. */
  private skipping = 0;
  private broken = false;

  constructor(private readonly maxPacketBytes: number) {}

  push(chunk: Buffer): void {
    if (this.broken || chunk.length === 0) return;
    const rest = this.buffer.length - this.offset;
    this.buffer = rest === 0 ? chunk : Buffer.concat([this.buffer.subarray(this.offset), chunk]);
    this.offset = 0;
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.buffer.length - this.offset;
  }

  next(): ReadResult | undefined {
    if (this.broken) return undefined;
    if (this.skipping > 0) {
      const skipped = Math.min(this.skipping, this.buffered);
      this.skipping -= skipped;
      this.offset += skipped;
      if (this.skipping > 0) return undefined;
    }
    const result = this.read();
    if (result?.type === 'violation') {
      this.broken = true;
      this.buffer = Buffer.alloc(0);
      this.offset = 0;
    }
    return result;
  }

  private read(): ReadResult | undefined {
    const { buffer, offset } = this;
    if (buffer.length - offset < 1) return undefined;
    const header = buffer[offset]!;
    const type = header >> 4;
    const flags = header & 0x0f;
    if (!FROM_BROKER.has(type)) return violation(`unexpected ${PACKET_NAMES[type]} packet from the broker`);
    if (type !== PACKET.PUBLISH && flags !== 0)
      return violation(`${PACKET_NAMES[type]} with reserved flags ${flags} set`);

    let length = 0;
    let multiplier = 1;
    let index = offset + 1;
    for (;;) {
      if (index >= buffer.length) return undefined; // the length itself is incomplete
      const byte = buffer[index]!;
      length += (byte & 0x7f) * multiplier;
      index += 1;
      if ((byte & 0x80) === 0) break;
      if (index === offset + 5) return violation('remaining length longer than four bytes');
      multiplier *= 128;
    }
    const available = buffer.length - index;

    if (type !== PACKET.PUBLISH) {
      if (length > MAX_CONTROL_PACKET_BYTES) return violation(`${PACKET_NAMES[type]} of ${length} bytes`);
      if (available < length) return undefined;
      this.offset = index + length;
      return controlPacket(type, buffer.subarray(index, index + length));
    }

    if (length <= this.maxPacketBytes) {
      if (available < length) return undefined;
      this.offset = index + length;
      return publishPacket(flags, buffer.subarray(index, index + length), length);
    }
    // Oversized: wait for the head (topic, packet id, preview), return it and skip the rest.
    if (available < 2) return undefined;
    const qos = (flags >> 1) & 0x03;
    const head = 2 + buffer.readUInt16BE(index) + (qos > 0 ? 2 : 0);
    if (head > length) return violation('PUBLISH topic or packet id beyond the packet');
    const kept = Math.min(length, head + OVERSIZED_PREVIEW_BYTES);
    if (available < kept) return undefined;
    this.offset = index + kept;
    this.skipping = length - kept;
    return publishPacket(flags, buffer.subarray(index, index + kept), length);
  }
}

function controlPacket(type: number, body: Buffer): ReadResult {
  switch (type) {
    case PACKET.CONNACK:
      if (body.length !== 2) return violation(`CONNACK of ${body.length} bytes, not 2`);
      if ((body[0]! & 0xfe) !== 0) return violation('CONNACK with reserved acknowledge flags set');
      return { type: 'connack', sessionPresent: (body[0]! & 1) === 1, returnCode: body[1]! };
    case PACKET.SUBACK: {
      if (body.length < 3) return violation(`SUBACK of ${body.length} bytes, fewer than 3`);
      const returnCodes = [...body.subarray(2)];
      if (returnCodes.some((code) => code > 2 && code !== 0x80))
        return violation('SUBACK with a return code other than 0, 1, 2 or 128');
      return { type: 'suback', packetId: body.readUInt16BE(0), returnCodes };
    }
    case PACKET.UNSUBACK:
      if (body.length !== 2) return violation(`UNSUBACK of ${body.length} bytes, not 2`);
      return { type: 'unsuback', packetId: body.readUInt16BE(0) };
    default: // PINGRESP
      if (body.length !== 0) return violation(`PINGRESP of ${body.length} bytes, not 0`);
      return { type: 'pingresp' };
  }
}

/** A PUBLISH's body; `length` is its size as sent (body may be only the head of an oversized one). */
function publishPacket(flags: number, body: Buffer, length: number): ReadResult {
  const qos = (flags >> 1) & 0x03;
  if (qos === 3) return violation('PUBLISH with QoS 3');
  // The subscription is granted at QoS 1 at most: a broker must downgrade QoS 2 to it.
  if (qos === 2) return violation('QoS 2 PUBLISH on a QoS 1 subscription');
  if (qos === 0 && (flags & 0x08) !== 0) return violation('QoS 0 PUBLISH with the DUP flag');
  if (body.length < 2) return violation('PUBLISH shorter than its topic length');
  const topicLength = body.readUInt16BE(0);
  const headLength = 2 + topicLength + (qos > 0 ? 2 : 0);
  if (headLength > body.length) return violation('PUBLISH topic or packet id beyond the packet');
  if (topicLength === 0) return violation('PUBLISH with an empty topic');
  const topicBytes = body.subarray(2, 2 + topicLength);
  if (!isUtf8(topicBytes)) return violation('PUBLISH topic is not valid UTF-8');
  // NUL, '#' and '+' may not appear in a topic name (MQTT 3.1.1 §1.5.3, §4.7.1).
  if (topicBytes.includes(0) || topicBytes.includes(0x23) || topicBytes.includes(0x2b))
    return violation('PUBLISH topic holds NUL or a wildcard');
  const packetId = qos > 0 ? body.readUInt16BE(2 + topicLength) : 0;
  if (qos > 0 && packetId === 0) return violation('PUBLISH with packet id 0');
  return {
    type: 'publish',
    topic: topicBytes.toString('utf8'),
    payload: body.subarray(headLength),
    sizeBytes: length - headLength,
    qos: qos as 0 | 1,
    packetId,
  };
}
