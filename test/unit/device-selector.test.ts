import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { attributeType, checkAttributes, checkTags, typedText } from '../../src/model/device-tags.js';
import { checkSelector, selectorFromQuery } from '../../src/model/selector-input.js';

describe('tags and attributes', () => {
  it('sorts tags and drops repeats; refuses what is not a tag and more than 50', () => {
    expect(checkTags(['cold-chain', 'batch-2025', 'a:b.c_d', 'cold-chain'])).toEqual({
      tags: ['a:b.c_d', 'batch-2025', 'cold-chain'],
    });
    expect(checkTags(['Cold'])).toEqual({
      error: 'tags: tag "Cold" must be lowercase letters, digits and - _ . : (at most 64 characters)',
    });
    expect(checkTags(['x'.repeat(65)])).toMatchObject({ error: /must be lowercase letters/ });
    expect(checkTags([''])).toMatchObject({ error: /tag "" must be/ });
    expect(checkTags('a,b')).toEqual({ error: 'tags must be a list of tags' });
    expect(checkTags(Array.from({ length: 51 }, (_, i) => `t${i}`))).toEqual({ error: 'tags has 51 tags; at most 50' });
  });

  it.each([
    ['X200', 'text'],
    [42.5, 'number'],
    [false, 'boolean'],
    ['2025-02-28', 'date'],
    ['2024-02-29', 'date'],
    ['2025-02-29', undefined],
    ['2025-13-01', undefined],
    [Number.NaN, undefined],
    [{}, undefined],
    [null, undefined],
    ['x'.repeat(257), undefined],
  ])('types %j as %s', (value, type) => {
    expect(attributeType(value)).toBe(type);
  });

  it('checks attribute keys, values and their number', () => {
    expect(checkAttributes({ model: 'X200', 'rack.slot': 3 })).toEqual({
      attributes: { model: 'X200', 'rack.slot': 3 },
    });
    expect(checkAttributes({ 'bad key': 1 })).toEqual({
      error: `attributes: attribute key "bad key" must be a letter or '_' first, then letters, digits and _ . - (at most 128 characters)`,
    });
    expect(checkAttributes({ since: '2025-02-30' })).toEqual({
      error: 'attributes: since: 2025-02-30 is not a date (YYYY-MM-DD)',
    });
    expect(checkAttributes({ list: [1] })).toEqual({
      error: 'attributes: list must be text, a finite number, true/false or a date "YYYY-MM-DD"',
    });
    expect(checkAttributes([])).toEqual({ error: 'attributes must be a JSON object of key → value' });
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]));
    expect(checkAttributes(many)).toEqual({ error: 'attributes has 51 keys; at most 50' });
  });

  it.each([
    ['true', true],
    ['false', false],
    ['42', 42],
    ['-3.5e2', -350],
    ['007', '007'],
    ['1.', '1.'],
    ['"42"', '42'],
    ['2025-03-01', '2025-03-01'],
    [' X200 ', 'X200'],
  ])('reads the text %j as %j', (text, value) => {
    expect(typedText(text)).toEqual(value);
  });
});

describe('device selector', () => {
  it('normalises a selector of every criterion', () => {
    expect(
      checkSelector({
        all: false,
        site_ids: ['s1'],
        device_prefix: 'fr-',
        device_ids: ['d1'],
        tags_any: ['b', 'a'],
        tags_all: ['c'],
        attributes: [
          { key: 'model', op: 'eq', value: 'X200' },
          { key: 'capacity', op: 'gte', value: 10 },
          { key: 'since', op: 'lt', value: '2025-01-01' },
          { key: 'model', op: 'one_of', value: ['X1', 'X2'] },
          { key: 'indoor', op: 'exists' },
        ],
        status: ['online', 'STALE'],
      }),
    ).toEqual({
      selector: {
        all: false,
        site_ids: ['s1'],
        device_prefix: 'fr-',
        device_ids: ['d1'],
        tags_any: ['a', 'b'],
        tags_all: ['c'],
        attributes: [
          { key: 'model', op: 'eq', value: 'X200' },
          { key: 'capacity', op: 'gte', value: 10 },
          { key: 'since', op: 'lt', value: '2025-01-01' },
          { key: 'model', op: 'one_of', value: ['X1', 'X2'] },
          { key: 'indoor', op: 'exists' },
        ],
        status: ['ONLINE', 'STALE'],
      },
    });
  });

  const condition = (c: Record<string, unknown>) => ({ attributes: [c] });
  it.each<[string, unknown, string]>([
    [
      'not an object',
      [],
      'a selector must be a JSON object of criteria (all, site_ids, device_prefix, device_ids, tags_any, tags_all, attributes, status)',
    ],
    [
      'an unknown criterion',
      { tags: ['a'] },
      'unknown criterion "tags" (use all, site_ids, device_prefix, device_ids, tags_any, tags_all, attributes, status)',
    ],
    [
      'a name every object has',
      { toString: ['a'] },
      'unknown criterion "toString" (use all, site_ids, device_prefix, device_ids, tags_any, tags_all, attributes, status)',
    ],
    ['all not a boolean', { all: 'yes' }, 'all must be true or false'],
    [
      'too many sites',
      { site_ids: Array.from({ length: 101 }, (_, i) => `s${i}`) },
      'site_ids has 101 site ids; at most 100',
    ],
    ['an empty site id', { site_ids: [''] }, 'site_ids: "" is no site id (1-200 characters)'],
    ['an empty prefix', { device_prefix: '' }, 'device_prefix must be 1-200 characters'],
    [
      'a bad tag',
      { tags_all: ['a b'] },
      'tags_all: tag "a b" must be lowercase letters, digits and - _ . : (at most 64 characters)',
    ],
    [
      'an unknown op',
      condition({ key: 'model', op: 'like', value: 'X' }),
      'attributes[0] (model): unknown op "like" (use eq, ne, lt, lte, gt, gte, exists, one_of)',
    ],
    [
      'a bad key',
      condition({ key: '1x', op: 'exists' }),
      `attributes[0]: attribute key "1x" must be a letter or '_' first, then letters, digits and _ . - (at most 128 characters)`,
    ],
    [
      'an extra field',
      condition({ key: 'a', op: 'eq', value: 1, unit: 'V' }),
      'attributes[0]: unknown field unit (use key, op and value)',
    ],
    [
      'no value',
      condition({ key: 'a', op: 'eq' }),
      'attributes[0] (a): eq needs a value: text, a number, true/false or a date "YYYY-MM-DD"',
    ],
    ['a value for exists', condition({ key: 'a', op: 'exists', value: 1 }), 'attributes[0] (a): exists takes no value'],
    [
      'a text range',
      condition({ key: 'a', op: 'gt', value: 'X' }),
      'attributes[0] (a): gt compares numbers and dates, and "X" is text',
    ],
    [
      'a boolean range',
      condition({ key: 'a', op: 'lte', value: true }),
      'attributes[0] (a): lte compares numbers and dates, and true is boolean',
    ],
    [
      'an impossible date',
      condition({ key: 'a', op: 'lt', value: '2025-02-30' }),
      'attributes[0] (a): value: 2025-02-30 is not a date (YYYY-MM-DD)',
    ],
    [
      'one_of without a list',
      condition({ key: 'a', op: 'one_of', value: 'X' }),
      'attributes[0] (a): one_of needs a list of 1-100 values',
    ],
    [
      'one_of of mixed types',
      condition({ key: 'a', op: 'one_of', value: ['X', 1] }),
      'attributes[0] (a): one_of needs values of one type, not text and number',
    ],
    [
      'too many conditions',
      { attributes: Array.from({ length: 21 }, () => ({ key: 'a', op: 'exists' })) },
      'too many criteria: attributes has 21 conditions; at most 20',
    ],
    ['an unknown status', { status: ['DOWN'] }, 'status: "DOWN" is no status (use ONLINE, STALE, OFFLINE, REVOKED)'],
  ])('refuses %s', (_, input, error) => {
    expect(checkSelector(input)).toEqual({ error });
  });

  it('never throws, whatever it is given', () => {
    const op = fc.constantFrom('eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'exists', 'one_of', 'like', '');
    const criterion = fc.record(
      {
        all: fc.anything(),
        site_ids: fc.anything(),
        device_prefix: fc.anything(),
        tags_any: fc.array(fc.string()),
        tags_all: fc.anything(),
        attributes: fc.array(fc.record({ key: fc.string(), op, value: fc.anything() }, { requiredKeys: [] })),
        status: fc.array(fc.anything()),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.anything(), criterion), (input) => {
        const checked = checkSelector(input);
        expect('selector' in checked || typeof checked.error === 'string').toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads the list query syntax', () => {
    expect(
      selectorFromQuery({
        tag: ['cold-chain', 'eu,batch-2025'],
        tags_all: 'a,b',
        attr: [
          'model:eq:X200',
          'capacity:gt:90',
          'since:gte:2025-01-01',
          'model:one_of:X1|"2"|X3',
          'indoor:exists',
          'url:eq:http://x',
        ],
        status: 'online,STALE',
        site_id: 'site, north',
        prefix: 'fr-',
      }),
    ).toEqual({
      tags_any: ['batch-2025', 'cold-chain', 'eu'],
      tags_all: ['a', 'b'],
      attributes: [
        { key: 'model', op: 'eq', value: 'X200' },
        { key: 'capacity', op: 'gt', value: 90 },
        { key: 'since', op: 'gte', value: '2025-01-01' },
        { key: 'model', op: 'one_of', value: ['X1', '2', 'X3'] },
        { key: 'indoor', op: 'exists' },
        { key: 'url', op: 'eq', value: 'http://x' },
      ],
      status: ['ONLINE', 'STALE'],
      site_ids: ['site, north'],
      device_prefix: 'fr-',
    });
    expect(selectorFromQuery({})).toEqual({});
  });

  it('refuses a malformed query condition with the syntax to use', () => {
    expect(() => selectorFromQuery({ attr: 'model' })).toThrow(
      new AppError('INVALID_REQUEST', 'attr=model must be key:op:value, e.g. attr=model:eq:X200 or attr=model:exists'),
    );
    expect(() => selectorFromQuery({ attr: 'model:has:X' })).toThrow(/unknown op "has"/);
  });
});
