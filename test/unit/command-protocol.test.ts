// The device side of commands (ADR 028), pure: replies parsed without ever throwing, configuration delta
// and merge patch, and how a fleet job moves on at each tick.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  configDelta,
  firmwareOutcome,
  isReplyType,
  mergePatch,
  parseReply,
  REPLY_TYPES,
  sameJson,
} from '../../src/model/command-protocol.js';
import { nextStep, type ExecutionCounts, type RolloutPolicy } from '../../src/model/rollout.js';

const ID = '6f1c1d5e-3a4b-4c5d-9e8f-0a1b2c3d4e5f';

describe('device replies', () => {
  it('takes each documented reply and says what is wrong with a bad one', () => {
    expect(parseReply('commands_ready', {})).toEqual({ ok: true, reply: { type: 'commands_ready' } });
    expect(parseReply('command_ack', { id: ID.toUpperCase() })).toEqual({
      ok: true,
      reply: { type: 'command_ack', id: ID },
    });
    expect(parseReply('command_result', { id: ID, status: 'SUCCEEDED', result: { pong: true } })).toEqual({
      ok: true,
      reply: { type: 'command_result', id: ID, status: 'SUCCEEDED', result: { pong: true }, error: null },
    });
    expect(parseReply('command_progress', { id: ID, state: 'DOWNLOADING', detail: { percent: 40 } })).toMatchObject({
      ok: true,
      reply: { state: 'DOWNLOADING' },
    });
    expect(parseReply('config_reported', { version: 3, reported: { a: 1 } })).toMatchObject({ ok: true });

    expect(parseReply('command_ack', [])).toEqual({ ok: false, problem: 'the payload must be a JSON object' });
    expect(parseReply('command_ack', { id: 'nope' })).toMatchObject({ problem: /id must be the command id/ });
    expect(parseReply('command_result', { id: ID, status: 'DONE' })).toMatchObject({
      problem: 'status must be SUCCEEDED or FAILED',
    });
    expect(parseReply('command_result', { id: ID, status: 'FAILED', error: 'x'.repeat(1001) })).toMatchObject({
      problem: /error must be a string of at most 1000/,
    });
    expect(parseReply('command_result', { id: ID, status: 'SUCCEEDED', result: 'a'.repeat(17_000) })).toMatchObject({
      problem: /result is \d+ bytes of JSON, at most 16384/,
    });
    expect(parseReply('command_progress', { id: ID, state: 'downloading' })).toMatchObject({
      problem: /upper-case word/,
    });
    expect(parseReply('config_reported', { version: -1, reported: {} })).toMatchObject({ problem: /version must be/ });
    expect(parseReply('config_reported', { version: 1, reported: [] })).toMatchObject({
      problem: 'reported must be a JSON object',
    });
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { deeper: deep };
    expect(parseReply('command_result', { id: ID, status: 'SUCCEEDED', result: deep })).toMatchObject({
      problem: /nests deeper/,
    });
  });

  it('never throws, whatever a device sends', () => {
    fc.assert(
      fc.property(fc.constantFrom(...REPLY_TYPES), fc.jsonValue(), fc.anything(), (type, json, anything) => {
        for (const payload of [
          json,
          anything,
          { id: ID, status: 'SUCCEEDED', result: json },
          { version: 1, reported: json },
        ]) {
          const parsed = parseReply(type, payload);
          expect(typeof parsed.ok).toBe('boolean');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('reserves only its own message types', () => {
    expect(isReplyType('command_ack')).toBe(true);
    expect(isReplyType('telemetry')).toBe(false);
    expect(isReplyType('heartbeat')).toBe(false);
    expect(firmwareOutcome('UPDATED')).toBe('SUCCEEDED');
    expect(firmwareOutcome('FAILED')).toBe('FAILED');
    expect(firmwareOutcome('VERIFIED')).toBeUndefined();
  });
});

describe('desired configuration', () => {
  it('lists the keys that differ, in any key order', () => {
    expect(configDelta({ a: 1, b: { x: [1, 2] } }, { b: { x: [1, 2] }, a: 1 })).toEqual([]);
    expect(configDelta({ a: 1, b: 2 }, { a: 2, c: 3 })).toEqual(['a', 'b', 'c']);
    expect(configDelta({ a: 1 }, null)).toEqual(['a']);
    expect(sameJson({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(sameJson([1], { 0: 1 })).toBe(false);
  });

  it('patches as RFC 7386 says: null removes, objects merge, the rest replaces', () => {
    expect(mergePatch({ a: 1, b: { c: 2, d: 3 }, e: [1] }, { a: null, b: { c: null, f: 4 }, e: [2] })).toEqual({
      b: { d: 3, f: 4 },
      e: [2],
    });
    expect(mergePatch({ a: 'x' }, { a: { b: 1 } })).toEqual({ a: { b: 1 } });
  });
});

describe('a fleet job at each tick', () => {
  const counts = (over: Partial<ExecutionCounts>): ExecutionCounts => ({
    PENDING: 0,
    IN_PROGRESS: 0,
    SUCCEEDED: 0,
    FAILED: 0,
    TIMED_OUT: 0,
    CANCELED: 0,
    ...over,
  });
  const start = new Date('2026-12-07T10:00:00Z');
  const policy: RolloutPolicy = {
    rate_per_minute: null,
    max_in_flight: 10,
    abort_failure_percent: null,
    abort_min_devices: 1,
    started_at: start,
  };
  const at = (seconds: number) => new Date(start.getTime() + seconds * 1000);

  it('starts what the in-flight bound leaves room for, and completes when nothing is left', () => {
    expect(nextStep(policy, counts({ PENDING: 50, IN_PROGRESS: 4 }), 0, at(1))).toEqual({ action: 'start', count: 6 });
    expect(nextStep(policy, counts({ PENDING: 3 }), 0, at(1))).toEqual({ action: 'start', count: 3 });
    expect(nextStep(policy, counts({ IN_PROGRESS: 2 }), 0, at(1))).toEqual({ action: 'start', count: 0 });
    expect(nextStep(policy, counts({ SUCCEEDED: 5 }), 0, at(1))).toEqual({ action: 'complete' });
  });

  it('ramps up to the rollout rate and holds it over a sliding minute', () => {
    const paced = { ...policy, rate_per_minute: 60, max_in_flight: 1000 };
    expect(nextStep(paced, counts({ PENDING: 500 }), 0, at(0))).toEqual({ action: 'start', count: 1 });
    expect(nextStep(paced, counts({ PENDING: 500 }), 1, at(10))).toEqual({ action: 'start', count: 9 });
    expect(nextStep(paced, counts({ PENDING: 500 }), 60, at(120))).toEqual({ action: 'start', count: 0 });
    expect(nextStep(paced, counts({ PENDING: 500 }), 55, at(120))).toEqual({ action: 'start', count: 5 });
  });

  it('aborts once enough devices finished and too many of them failed', () => {
    const strict = { ...policy, abort_failure_percent: 20, abort_min_devices: 10 };
    expect(nextStep(strict, counts({ PENDING: 90, FAILED: 5, SUCCEEDED: 4 }), 0, at(1)).action).toBe('start');
    expect(nextStep(strict, counts({ PENDING: 90, FAILED: 2, SUCCEEDED: 8 }), 0, at(1)).action).toBe('start');
    expect(nextStep(strict, counts({ PENDING: 90, FAILED: 2, TIMED_OUT: 1, SUCCEEDED: 7 }), 0, at(1))).toEqual({
      action: 'abort',
      reason: '3 of 10 finished devices failed (30 %), more than the 20 % allowed',
    });
  });
});
