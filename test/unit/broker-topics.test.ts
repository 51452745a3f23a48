// What the embedded broker allows: no subscription that could match a device topic (their payloads carry
// provision tokens), a logged-in device's own topics, and no packet over MQTT_MAX_PACKET_BYTES.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  deviceLogin,
  isOwnAlertFilter,
  isOwnCommandFilter,
  mayMatchAlertTopic,
  readerLogin,
  isOwnTopic,
  mayMatchDeviceTopic,
  packetSizeScanner,
} from '../../src/broker/embedded.js';
import { encodePacket, remainingLength } from '../../src/ingest/mqtt-packets.js';

describe('alert topics', () => {
  it('are what #, +/… and alerts/… filters could match, and nothing else', () => {
    for (const filter of ['#', '+/#', '+/acme/x', 'alerts/#', 'alerts/acme/#', 'alerts']) {
      expect(mayMatchAlertTopic(filter), filter).toBe(true);
    }
    for (const filter of ['weather/#', 'alertsx/#', 'tenant/acme/#', '$SYS/#']) {
      expect(mayMatchAlertTopic(filter), filter).toBe(false);
    }
  });

  it("are readable by a tenant's readers within alerts/<tenant>/ only", () => {
    for (const filter of ['alerts/acme/#', 'alerts/acme/+/NO_HEARTBEAT', 'alerts/acme/site-1/THRESHOLD']) {
      expect(isOwnAlertFilter(filter, 'acme'), filter).toBe(true);
    }
    for (const filter of ['alerts/#', 'alerts/+/#', 'alerts/acme', 'alerts/other/#', 'alerts/acme/#/x', '#']) {
      expect(isOwnAlertFilter(filter, 'acme'), filter).toBe(false);
    }
  });

  it('name readers <tenant>/alerts/<name>, which no device login can be', () => {
    expect(readerLogin('acme/alerts/scada')).toEqual({ tenantId: 'acme', name: 'scada' });
    for (const username of ['acme/scada', 'acme/alerts', '/alerts/x', 'acme/alerts/', 'a/b/c', 'acme/alerts/x/y']) {
      expect(readerLogin(username), username).toBeUndefined();
    }
    expect(deviceLogin('acme/alerts/scada')).toBeUndefined();
  });
});

describe('subscriptions that could read device topics', () => {
  it('are the filters that match tenant/<t>/device/<d>/<type>', () => {
    for (const filter of [
      '#',
      '+/#',
      '+/+/+/+/+',
      'tenant/#',
      'tenant/+/device/+/+',
      'tenant/acme/device/d1/telemetry',
      'tenant/acme/#',
      'tenant/+/device/#',
      'tenant/+/+/+/+',
      'tenant/+/device/+/+/#',
    ])
      expect(mayMatchDeviceTopic(filter), filter).toBe(true);
  });

  it('and no others', () => {
    for (const filter of [
      'alerts/#',
      'site/+/status',
      'tenant/acme/device/d1',
      'tenant/+/device/+/+/+',
      'tenants/#',
      'tenant/acme/sensor/#',
      '+/+/+/+',
      '$SYS/#',
    ])
      expect(mayMatchDeviceTopic(filter), filter).toBe(false);
  });
});

describe('what a device that logged in may do', () => {
  const device = { tenantId: 'acme', deviceId: 'd1' };

  it('logs in as <tenant_id>/<device_id>, nothing else', () => {
    expect(deviceLogin('acme/d1')).toEqual(device);
    for (const name of ['acme', 'acme/', '/d1', 'acme/d1/x', '']) expect(deviceLogin(name), name).toBeUndefined();
  });

  it('publishes to its own topics only', () => {
    expect(isOwnTopic('tenant/acme/device/d1/telemetry', device)).toBe(true);
    for (const topic of [
      'tenant/acme/device/d2/telemetry',
      'tenant/other/device/d1/telemetry',
      'tenant/acme/device/d1',
      'tenant/acme/device/d1/',
      'tenant/acme/device/d1/telemetry/x',
      'alerts/acme/x',
    ])
      expect(isOwnTopic(topic, device), topic).toBe(false);
  });

  it('subscribes within its own commands subtree only', () => {
    for (const filter of [
      'tenant/acme/device/d1/commands',
      'tenant/acme/device/d1/commands/#',
      'tenant/acme/device/d1/commands/+/x',
    ])
      expect(isOwnCommandFilter(filter, device), filter).toBe(true);
    for (const filter of [
      'tenant/acme/device/d1/#',
      'tenant/acme/device/d2/commands/#',
      'tenant/acme/device/d1/commandsx',
    ])
      expect(isOwnCommandFilter(filter, device), filter).toBe(false);
  });
});

describe('the packet size guard of the embedded broker', () => {
  const MAX = 4096;
  const packet = (bodyLength: number) => encodePacket(3, 0, Buffer.alloc(bodyLength, 7));
  const fed = (scan: (chunk: Uint8Array) => boolean, bytes: Buffer, cuts: number[]) => {
    let ok = true;
    let from = 0;
    for (const cut of [...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length]) {
      ok = scan(bytes.subarray(from, Math.max(from, cut))) && ok;
      from = Math.max(from, cut);
    }
    return ok;
  };

  it('passes any stream of packets within the limit, however it is split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: MAX - 5 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (lengths, cuts) => fed(packetSizeScanner(MAX), Buffer.concat(lengths.map(packet)), cuts),
      ),
      { numRuns: 500 },
    );
  });

  it('fails at the first packet over the limit, having read only its header', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 5 }),
        fc.integer({ min: MAX, max: 268_435_455 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (before, huge, cuts) => {
          const head = encodePacket(3, 0, Buffer.alloc(0)).subarray(0, 1);
          const header = Buffer.concat([head, Buffer.from(remainingLength(huge))]);
          return !fed(packetSizeScanner(MAX), Buffer.concat([...before.map(packet), header]), cuts);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws on random bytes, and refuses a fifth length byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 20 }), (bytes, cuts) => {
        fed(packetSizeScanner(MAX), Buffer.from(bytes), cuts);
      }),
      { numRuns: 2000 },
    );
    expect(packetSizeScanner(1 << 30)(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe(false);
  });
});
