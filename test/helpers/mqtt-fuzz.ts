// Generators of MQTT bytes a broker might send (fast-check): valid packets with what they decode to,
// and mutations that break them. Shared by the reader's and the subscriber's property tests.
import * as fc from 'fast-check';
import { encodePacket, lengthPrefixed, PACKET, type ReadResult } from '../../src/ingest/mqtt-packets.js';

/** No lone surrogates (Node 20's lib lacks String.isWellFormed in our TypeScript target). */
const isWellFormed = (text: string) => !/[\uD800-\uDFFF]/u.test(text);

export const topic = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 24 })
  .filter((t) => isWellFormed(t) && !/[\0+#]/.test(t));

export type Expected = Exclude<ReadResult, { type: 'violation' }>;
export interface Encoded {
  bytes: Buffer;
  expected: Expected;
}

export const publish = fc
  .record({
    topic,
    payload: fc.uint8Array({ maxLength: 200 }),
    qos: fc.constantFrom(0, 1),
    packetId: fc.integer({ min: 1, max: 0xffff }),
    retain: fc.boolean(),
    dup: fc.boolean(),
  })
  .map(({ topic, payload, qos, packetId, retain, dup }): Encoded => {
    const id = qos === 1 ? Buffer.from([packetId >> 8, packetId & 0xff]) : Buffer.alloc(0);
    const flags = (qos << 1) | (retain ? 1 : 0) | (qos === 1 && dup ? 8 : 0);
    return {
      bytes: encodePacket(PACKET.PUBLISH, flags, Buffer.concat([lengthPrefixed(topic), id, payload])),
      expected: {
        type: 'publish',
        topic,
        payload: Buffer.from(payload),
        sizeBytes: payload.length,
        qos: qos as 0 | 1,
        packetId: qos === 1 ? packetId : 0,
      },
    };
  });

const control = fc.oneof(
  fc.constant<Encoded>({ bytes: Buffer.from([0xd0, 0]), expected: { type: 'pingresp' } }),
  fc.record({ session: fc.boolean(), code: fc.integer({ min: 0, max: 5 }) }).map(({ session, code }): Encoded => ({
    bytes: Buffer.from([0x20, 2, session ? 1 : 0, code]),
    expected: { type: 'connack', sessionPresent: session, returnCode: code },
  })),
  fc
    .record({
      packetId: fc.integer({ min: 0, max: 0xffff }),
      codes: fc.array(fc.constantFrom(0, 1, 2, 0x80), { minLength: 1, maxLength: 4 }),
    })
    .map(({ packetId, codes }): Encoded => ({
      bytes: Buffer.from([0x90, 2 + codes.length, packetId >> 8, packetId & 0xff, ...codes]),
      expected: { type: 'suback', packetId, returnCodes: codes },
    })),
  fc.integer({ min: 0, max: 0xffff }).map((packetId): Encoded => ({
    bytes: Buffer.from([0xb0, 2, packetId >> 8, packetId & 0xff]),
    expected: { type: 'unsuback', packetId },
  })),
);

export const validPacket = fc.oneof({ weight: 4, arbitrary: publish }, { weight: 1, arbitrary: control });
export const validStream = fc.array(validPacket, { minLength: 1, maxLength: 30 });

/** One way to break a stream of packets. */
export const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('flags' as const), at: fc.nat(), flags: fc.integer({ min: 0, max: 15 }) }),
  fc.record({ kind: fc.constant('huge-length' as const), at: fc.nat() }),
);

export type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

/** Applies mutations to the encoded packets; header-aimed ones pick a packet's first byte. */
export function mutate(packets: Buffer[], mutations: Mutation[]): Buffer {
  const parts = packets.map((p) => Buffer.from(p));
  for (const m of mutations) {
    const target = parts[m.at % parts.length]!;
    switch (m.kind) {
      case 'truncate':
        parts[m.at % parts.length] = target.subarray(0, m.at % target.length);
        break;
      case 'flip':
        if (target.length > 0) target[m.at % target.length] = m.value;
        break;
      case 'insert': {
        const at = m.at % (target.length + 1);
        parts[m.at % parts.length] = Buffer.concat([target.subarray(0, at), m.bytes, target.subarray(at)]);
        break;
      }
      case 'flags':
        if (target.length > 0) target[0] = (target[0]! & 0xf0) | m.flags;
        break;
      case 'huge-length': // a length the stream will never fill, or one with a fifth byte
        parts[m.at % parts.length] = Buffer.concat([
          target.subarray(0, 1),
          Buffer.from(m.at % 2 ? [0xff, 0xff, 0xff, 0x7f] : [0xff, 0xff, 0xff, 0xff, 0x01]),
          target.subarray(2),
        ]);
        break;
    }
  }
  return Buffer.concat(parts);
}

/** Split points → chunks. */
export function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  return chunks;
}
