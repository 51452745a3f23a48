import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { httpReason, httpStatusFor } from '../../src/ingest/reasons.js';
import { applySettingRows, defaultIngestSettings, rejectStorage } from '../../src/model/settings.js';
import { matchesDeviceFilter, parseTopic } from '../../src/ingest/topic.js';
import {
  checkMetrics,
  parseTimestamp,
  rememberedTokenBytes,
  validate,
  type ValidationInput,
} from '../../src/ingest/validate.js';
import type { RegistryEntry } from '../../src/model/device-registry.js';

const TOKEN = 'tok-abcdefghijklmnopqrstuvwxyz012345';
const DEVICE: RegistryEntry = {
  site_id: 'lab-1',
  status: 'ACTIVE',
  provision_token_hash: createHash('sha256').update(TOKEN).digest('hex'),
};
const NOW = Date.parse('2026-11-28T12:00:00Z');
const GOOD = { site_id: 'lab-1', provision_token: TOKEN, seq: 7, metrics: { temp_c: 21.5, uplink_ok: true } };

/** Overrides name the topic as a device sends it; it is parsed as the pipeline does. */
type Overrides = Partial<Omit<ValidationInput, 'topic'>> & { topic?: string };

function input({ topic = 'tenant/acme/device/d1/telemetry', ...overrides }: Overrides = {}): ValidationInput {
  const payload = overrides.payload ?? GOOD;
  return {
    topic: parseTopic(topic),
    payload,
    sizeBytes: JSON.stringify(payload ?? '').length,
    device: DEVICE,
    takeRateToken: () => true,
    maxPayloadBytes: 8192,
    maxClockSkewSeconds: 300,
    nowMs: NOW,
    ...overrides,
  };
}

const reasonOf = (overrides: Overrides) => {
  const result = validate(input(overrides));
  return result.ok ? 'ACCEPTED' : result.reason;
};

describe('validate', () => {
  it('remembers only tokens that matched, refuses overlong ones unhashed, and stays bounded in bytes', () => {
    expect(reasonOf({})).toBe('ACCEPTED'); // TOKEN is remembered now
    const before = rememberedTokenBytes();
    for (let i = 0; i < 2000; i += 1) {
      expect(reasonOf({ headerToken: `tok-guess-${i}-${'x'.repeat(15_000)}` })).toBe('TOKEN_INVALID'); // as X-Provision-Token
      expect(reasonOf({ payload: { ...GOOD, provision_token: `tok-guess-${i}` } })).toBe('TOKEN_INVALID');
    }
    expect(reasonOf({})).toBe('ACCEPTED');
    expect(rememberedTokenBytes()).toBe(before);
  });

  it("accepts a telemetry message of the original's simulator", () => {
    const result = validate(input({ payload: { ...GOOD, ts: '2026-11-28T11:59:00.123456+00:00', tenant_id: 'acme' } }));
    expect(result).toEqual({
      ok: true,
      message: {
        time: new Date('2026-11-28T11:59:00.123Z'),
        tenant_id: 'acme',
        device_id: 'd1',
        site_id: 'lab-1',
        msg_type: 'telemetry',
        seq: 7,
        metrics: { temp_c: 21.5, uplink_ok: true },
      },
    });
  });

  it('accepts a heartbeat without metrics or seq, at server time', () => {
    const result = validate(
      input({ topic: 'tenant/acme/device/d1/heartbeat', payload: { site_id: 'lab-1', provision_token: TOKEN } }),
    );
    expect(result).toMatchObject({
      ok: true,
      message: { metrics: {}, seq: 0, time: new Date(NOW), msg_type: 'heartbeat' },
    });
  });

  it('uses the header token on HTTP', () => {
    expect(reasonOf({ payload: { site_id: 'lab-1' }, headerToken: TOKEN })).toBe('ACCEPTED');
    expect(reasonOf({ payload: { site_id: 'lab-1' }, headerToken: 'tok-wrong' })).toBe('TOKEN_INVALID');
  });

  it.each([
    ['PAYLOAD_TOO_LARGE', { sizeBytes: 8193 }],
    ['BAD_TOPIC_FORMAT', { topic: 'tenant/acme/site/d1/telemetry' }],
    ['BAD_TOPIC_FORMAT', { topic: 'tenant/acme/device/d1' }],
    ['BAD_TOPIC_FORMAT', { topic: 'tenant//device/d1/telemetry' }],
    ['INVALID_JSON', { payload: undefined }],
    ['INVALID_JSON', { payload: [1, 2] }],
    ['INVALID_JSON', { payload: 'text' }],
    ['TENANT_MISMATCH_TOPIC_VS_PAYLOAD', { payload: { ...GOOD, tenant_id: 'other' } }],
    ['MISSING_SITE_ID', { payload: { ...GOOD, site_id: '' } }],
    ['MISSING_SITE_ID', { payload: { provision_token: TOKEN } }],
    ['UNREGISTERED_DEVICE', { device: null }],
    ['DEVICE_REVOKED', { device: { ...DEVICE, status: 'REVOKED' } }],
    ['SITE_MISMATCH_REGISTRY_VS_PAYLOAD', { payload: { ...GOOD, site_id: 'lab-2' } }],
    ['TOKEN_NOT_SET_IN_REGISTRY', { device: { ...DEVICE, provision_token_hash: null } }],
    ['TOKEN_MISSING', { payload: { site_id: 'lab-1' } }],
    ['TOKEN_INVALID', { payload: { ...GOOD, provision_token: 'tok-nope' } }],
    ['TOKEN_INVALID', { payload: { ...GOOD, provision_token: 42 } }],
    ['RATE_LIMITED', { takeRateToken: () => false }],
    ['INVALID_METRICS', { payload: { ...GOOD, metrics: { temp_c: { value: 21 } } } }],
    ['INVALID_METRICS', { payload: { ...GOOD, metrics: [1] } }],
    ['INVALID_POSITION', { payload: { ...GOOD, metrics: { where: { lat: 100, lon: 0 } } } }],
    ['INVALID_SEQ', { payload: { ...GOOD, seq: '5' } }],
    ['INVALID_SEQ', { payload: { ...GOOD, seq: 1.5 } }],
    ['TS_IN_FUTURE', { payload: { ...GOOD, ts: '2026-11-28T12:05:01Z' } }],
  ] as const)('rejects with %s', (reason, overrides) => {
    expect(reasonOf(overrides as Overrides)).toBe(reason);
  });

  it('takes a message without a token when the broker authenticated its sender, and still checks one sent', () => {
    const { provision_token: _token, ...tokenless } = GOOD;
    expect(reasonOf({ payload: tokenless, topicAuthenticated: true })).toBe('ACCEPTED');
    expect(reasonOf({ payload: tokenless })).toBe('TOKEN_MISSING');
    expect(reasonOf({ payload: { ...GOOD, provision_token: 'tok-stale' }, topicAuthenticated: true })).toBe(
      'TOKEN_INVALID',
    );
    expect(reasonOf({ payload: tokenless, topicAuthenticated: true, device: { ...DEVICE, status: 'REVOKED' } })).toBe(
      'DEVICE_REVOKED',
    );
  });

  it('authenticates before rate limiting: spoofed messages never spend the device’s budget', () => {
    let spent = 0;
    const take = () => {
      spent += 1;
      return true;
    };
    for (const payload of [{ ...GOOD, provision_token: 'tok-spoofed' }, { site_id: 'lab-1' }]) {
      validate(input({ payload, takeRateToken: take }));
    }
    validate(input({ device: null, takeRateToken: take }));
    expect(spent).toBe(0);
    validate(input({ takeRateToken: take }));
    expect(spent).toBe(1);
  });

  it('accepts a timestamp within the allowed skew and an unparseable one as server time', () => {
    expect(reasonOf({ payload: { ...GOOD, ts: '2026-11-28T12:04:59Z' } })).toBe('ACCEPTED');
    expect(validate(input({ payload: { ...GOOD, ts: 'yesterday' } }))).toMatchObject({
      ok: true,
      message: { time: new Date(NOW) },
    });
    expect(validate(input({ payload: { ...GOOD, ts: 1700000000 } }))).toMatchObject({
      ok: true,
      message: { time: new Date(NOW) },
    });
  });

  it('reports what it knows about a rejected message', () => {
    expect(validate(input({ device: null, payload: { ...GOOD, ts: '2026-11-28T11:00:00Z' } }))).toEqual({
      ok: false,
      reason: 'UNREGISTERED_DEVICE',
      tenantId: 'acme',
      deviceId: 'd1',
      siteId: 'lab-1',
      msgType: 'telemetry',
      eventTs: new Date('2026-11-28T11:00:00Z'),
    });
  });
});

describe('metrics', () => {
  const accepted = (metrics: unknown, maxText?: number) => {
    const checked = checkMetrics(metrics, maxText);
    return checked.ok ? checked.metrics : checked.reason;
  };

  it('accepts finite numbers, booleans, texts and positions under well-formed keys, and absent metrics as {}', () => {
    expect(accepted({ a: 1, 'b.c-d_e': -2.5, _f: false })).toEqual({ a: 1, 'b.c-d_e': -2.5, _f: false });
    expect(accepted({ mode: 'DEFROST', door: 'open', fw: '' })).toEqual({ mode: 'DEFROST', door: 'open', fw: '' });
    const position = { lat: 52.37, lon: 4.89, alt: -3, acc: 12 };
    expect(accepted({ position, speed: 3 })).toEqual({ position, speed: 3 });
    expect(accepted({ here: { lat: -90, lon: 180 } })).toEqual({ here: { lat: -90, lon: 180 } });
    expect(accepted(undefined)).toEqual({});
    expect(accepted(null)).toEqual({});
  });

  it.each([
    [{ x: Number.NaN }],
    [{ x: Number.POSITIVE_INFINITY }],
    [{ x: null }],
    [{ x: { nested: 1 } }],
    [{ x: [1, 2] }],
    [{ x: 'a'.repeat(257) }],
    [{ x: 'nul \u0000 inside' }],
    [{ '1abc': 1 }],
    [{ 'a b': 1 }],
    [{ ['k'.repeat(129)]: 1 }],
    [Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`m${i}`, i]))],
  ])('refuses %j as INVALID_METRICS', (metrics) => {
    expect(accepted(metrics)).toBe('INVALID_METRICS');
  });

  it.each([
    [{ p: { lat: 91, lon: 0 } }],
    [{ p: { lat: 0, lon: -180.5 } }],
    [{ p: { lat: 0 } }],
    [{ p: { lat: '52', lon: 4 } }],
    [{ p: { lat: 1, lon: 1, acc: -1 } }],
    [{ p: { lat: 1, lon: 1, alt: Number.NaN } }],
    [{ p: { lat: 1, lon: 1, heading: 90 } }],
  ])('refuses %j as INVALID_POSITION', (metrics) => {
    expect(accepted(metrics)).toBe('INVALID_POSITION');
  });

  it('allows exactly 50 metrics, 128-character keys and texts up to the configured length', () => {
    expect(accepted(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`m${i}`, i])))).not.toBe(
      'INVALID_METRICS',
    );
    expect(accepted({ ['k'.repeat(128)]: 1 })).not.toBe('INVALID_METRICS');
    expect(accepted({ x: 'a'.repeat(256) })).toEqual({ x: 'a'.repeat(256) });
    expect(accepted({ x: 'a'.repeat(11) }, 10)).toBe('INVALID_METRICS');
  });
});

describe('timestamps', () => {
  it('reads ISO-8601 with or without offset (none means UTC)', () => {
    expect(parseTimestamp('2026-02-07T10:00:00.123456+00:00')).toEqual(new Date('2026-02-07T10:00:00.123Z'));
    expect(parseTimestamp('2026-02-07T10:00:00')).toEqual(new Date('2026-02-07T10:00:00Z'));
    expect(parseTimestamp('2026-02-07T10:00:00+01:00')).toEqual(new Date('2026-02-07T09:00:00Z'));
    expect(parseTimestamp('Feb 7 2026')).toBeNull();
    expect(parseTimestamp('2026-13-45T99:00:00Z')).toBeNull();
  });
});

describe('topics', () => {
  it("parses the contract's topic grammar only", () => {
    expect(parseTopic('tenant/t/device/d/telemetry')).toEqual({ tenantId: 't', deviceId: 'd', msgType: 'telemetry' });
    expect(parseTopic('tenant/t/device/d/telemetry/extra')).toBeNull();
    expect(parseTopic('tenants/t/device/d/telemetry')).toBeNull();
  });

  it('matches tenant/+/device/+/+ as a broker would, empty levels included', () => {
    expect(matchesDeviceFilter('tenant/t/device/d/telemetry')).toBe(true);
    expect(matchesDeviceFilter('tenant//device//')).toBe(true);
    expect(matchesDeviceFilter('tenant/t/device/d')).toBe(false);
    expect(matchesDeviceFilter('tenant/t/device/d/telemetry/x')).toBe(false);
    expect(matchesDeviceFilter('tenant/t/devices/d/telemetry')).toBe(false);
    expect(matchesDeviceFilter('site/t/device/d/telemetry')).toBe(false);
  });
});

describe('HTTP mapping', () => {
  it("uses the contract's statuses and its SITE_MISMATCH spelling", () => {
    expect(httpStatusFor('RATE_LIMITED')).toBe(429);
    expect(httpStatusFor('UNREGISTERED_DEVICE')).toBe(403);
    expect(httpStatusFor('DEVICE_REVOKED')).toBe(403);
    expect(httpStatusFor('TOKEN_INVALID')).toBe(401);
    expect(httpStatusFor('TOKEN_NOT_SET_IN_REGISTRY')).toBe(401);
    expect(httpStatusFor('PAYLOAD_TOO_LARGE')).toBe(400);
    expect(httpStatusFor('INVALID_METRICS')).toBe(400);
    expect(httpReason('SITE_MISMATCH_REGISTRY_VS_PAYLOAD')).toBe('SITE_MISMATCH');
  });
});

describe('runtime settings', () => {
  it('has one set of defaults and lets app_settings rows override them', () => {
    const defaults = defaultIngestSettings('DEV');
    expect(defaults).toEqual({
      mode: 'DEV',
      storeRejects: false,
      maxPayloadBytes: 8192,
      rateLimitRps: 5,
      rateLimitBurst: 20,
    });
    expect(
      applySettingRows(defaults, [
        { key: 'MODE', value: 'prod' },
        { key: 'STORE_REJECTS', value: 'true' },
        { key: 'MAX_PAYLOAD_BYTES', value: '16384' },
        { key: 'RATE_LIMIT_RPS', value: '10' },
        { key: 'RATE_LIMIT_BURST', value: 'lots' },
      ]),
    ).toEqual({ mode: 'PROD', storeRejects: true, maxPayloadBytes: 16384, rateLimitRps: 10, rateLimitBurst: 20 });
  });

  it('stores payloads only in DEV; PROD with STORE_REJECTS keeps the event without its payload', () => {
    expect(rejectStorage({ ...defaultIngestSettings('DEV') })).toBe('payload');
    expect(rejectStorage({ ...defaultIngestSettings('PROD'), storeRejects: true })).toBe('event-only');
    expect(rejectStorage({ ...defaultIngestSettings('PROD') })).toBe('none');
  });
});
