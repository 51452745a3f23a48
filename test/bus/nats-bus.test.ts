// The NATS bus against real nats-server processes of the test's own: durable partitions, shared
// consumers, redelivery, live subjects, partition ownership and failover, the outbox across an outage.
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../../src/bus/index.js';
import { createNatsBus, type NatsBusOptions } from '../../src/bus/nats.js';
import { partitionOf } from '../../src/bus/partitions.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats.js';
import { waitFor } from '../helpers/wait.js';
import type { AcceptedMessage, AlertEvent } from '../../src/contracts/messages.js';

const log = pino({ level: 'silent' });
let nats: NatsCluster;
const buses: Bus[] = [];

const options = (server: string): NatsBusOptions => ({
  servers: [server],
  partitions: 4,
  failoverSeconds: 2,
  streamMaxAgeHours: 1,
  outboxMaxBytes: 1 << 20,
  name: 'test',
  log,
});

const open = async (overrides: Partial<NatsBusOptions> = {}) => {
  const bus = await createNatsBus({ ...options(nats.nodes[0]!.url), ...overrides });
  buses.push(bus);
  return bus;
};

const message = (device: string, seq = 1): AcceptedMessage => ({
  time: new Date(1_700_000_000_000 + seq),
  tenant_id: 't1',
  device_id: device,
  site_id: 's1',
  msg_type: 'telemetry',
  seq,
  metrics: { temp: seq },
});

const liveTelemetry = async (bus: Bus) =>
  (await bus.health()).live_telemetry as { listening: boolean; wanted: boolean };

beforeAll(async () => {
  nats = await startNatsCluster(1);
});

afterAll(async () => {
  for (const bus of buses) await bus.close().catch(() => undefined);
  await nats.close();
});

describe('NATS bus', () => {
  it('delivers stored messages to the consumer of their device partition, with their time', async () => {
    const bus = await open();
    const devices = Array.from({ length: 20 }, (_, i) => `d${i}`);
    const received = new Map<number, AcceptedMessage[]>();
    const consumptions = await Promise.all(
      [0, 1, 2, 3].map((partition) =>
        bus.consume(
          'telemetry.stored',
          'stored-test',
          async (messages) => {
            received.set(partition, [...(received.get(partition) ?? []), ...messages]);
          },
          partition,
        ),
      ),
    );
    bus.publish(
      'telemetry.stored',
      devices.map((d, i) => message(d, i)),
    );
    await waitFor(() => [...received.values()].flat().length === 20);
    for (const [partition, messages] of received) {
      for (const m of messages) expect(partitionOf(m.tenant_id, m.device_id, 4)).toBe(partition);
    }
    const first = [...received.values()].flat().find((m) => m.device_id === 'd3')!;
    expect(first.time).toBeInstanceOf(Date);
    expect(first).toEqual(message('d3', 3));
    for (const c of consumptions) await c.stop();
  });

  it('reads stored messages an earlier version wrote as objects', async () => {
    const bus = await open();
    const received: AcceptedMessage[] = [];
    const partition = partitionOf('t1', 'old-1', 4);
    const consumption = await bus.consume(
      'telemetry.stored',
      'stored-test',
      async (messages) => void received.push(...messages),
      partition,
    );
    const raw = await connect({ servers: nats.nodes[0]!.url });
    const old = { ...message('old-1', 9), time: 1_700_000_000_009 };
    await jetstream(raw).publish(`pulse.stored.${partition}`, JSON.stringify([old]));
    await raw.close();
    await waitFor(() => received.length === 1);
    expect(received[0]).toEqual(message('old-1', 9));
    await consumption.stop();
  });

  it('waits at start for a cluster that is still electing its leaders', async () => {
    const cluster = await startNatsCluster(3);
    try {
      // Two of three nodes away: JetStream has no quorum and answers nothing until they are back.
      await cluster.nodes[1]!.kill();
      await cluster.nodes[2]!.kill();
      const warnings: string[] = [];
      const recording = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
      let started = false;
      const starting = createNatsBus({ ...options(cluster.nodes[0]!.url), replicas: 1, log: recording }).then(
        (bus) => ((started = true), bus),
      );
      await waitFor(() => warnings.some((warning) => warning.startsWith('NATS JetStream is not ready')), 30_000);
      expect(started).toBe(false);
      await Promise.all([cluster.nodes[1]!.start(), cluster.nodes[2]!.start()]);
      const bus = await starting;
      expect((await bus.health()).connected).toBe(true);
      await bus.close();
    } finally {
      await cluster.close();
    }
  }, 60_000);

  it('refuses a server without JetStream at once, saying so, instead of waiting for it', async () => {
    const plain = await startNatsCluster(1, [], { jetstream: false });
    try {
      const warnings: string[] = [];
      const recording = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
      const refused = await createNatsBus({ ...options(plain.nodes[0]!.url), log: recording }).catch((e: Error) => e);
      expect(String(refused)).toMatch(/has no usable JetStream: jetstream is not enabled/);
      expect(warnings.filter((warning) => warning.startsWith('NATS JetStream is not ready'))).toEqual([]);
    } finally {
      await plain.close();
    }
  });

  it('sends live telemetry only while some process listens, and a process that starts learns of listeners', async () => {
    const raw = await connect({ servers: nats.nodes[0]!.url });
    const onWire: number[] = [];
    raw.subscribe('pulse.live.telemetry', { callback: (_error, msg) => void onWire.push(msg.data.length) });
    await raw.flush();
    // Nobody listens: nothing goes out, even once the process has closed, sending all it had (and the
    // server has passed on to `raw` all it got before raw's flush).
    const quiet = await open();
    expect(await liveTelemetry(quiet)).toEqual({ listening: false, wanted: false });
    quiet.publish('telemetry.accepted', [message('d1', 1)]);
    await quiet.close();
    await raw.flush();
    expect(onWire).toEqual([]);

    const publisher = await open();

    const listener = await open();
    const heard: number[] = [];
    const stop = listener.subscribe('telemetry.accepted', (messages) => void heard.push(messages[0]!.seq));
    await waitFor(async () => (await liveTelemetry(publisher)).wanted === true);
    publisher.publish('telemetry.accepted', [message('d1', 2)]);
    await waitFor(() => heard.length === 1);
    expect(heard).toEqual([2]);
    expect((await liveTelemetry(listener)).listening).toBe(true);

    // Started after the listener announced itself: it asks, and hears the listener well before its next turn.
    const late = await open();
    await waitFor(async () => (await liveTelemetry(late)).wanted === true, 1000);
    late.publish('telemetry.accepted', [message('d1', 3)]);
    await waitFor(() => heard.length === 2);
    expect(heard).toEqual([2, 3]);
    stop();
    expect((await liveTelemetry(listener)).listening).toBe(false);
    await raw.close();
  });

  it('gives each alert event to one consumer of a group and delivers a failed one again', async () => {
    const [a, b] = [await open(), await open()];
    const seen: number[] = [];
    let failOnce = true;
    const handler = async (event: AlertEvent) => {
      if (event.alert_id === 7 && failOnce) {
        failOnce = false;
        throw new Error('database away');
      }
      seen.push(event.alert_id);
    };
    const consumers = [
      await a.consume('alert.changed', 'dispatch-test', handler),
      await b.consume('alert.changed', 'dispatch-test', handler),
    ];
    for (let id = 1; id <= 30; id++)
      a.publish('alert.changed', { event: 'OPENED', alert_id: id, tenant_id: 't1', fingerprint: `f${id}` });
    await waitFor(() => seen.length === 30, 10_000);
    expect([...seen].sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    for (const c of consumers) await c.stop();
  });

  it('carries live events to every subscriber of every instance', async () => {
    const [a, b] = [await open(), await open()];
    const got: string[] = [];
    const offs = [
      a.subscribe('device.changed', (e) => void got.push(`a:${e.device_id}`)),
      b.subscribe('device.changed', (e) => void got.push(`b:${e.device_id}`)),
      b.subscribe('telemetry.accepted', (messages) => void got.push(`b:live:${messages[0]!.time.getTime()}`)),
    ];
    // a has heard b say it listens, which b said after subscribing to device changes.
    await waitFor(async () => (await liveTelemetry(a)).wanted);
    a.publish('device.changed', { tenant_id: 't1', device_id: 'd1' });
    a.publish('telemetry.accepted', [message('d1', 5)]);
    await waitFor(() => got.length === 3);
    expect(got.sort()).toEqual(['a:d1', 'b:d1', `b:live:${1_700_000_000_005}`]);
    offs.forEach((off) => off());
  });

  it('splits partitions between live instances and moves a dead one’s within the failover time', async () => {
    const owners = new Map<string, Set<number>>();
    const ownerOf = (name: string) => ({
      acquire: async (partitions: number[]) => partitions.forEach((p) => owners.get(name)!.add(p)),
      release: async (partitions: number[]) => partitions.forEach((p) => owners.get(name)!.delete(p)),
    });
    owners.set('a', new Set());
    owners.set('b', new Set());
    const a = await open({ partitions: 4 });
    const b = await open({ partitions: 4 });
    const ownA = await a.own('own-test', ownerOf('a'));
    const ownB = await b.own('own-test', ownerOf('b'));
    // Together they own every partition, never one twice.
    await waitFor(() => owners.get('a')!.size + owners.get('b')!.size === 4 && owners.get('b')!.size > 0, 10_000);
    expect([...owners.get('a')!].filter((p) => owners.get('b')!.has(p))).toEqual([]);
    expect(ownA.owned().length + ownB.owned().length).toBe(4);
    // b leaves cleanly: a takes everything.
    await ownB.stop();
    await waitFor(() => owners.get('a')!.size === 4, 10_000);
    await ownA.stop();
    expect(owners.get('a')!.size).toBe(0);
  });

  it('takes the partition count the cluster recorded when none is set, and 8 for a new cluster', async () => {
    await open({ partitions: 4 });
    expect((await open({ partitions: undefined })).partitions).toBe(4);
    const fresh = await startNatsCluster(1);
    try {
      const first = await createNatsBus({ ...options(fresh.nodes[0]!.url), partitions: undefined });
      expect(first.partitions).toBe(8);
      await first.close();
      await expect(createNatsBus({ ...options(fresh.nodes[0]!.url), partitions: 4 })).rejects.toThrow(
        /EVALUATOR_PARTITIONS is 4 here but 8/,
      );
    } finally {
      await fresh.close();
    }
  });

  it('refuses to start when the cluster cuts devices into another number of partitions', async () => {
    await open({ partitions: 4 });
    await expect(open({ partitions: 8 })).rejects.toThrow(/EVALUATOR_PARTITIONS is 8 here but 4/);
  });

  it('keeps durable events while NATS is away and stores them when it is back', async () => {
    const bus = await open({ failoverSeconds: 2 });
    const seen: number[] = [];
    const consumer = await bus.consume('alert.changed', 'dispatch-test', async (e) => void seen.push(e.alert_id));
    await nats.nodes[0]!.kill();
    for (let id = 1; id <= 10; id++)
      bus.publish('alert.changed', { event: 'OPENED', alert_id: 1000 + id, tenant_id: 't1', fingerprint: 'f' });
    // The client notices the lost connection a moment after the kill: until then it says ok.
    await expect.poll(async () => (await bus.health()).status, { timeout: 5000 }).toBe('degraded');
    expect(await bus.health()).toMatchObject({ status: 'degraded', outbox: { events: 10 } });
    await nats.nodes[0]!.start();
    await waitFor(() => seen.filter((id) => id > 1000).length === 10, 20_000);
    expect(new Set(seen.filter((id) => id > 1000)).size).toBe(10);
    await consumer.stop();
  });
});

describe('NATS credentials', () => {
  let secured: NatsCluster;
  beforeAll(async () => {
    secured = await startNatsCluster(1, ['--user', 'pulse', '--pass', 's3cret']);
  });
  afterAll(() => secured.close());

  it('connects with the user and password of the URL', async () => {
    const port = secured.nodes[0]!.port;
    const bus = await createNatsBus(options(`nats://pulse:s3cret@127.0.0.1:${port}`));
    expect(await bus.health()).toMatchObject({ status: 'ok', connected: true });
    await bus.close();
  });

  it('refuses to start with a wrong password, saying where it could not connect', async () => {
    const port = secured.nodes[0]!.port;
    const refused = await createNatsBus(options(`nats://pulse:wrong@127.0.0.1:${port}`)).catch((e: Error) => e);
    expect(String(refused)).toMatch(
      /cannot connect to NATS at nats:\/\/pulse:\*\*\*@127\.0\.0\.1:\d+: .*authorization/i,
    );
    expect(String(refused)).not.toContain('wrong');
  });
});
