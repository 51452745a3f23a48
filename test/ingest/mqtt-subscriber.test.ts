// Ingest's own MQTT client against real brokers on 127.0.0.1: a private Mosquitto (plain, with a
// password, with TLS from a private CA, stopped and started again) and aedes over a WebSocket.
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect as connectTcp, createServer as createNetServer } from 'node:net';
import path from 'node:path';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebSocketStream, WebSocketServer } from 'ws';
import * as fc from 'fast-check';
import {
  connectPacket,
  OVERSIZED_PREVIEW_BYTES,
  PacketReader,
  type ReadResult,
} from '../../src/ingest/mqtt-packets.js';
import { DEFAULT_MAX_PACKET_BYTES, MqttSubscriber, type InboundPublish } from '../../src/ingest/mqtt-subscriber.js';
import { mutate, mutation, split, validStream } from '../helpers/mqtt-fuzz.js';
import { freePort, startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { createTestCa, type TestCa } from '../helpers/tls.js';
import { waitFor, whenSettled } from '../helpers/wait.js';

interface Received extends InboundPublish {
  done: (() => void) | undefined;
}

function subscriber(
  url: string,
  clientId: string,
  options: { ca?: Buffer; hold?: boolean; keepaliveSeconds?: number; maxPacketBytes?: number } = {},
) {
  const received: Received[] = [];
  const events: string[] = [];
  const instance = new MqttSubscriber({
    url,
    clientId,
    subscription: 'tenant/+/device/+/+',
    clean: false,
    ca: options.ca,
    keepaliveSeconds: options.keepaliveSeconds,
    maxPacketBytes: options.maxPacketBytes,
    reconnectMs: 100,
    onMessage: (message, done) => {
      // Copy: the payload is a view of the socket's chunk.
      received.push({ ...message, payload: Buffer.from(message.payload), done });
      if (!options.hold) done?.();
    },
    onEvent: (event, detail) => events.push(detail.error ? `${event}: ${detail.error.message}` : event),
  });
  return { instance, received, events };
}

/**
 * Connects with `keepaliveSeconds` and never sends another packet; resolves when the broker drops the
 * connection for it (MQTT 3.1.1 §3.1.2.10: after one and a half keepalives).
 */
async function silentClientDropped(url: string, keepaliveSeconds: number): Promise<void> {
  const { hostname, port } = new URL(url);
  const socket = connectTcp(Number(port), hostname);
  socket.on('data', () => undefined); // the CONNACK
  socket.write(connectPacket({ clientId: `silent-${process.pid}`, clean: true, keepaliveSeconds }));
  await new Promise((resolve) => socket.once('close', resolve));
}

const seqs = (received: Received[]) => received.map((m) => JSON.parse(m.payload.toString()).seq as number);

describe('ingest MQTT subscriber on Mosquitto', () => {
  let broker: Mosquitto;
  let device: MqttClient;
  beforeAll(async () => {
    broker = await startMosquitto();
    device = await mqtt.connectAsync(broker.url);
  });
  afterAll(async () => {
    await device?.endAsync();
    await broker?.close();
  });

  it('receives QoS 0 and QoS 1 messages with their topics and payloads, a large one across chunks', async () => {
    const { instance, received } = subscriber(broker.url, 'sub-basic');
    await instance.start();
    const large = JSON.stringify({ seq: 2, pad: 'x'.repeat(200_000) }); // a 3-byte remaining length
    await device.publishAsync('tenant/t/device/d/telemetry', JSON.stringify({ seq: 0 }), { qos: 0 });
    await device.publishAsync('tenant/t/device/é/heartbeat', JSON.stringify({ seq: 1 }), { qos: 1 });
    await device.publishAsync('tenant/t/device/d/telemetry', large, { qos: 1 });
    await waitFor(() => received.length === 3);
    expect(received.map((m) => [m.topic, m.qos])).toEqual([
      ['tenant/t/device/d/telemetry', 0],
      ['tenant/t/device/é/heartbeat', 1],
      ['tenant/t/device/d/telemetry', 1],
    ]);
    expect(received[2]!.payload.toString()).toBe(large);
    expect(instance.connected).toBe(true);
    await instance.stop();
  });

  it('delivers a message larger than maxPacketBytes as its first bytes and true size, and reads on', async () => {
    const { instance, received } = subscriber(broker.url, 'sub-oversized', { maxPacketBytes: 10_000 });
    await instance.start();
    const big = JSON.stringify({ seq: 0, pad: 'x'.repeat(50_000) });
    await device.publishAsync('tenant/t/device/d/telemetry', big, { qos: 1 });
    await device.publishAsync('tenant/t/device/d/telemetry', JSON.stringify({ seq: 1 }), { qos: 1 });
    await waitFor(() => received.length === 2);
    expect(received[0]!.sizeBytes).toBe(big.length);
    expect(received[0]!.payload.toString()).toBe(big.slice(0, OVERSIZED_PREVIEW_BYTES));
    expect(seqs(received.slice(1))).toEqual([1]);
    await instance.stop();
    // Both were acknowledged: the persistent session holds nothing more. What it held would come before a
    // message published now.
    const again = subscriber(broker.url, 'sub-oversized');
    await again.instance.start();
    await device.publishAsync('tenant/t/device/d/telemetry', JSON.stringify({ seq: 2 }), { qos: 1 });
    await waitFor(() => again.received.length > 0);
    expect(seqs(again.received)).toEqual([2]);
    await again.instance.stop();
  });

  it('acknowledges in arrival order, each only once its message is done', async () => {
    const first = subscriber(broker.url, 'sub-acks', { hold: true });
    await first.instance.start();
    for (let seq = 0; seq < 4; seq++) {
      await device.publishAsync('tenant/t/device/d/telemetry', JSON.stringify({ seq }), { qos: 1 });
    }
    await waitFor(() => first.received.length === 4);
    // 0 and 2 are done; 1 is not, so only 0 may be acknowledged (2 waits behind 1). stop() writes what is
    // acknowledged before it disconnects.
    first.received[0]!.done!();
    first.received[2]!.done!();
    await first.instance.stop();

    // The persistent session gets every unacknowledged message again, before one published now.
    const second = subscriber(broker.url, 'sub-acks');
    await second.instance.start();
    await device.publishAsync('tenant/t/device/d/telemetry', JSON.stringify({ seq: 4 }), { qos: 1 });
    await waitFor(() => seqs(second.received).includes(4));
    expect(seqs(second.received)).toEqual([1, 2, 3, 4]);
    await second.instance.stop();
  });

  it('stops reading while paused and loses nothing', async () => {
    const { instance, received } = subscriber(broker.url, 'sub-pause');
    await instance.start();
    instance.pause();
    for (let seq = 0; seq < 200; seq++) {
      await device.publishAsync('tenant/t/device/d/telemetry', JSON.stringify({ seq }), { qos: 1 });
    }
    // What was on its way when it paused has arrived; nothing more comes.
    const whilePaused = await whenSettled(async () => received.length, { intervalMs: 200, timeoutMs: 5000 });
    expect(whilePaused).toBeLessThan(200);
    instance.resume();
    await waitFor(() => received.length === 200);
    expect(seqs(received)).toEqual([...Array(200).keys()]);
    await instance.stop();
  });

  it('keeps the connection through a pause longer than the keepalive', async () => {
    const { instance, received, events } = subscriber(broker.url, 'sub-long-pause', { keepaliveSeconds: 1 });
    await instance.start();
    instance.pause();
    await device.publishAsync('tenant/t/device/d/telemetry', JSON.stringify({ seq: 5 }), { qos: 1 });
    // Paused until the broker has dropped a client that kept as silent as long, with the same keepalive.
    await silentClientDropped(broker.url, 1);
    instance.resume();
    await waitFor(() => received.length === 1);
    expect(seqs(received)).toEqual([5]);
    expect(events).toEqual(['connected']);
    await instance.stop();
  });

  it('reconnects and resubscribes after the broker restarts', async () => {
    const { instance, received, events } = subscriber(broker.url, 'sub-restart');
    await instance.start();
    await device.endAsync();
    await broker.stop();
    await waitFor(() => !instance.connected);
    await broker.start();
    await waitFor(() => instance.connected, 10_000);
    device = await mqtt.connectAsync(broker.url);
    await device.publishAsync('tenant/t/device/d/telemetry', JSON.stringify({ seq: 7 }), { qos: 1 });
    await waitFor(() => received.length === 1);
    expect(seqs(received)).toEqual([7]);
    expect(events.filter((event) => event === 'connected').length).toBeGreaterThanOrEqual(2);
    await instance.stop();
  });
});

describe('ingest MQTT subscriber: credentials and TLS', () => {
  let broker: Mosquitto;
  let ca: TestCa;
  let dir: string;
  let tlsPort: number;
  beforeAll(async () => {
    ca = createTestCa();
    dir = ca.dir;
    execFileSync('mosquitto_passwd', ['-c', '-b', path.join(dir, 'passwords'), 'ingest', 'p@ss:word']);
    // Readable by the mosquitto user (a throwaway CA and key).
    chmodSync(dir, 0o755);
    for (const file of readdirSync(dir)) chmodSync(path.join(dir, file), 0o644);
    tlsPort = await freePort();
    broker = await startMosquitto(
      [
        'allow_anonymous false',
        `password_file ${dir}/passwords`,
        `listener ${tlsPort} 127.0.0.1`,
        `cafile ${dir}/ca.pem`,
        `certfile ${ca.certFile}`,
        `keyfile ${ca.keyFile}`,
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await broker?.close();
    ca?.close();
  });

  it('fails to start with the broker’s reason when it refuses the credentials', async () => {
    const { instance } = subscriber(broker.url.replace('mqtt://', 'mqtt://ingest:wrong@'), 'sub-denied');
    await expect(instance.start()).rejects.toThrow('the MQTT broker refused the connection: not authorized');
  });

  it('logs in with URL credentials over TLS signed by a private CA', async () => {
    const url = `mqtts://ingest:${encodeURIComponent('p@ss:word')}@127.0.0.1:${tlsPort}`;
    const { instance, received } = subscriber(url, 'sub-tls', { ca: ca.ca });
    await instance.start();
    const device = await mqtt.connectAsync(broker.url, { username: 'ingest', password: 'p@ss:word' });
    await device.publishAsync('tenant/t/device/d/telemetry', JSON.stringify({ seq: 1 }), { qos: 1 });
    await waitFor(() => received.length === 1);
    expect(seqs(received)).toEqual([1]);
    await device.endAsync();
    await instance.stop();
  });

  it('refuses a TLS broker whose CA it does not know', async () => {
    const url = `mqtts://ingest:${encodeURIComponent('p@ss:word')}@127.0.0.1:${tlsPort}`;
    const { instance, events } = subscriber(url, 'sub-untrusted');
    void instance.start().catch(() => undefined);
    await waitFor(() => events.length > 0);
    expect(events[0]).toMatch(/closed: .*(self[- ]signed|unable to verify)/i);
    expect(instance.connected).toBe(false);
    await instance.stop();
  });
});

describe('ingest MQTT subscriber and a broker that misbehaves', () => {
  it('drops a connection that sends a malformed packet length, and connects again', async () => {
    let connections = 0;
    const server = createNetServer((socket) => {
      connections += 1;
      let subscribed = false;
      socket.on('data', () => {
        if (subscribed) return;
        subscribed = true;
        socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00])); // CONNACK accepted
        socket.write(Buffer.from([0x90, 0x03, 0x00, 0x01, 0x01])); // SUBACK QoS 1
        socket.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])); // a fifth length byte
      });
      socket.on('error', () => undefined);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const { instance, events } = subscriber(`mqtt://127.0.0.1:${port}`, 'sub-malformed');
    await instance.start();
    await waitFor(() => connections >= 2);
    expect(events).toContain('closed: the MQTT broker broke the protocol: remaining length longer than four bytes');
    await instance.stop();
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('ingest MQTT subscriber against a fuzzing broker', () => {
  // A broker on 127.0.0.1 that answers CONNECT and SUBSCRIBE, then sends valid and mutated packets in
  // random chunks and records every PUBACK. The reader (already fuzzed on its own) is the oracle of what
  // should be delivered; under test is what the subscriber acknowledges and how it survives.
  it('acknowledges only messages it delivered, in order, and closes on a violation without throwing', async () => {
    let script: Buffer[] = [];
    let pubacks: number[] = [];
    let closed = false;
    const server = createNetServer((socket) => {
      socket.setNoDelay(true);
      let inbound = Buffer.alloc(0);
      socket.on('data', async (chunk: Buffer) => {
        inbound = Buffer.concat([inbound, chunk]);
        // The subscriber's packets are short: one length byte.
        while (inbound.length >= 2 && inbound.length >= 2 + inbound[1]!) {
          const type = inbound[0]! >> 4;
          const body = inbound.subarray(2, 2 + inbound[1]!);
          inbound = inbound.subarray(2 + inbound[1]!);
          if (type === 1) socket.write(Buffer.from([0x20, 2, 0, 0]));
          else if (type === 4) pubacks.push(body.readUInt16BE(0));
          else if (type === 8) {
            socket.write(Buffer.from([0x90, 3, body[0]!, body[1]!, 1]));
            for (const part of script) {
              await new Promise((resolve) => setImmediate(resolve));
              if (!socket.destroyed) socket.write(part);
            }
          }
        }
      });
      socket.on('close', () => (closed = true));
      socket.on('error', () => undefined);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

    let packets = 0;
    await fc.assert(
      fc.asyncProperty(
        validStream,
        fc.array(mutation, { maxLength: 2 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (stream, mutations, cuts) => {
          packets += stream.length;
          const bytes = mutations.length
            ? mutate(
                stream.map((p) => p.bytes),
                mutations,
              )
            : Buffer.concat(stream.map((p) => p.bytes));
          // What the reader yields for these bytes after CONNACK and SUBACK, up to a violation.
          const reader = new PacketReader(DEFAULT_MAX_PACKET_BYTES);
          reader.push(bytes);
          const expected: ReadResult[] = [];
          for (let r = reader.next(); r; r = reader.next()) expected.push(r);
          const violation = expected.find(
            (r) => r.type === 'violation' || r.type === 'connack' || r.type === 'suback' || r.type === 'unsuback',
          );
          const deliverable = expected
            .slice(0, violation ? expected.indexOf(violation) : undefined)
            .filter((r) => r.type === 'publish');

          script = split(bytes, cuts);
          pubacks = [];
          closed = false;
          const delivered: InboundPublish[] = [];
          const protocolErrors: string[] = [];
          const instance = new MqttSubscriber({
            url: `mqtt://127.0.0.1:${port}`,
            clientId: 'sub-fuzzed',
            subscription: 'tenant/+/device/+/+',
            clean: true,
            reconnectMs: 60_000,
            onMessage: (message, done) => {
              delivered.push({ ...message, payload: Buffer.from(message.payload) });
              done?.();
            },
            onProtocolError: (reason) => protocolErrors.push(reason),
          });
          await instance.start();
          const qos1Ids = deliverable.flatMap((r) => (r.type === 'publish' && r.qos === 1 ? [r.packetId] : []));
          await waitFor(
            () => (violation ? closed : pubacks.length === qos1Ids.length && delivered.length === deliverable.length),
            5000,
          );
          await instance.stop();
          expect(delivered.map((m) => [m.topic, m.qos, m.payload.toString('hex')])).toEqual(
            deliverable.map((r) => r.type === 'publish' && [r.topic, r.qos, r.payload.toString('hex')]),
          );
          // Every PUBACK is of a delivered QoS 1 message, in arrival order; all of them without a violation.
          expect(qos1Ids.slice(0, pubacks.length)).toEqual(pubacks);
          if (!violation) expect(pubacks).toEqual(qos1Ids);
          expect(protocolErrors).toHaveLength(violation ? 1 : 0);
        },
      ),
      { numRuns: 150 },
    );
    expect(packets).toBeGreaterThan(500);
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('ingest MQTT subscriber over a WebSocket', () => {
  it('receives through aedes behind ws://', async () => {
    const aedes = await Aedes.createBroker();
    const server = createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket) => aedes.handle(createWebSocketStream(socket) as never));
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const { instance, received } = subscriber(`ws://127.0.0.1:${port}/mqtt`, 'sub-ws');
    await instance.start();
    const device = await mqtt.connectAsync(`ws://127.0.0.1:${port}/mqtt`);
    await device.publishAsync('tenant/t/device/d/telemetry', JSON.stringify({ seq: 3 }), { qos: 1 });
    await waitFor(() => received.length === 1);
    expect(seqs(received)).toEqual([3]);
    await device.endAsync();
    await instance.stop();
    wss.close();
    await new Promise((resolve) => server.close(resolve));
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
  });
});
