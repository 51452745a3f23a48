// The simulated device's side of commands, pure: what it answers to each command and configuration, that a
// command sent again is answered again and not run again, how a firmware image is checked, and that no
// payload whatever makes it throw or send a reply Pulse would refuse.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseReply } from '../../src/model/command-protocol.js';
import {
  afterDownload,
  firmwareUpdate,
  firmwareUrl,
  handleMessage,
  initialControl,
  type Action,
  type DeviceControl,
} from '../../src/simulator/device-commands.js';
import { isAwake } from '../../src/simulator/device-model.js';

const ID = '6f1c1d5e-3a4b-4c5d-9e8f-0a1b2c3d4e5f';
const OTHER_ID = '0b9d6e1a-2c3d-4e5f-8a9b-0c1d2e3f4a5b';
const BOOT = 1_000_000;
const fresh = () => initialControl(10, '1.0.0', BOOT);
const command = (name: unknown, params?: unknown, id: unknown = ID) => JSON.stringify({ id, name, params });
const run = (control: DeviceControl, payload: string, now = BOOT + 90_500, leaf = ID) =>
  handleMessage(control, leaf, payload, now);
const published = (actions: Action[]) =>
  actions.map((action) => (action.kind === 'publish' ? [action.reply.type, action.reply.payload] : [action.kind]));

const IMAGE = Buffer.from('firmware image 2.0.0');
const UPDATE = {
  url: '/firmware/2.0.0.bin',
  size: IMAGE.length,
  sha256: createHash('sha256').update(IMAGE).digest('hex'),
  version: '2.0.0',
};

describe('simulated device commands', () => {
  it('acknowledges a ping and answers with its uptime and firmware', () => {
    const { control, actions } = run(fresh(), command('ping'));
    expect(published(actions)).toEqual([
      ['command_ack', { id: ID }],
      ['command_result', { id: ID, status: 'SUCCEEDED', result: { pong: true, uptime_s: 90, fw_version: '1.0.0' } }],
    ]);
    expect(control.answered).toHaveLength(1);
  });

  it('fails a command it does not know, naming it', () => {
    expect(published(run(fresh(), command('frobnicate', { x: 1 })).actions)[1]).toEqual([
      'command_result',
      { id: ID, status: 'FAILED', error: 'unknown command frobnicate' },
    ]);
  });

  it('answers a malformed name FAILED, and drops what has no id to answer', () => {
    expect(published(run(fresh(), command('1 bad')).actions)[1]![1]).toMatchObject({
      status: 'FAILED',
      error: expect.stringMatching(/^malformed command: name must match/),
    });
    expect(run(fresh(), command('ping', {}, 'not-a-uuid'), BOOT, 'not-a-uuid').actions).toEqual([]);
    // The topic names the command when the payload does not.
    expect(published(run(fresh(), command('ping', {}, 42), BOOT, OTHER_ID).actions)[0]).toEqual([
      'command_ack',
      { id: OTHER_ID },
    ]);
  });

  it('changes its telemetry interval with set_interval within 1 to 3600 s, and says why not otherwise', () => {
    const { control, actions } = run(fresh(), command('set_interval', { seconds: 30 }));
    expect(control.telemetrySeconds).toBe(30);
    expect(published(actions)[1]).toEqual([
      'command_result',
      { id: ID, status: 'SUCCEEDED', result: { interval_seconds: 30 } },
    ]);
    for (const params of [{ seconds: 0 }, { seconds: 3601 }, { seconds: 2.5 }, { seconds: '30' }, {}, null, [30]]) {
      const refused = run(fresh(), command('set_interval', params));
      expect(refused.control.telemetrySeconds).toBe(10);
      expect(published(refused.actions)[1]).toEqual([
        'command_result',
        {
          id: ID,
          status: 'FAILED',
          error: 'set_interval needs params {"seconds": n}, n a whole number from 1 to 3600',
        },
      ]);
    }
  });

  it('reboots after answering, and answers a command sent again without running it again', () => {
    const first = run(fresh(), command('reboot'));
    expect(published(first.actions)).toEqual([
      ['command_ack', { id: ID }],
      ['command_result', { id: ID, status: 'SUCCEEDED', result: { rebooting: true } }],
      ['reboot'],
    ]);
    const again = run(first.control, command('reboot'));
    expect(published(again.actions)).toEqual(published(first.actions).slice(0, 2));

    const interval = run(fresh(), command('set_interval', { seconds: 60 }));
    const changedMeanwhile = { ...interval.control, telemetrySeconds: 5 };
    expect(run(changedMeanwhile, command('set_interval', { seconds: 60 })).control.telemetrySeconds).toBe(5);
  });

  it('applies the configuration keys it knows and reports them; unknown ones stay unreported', () => {
    const config = (version: unknown, desired: unknown) =>
      run(fresh(), JSON.stringify({ version, desired }), BOOT, 'config');
    const applied = config(3, { interval_seconds: 20, mode: 'eco' });
    expect(applied.control).toMatchObject({ telemetrySeconds: 20, configVersion: 3 });
    expect(published(applied.actions)).toEqual([
      ['config_reported', { version: 3, reported: { interval_seconds: 20 } }],
    ]);
    // A value it cannot take: it reports what it has, so the delta shows the difference.
    expect(published(config(4, { interval_seconds: 0 }).actions)).toEqual([
      ['config_reported', { version: 4, reported: { interval_seconds: 10 } }],
    ]);
    expect(published(config(5, { mode: 'eco' }).actions)).toEqual([['config_reported', { version: 5, reported: {} }]]);
    for (const [version, desired] of [
      [-1, {}],
      [1.5, {}],
      ['2', {}],
      [2, []],
      [2, null],
    ])
      expect(config(version, desired).actions).toEqual([]);
    // An older version arriving late is not applied over the newer one.
    const late = run(
      applied.control,
      JSON.stringify({ version: 2, desired: { interval_seconds: 99 } }),
      BOOT,
      'config',
    );
    expect(late).toEqual({ control: applied.control, actions: [] });
  });

  describe('firmware_update', () => {
    it('acknowledges, reports DOWNLOADING and asks the edge to download', () => {
      const { actions } = run(fresh(), command('firmware_update', UPDATE));
      expect(published(actions)).toEqual([
        ['command_ack', { id: ID }],
        ['command_progress', { id: ID, state: 'DOWNLOADING', detail: { url: UPDATE.url } }],
        ['download'],
      ]);
      expect(actions[2]).toEqual({ kind: 'download', id: ID, update: UPDATE });
    });

    it('checks size and SHA-256, then installs and reports the new version', () => {
      const done = afterDownload(fresh(), ID, UPDATE, { image: IMAGE });
      expect(published(done.actions).map(([, payload]) => (payload as { state: string }).state)).toEqual([
        'DOWNLOADED',
        'VERIFIED',
        'UPDATING',
        'UPDATED',
      ]);
      expect(published(done.actions)[3]![1]).toEqual({ id: ID, state: 'UPDATED', detail: { fw_version: '2.0.0' } });
      expect(done.control.fwVersion).toBe('2.0.0');
      const pong = published(run(done.control, command('ping', {}, OTHER_ID), BOOT, OTHER_ID).actions)[1]![1];
      expect(pong).toMatchObject({ result: { fw_version: '2.0.0' } });
    });

    it('fails with the reason on a mismatch or a failed download, keeping its firmware', () => {
      const failure = (download: { image: Buffer } | { error: string }, update = UPDATE) => {
        const { control, actions } = afterDownload(fresh(), ID, update, download);
        expect(control.fwVersion).toBe('1.0.0');
        expect(published(actions)).toHaveLength(1);
        const [type, payload] = published(actions)[0]!;
        expect(type).toBe('command_progress');
        expect(payload).toMatchObject({ id: ID, state: 'FAILED' });
        return (payload as { detail: { error: string } }).detail.error;
      };
      expect(failure({ image: IMAGE.subarray(1) })).toBe(
        `the image is ${IMAGE.length - 1} bytes, not the ${IMAGE.length} announced`,
      );
      expect(failure({ image: Buffer.concat([IMAGE, IMAGE]) })).toBe(
        `the image is longer than the ${IMAGE.length} bytes announced`,
      );
      expect(failure({ image: IMAGE }, { ...UPDATE, sha256: 'a'.repeat(64) })).toBe(
        `the image's SHA-256 is ${UPDATE.sha256}, not the ${'a'.repeat(64)} announced`,
      );
      expect(failure({ error: 'GET http://x/fw answered 404' })).toBe('GET http://x/fw answered 404');
    });

    it('refuses params it cannot use, saying which', () => {
      expect(firmwareUpdate(UPDATE)).toEqual(UPDATE);
      expect(firmwareUpdate({ ...UPDATE, sha256: UPDATE.sha256.toUpperCase() })).toEqual(UPDATE);
      expect(firmwareUpdate(null)).toMatch(/got no object/);
      expect(firmwareUpdate({ ...UPDATE, url: '' })).toMatch(/url must be/);
      expect(firmwareUpdate({ ...UPDATE, size: 0 })).toMatch(/size must be/);
      expect(firmwareUpdate({ ...UPDATE, sha256: 'abc' })).toMatch(/sha256 must be/);
      expect(firmwareUpdate({ ...UPDATE, version: 7 })).toMatch(/version must be 1 to 64 printable/);
      const { actions } = run(fresh(), command('firmware_update', { url: '/x' }));
      expect(published(actions)[1]).toEqual([
        'command_progress',
        { id: ID, state: 'FAILED', detail: { error: expect.stringMatching(/^firmware_update needs params/) } },
      ]);
    });

    it('downloads from an absolute URL or one relative to Pulse, over http(s) only', () => {
      const at = (url: string) => {
        const resolved = firmwareUrl(url, 'http://127.0.0.1:8080/');
        return typeof resolved === 'string' ? resolved : resolved.href;
      };
      expect(at('/firmware/a.bin')).toBe('http://127.0.0.1:8080/firmware/a.bin');
      expect(at('firmware/a.bin')).toBe('http://127.0.0.1:8080/firmware/a.bin');
      expect(at('https://cdn.example.com/a.bin')).toBe('https://cdn.example.com/a.bin');
      expect(at('file:///etc/passwd')).toBe('the firmware URL must be http or https, not file:');
      expect(at('http://[::1')).toBe('the firmware URL "http://[::1" is not a URL');
    });
  });

  it('never throws on any payload, and every reply it sends is one Pulse takes', () => {
    const uuid = fc.uuid();
    const binary = fc.string({ unit: 'binary', maxLength: 40 });
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
      binary,
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc
        .record(
          {
            id: fc.oneof(uuid, binary, fc.integer()),
            name: fc.oneof(fc.constantFrom('ping', 'reboot', 'set_interval', 'firmware_update'), binary),
            params: fc.oneof(
              fc.jsonValue(),
              fc.record({ seconds: fc.oneof(fc.integer(), fc.double(), fc.string()) }, { requiredKeys: [] }),
              fc.record({
                url: fc.oneof(fc.webUrl(), binary),
                size: fc.integer(),
                sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
                version: fc.oneof(fc.constant('2.0.0'), binary),
              }),
            ),
          },
          { requiredKeys: [] },
        )
        .map((value) => JSON.stringify(value)),
      fc
        .record({ version: fc.oneof(fc.integer(), fc.double()), desired: fc.jsonValue() }, { requiredKeys: [] })
        .map((value) => JSON.stringify(value)),
    );
    fc.assert(
      fc.property(
        fc.oneof(uuid, fc.constant('config'), binary),
        fc.array(payload, { maxLength: 5 }),
        (leaf, messages) => {
          let control = fresh();
          for (const message of messages) {
            const handled = handleMessage(control, leaf, message, BOOT + 5000);
            control = handled.control;
            for (const action of handled.actions) {
              if (action.kind !== 'publish') continue;
              const parsed = parseReply(action.reply.type, action.reply.payload);
              expect(parsed.ok, JSON.stringify({ action, parsed })).toBe(true);
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('wakes sleepy devices for awakeSeconds every periodSeconds, each at its own phase', () => {
    const sleep = { everyNth: 5, periodSeconds: 120, awakeSeconds: 10 };
    expect([0, 9, 10, 119, 120].map((t) => isAwake(t, 0, sleep))).toEqual([true, true, false, false, true]);
    expect([0, 100, 110, 119].map((t) => isAwake(t, 10, sleep))).toEqual([false, false, true, true]);
    expect(isAwake(50, 0, { ...sleep, awakeSeconds: 120 })).toBe(true);
  });
});
