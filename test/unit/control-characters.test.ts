// Control characters in topics, ids and URL values (issue 36, items 5 and 9): found wherever they are,
// refused by the topic parser and the HTTP checks, never a throw on any input; and integer bounds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundIntegers, controlCharacterProblem } from '../../src/http/input-checks.js';
import { parseTopic } from '../../src/ingest/topic.js';
import { escapeControlCharacters, firstControlCharacter } from '../../src/lib/control-characters.js';

const isControl = (unit: number) => unit <= 0x1f || (unit >= 0x7f && unit <= 0x9f);
const hasControl = (text: string) => [...text].some((character) => isControl(character.charCodeAt(0)));
/** Every C0 and C1 control character. */
const CONTROLS = [...Array(0x20).keys(), ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i)].map((unit) =>
  String.fromCharCode(unit),
);
const control = fc.constantFrom(...CONTROLS);
const text = fc.string({ unit: 'binary', maxLength: 40 });
/** A well-formed device topic with a control character put in at a random place. */
const mutatedTopic = fc
  .tuple(fc.stringMatching(/^[a-z0-9_-]{1,12}$/), fc.stringMatching(/^[a-z0-9_-]{1,12}$/), control, fc.nat())
  .map(([tenant, device, character, at]) => {
    const topic = `tenant/${tenant}/device/${device}/telemetry`;
    const position = at % (topic.length + 1);
    return topic.slice(0, position) + character + topic.slice(position);
  });

describe('control characters', () => {
  it('are found, named and escaped: U+0000, U+001F, U+007F, U+009F, and nothing printable', () => {
    expect(firstControlCharacter('a\u0000b')).toBe('U+0000');
    expect(firstControlCharacter('a\u009f\u0001')).toBe('U+009F');
    expect(firstControlCharacter('café ☃ 😀 \u00a0')).toBeUndefined();
    expect(escapeControlCharacters('tenant/a\u0000/device/\u007f/x')).toBe('tenant/a\\u0000/device/\\u007f/x');
  });

  it('are found exactly when there, in any text', () => {
    fc.assert(
      fc.property(text, (value) => {
        expect(firstControlCharacter(value) !== undefined).toBe(hasControl(value));
        expect(hasControl(escapeControlCharacters(value))).toBe(false);
        if (!hasControl(value)) expect(escapeControlCharacters(value)).toBe(value);
      }),
      { numRuns: 2000 },
    );
  });

  it('make a topic no device topic, wherever they are; the parser never throws', () => {
    expect(parseTopic('tenant/acme\u0000/device/d1/telemetry')).toBeNull();
    expect(parseTopic('tenant/acme/device/d\u0085/telemetry')).toBeNull();
    expect(parseTopic('tenant/acme/device/d1/telemetry\n')).toBeNull();
    fc.assert(
      fc.property(mutatedTopic, (topic) => {
        expect(parseTopic(topic)).toBeNull();
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.oneof(text, mutatedTopic), (topic) => {
        const parsed = parseTopic(topic);
        if (parsed) expect(hasControl(parsed.tenantId + parsed.deviceId + parsed.msgType)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('in a path parameter or query value (or name) are a 400 naming the parameter and the character', () => {
    expect(controlCharacterProblem('path parameter', { device_id: 'd\u0000' })).toBe(
      'The path parameter "device_id" holds a control character (U+0000); remove it',
    );
    expect(controlCharacterProblem('query parameter', { q: ['ok', 'x\u0007'] })).toMatch(/"q" .* \(U\+0007\)/);
    expect(controlCharacterProblem('query parameter', { 'a\u0000': '1' })).toMatch(/"a\\u0000"/);
    expect(controlCharacterProblem('path parameter', { device_id: 'd-1 ☃' })).toBeUndefined();
    expect(controlCharacterProblem('query parameter', undefined)).toBeUndefined();
  });

  it('are refused in any value, and the check never throws on whatever it is handed', () => {
    fc.assert(
      fc.property(fc.dictionary(text, fc.oneof(text, fc.array(text))), control, text, (values, character, name) => {
        expect(controlCharacterProblem('query parameter', { ...values, [name]: `x${character}` })).toBeDefined();
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.anything(), (values) => {
        controlCharacterProblem('path parameter', values);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('integer bounds', () => {
  it('bound every integer a request schema declares without bounds, and keep declared ones', () => {
    const shared = { type: 'integer' };
    const schema = {
      type: 'object',
      properties: {
        job_id: shared,
        again: shared,
        limit: { type: 'integer', minimum: 1, maximum: 500 },
        ids: { type: 'array', items: { type: ['integer', 'null'] } },
        name: { type: 'string' },
      },
    };
    boundIntegers(schema);
    const unbounded = { minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER };
    expect(schema.properties.job_id).toEqual({ type: 'integer', ...unbounded });
    expect(schema.properties.limit).toEqual({ type: 'integer', minimum: 1, maximum: 500 });
    expect(schema.properties.ids.items).toEqual({ type: ['integer', 'null'], ...unbounded });
    expect(schema.properties.name).toEqual({ type: 'string' });
    boundIntegers(undefined);
  });
});
