import { describe, expect, it } from 'vitest';
import { checkBulk, checkDeviceSpec, parseDeviceCsv } from '../../src/model/device-spec.js';

describe('device specs', () => {
  it('accepts the body of the original admin API; absent metadata stays absent (a new device gets {}, a re-registered one keeps its own)', () => {
    expect(checkDeviceSpec({ tenant_id: 't', device_id: 'd-1', site_id: 'lab-1' })).toEqual({
      spec: { tenant_id: 't', device_id: 'd-1', site_id: 'lab-1', fw_version: null, metadata: undefined },
    });
    expect(checkDeviceSpec({ tenant_id: 't', device_id: 'd-1', site_id: 'lab-1', metadata: {} })).toMatchObject({
      spec: { metadata: {} },
    });
  });

  it.each([
    [{ device_id: 'd', site_id: 's' }, 'tenant_id is required'],
    [{ tenant_id: 't', device_id: '', site_id: 's' }, 'device_id is required'],
    [{ tenant_id: 't', device_id: 'd', site_id: '  ' }, 'site_id is required'],
    [
      { tenant_id: 't/x', device_id: 'd', site_id: 's' },
      "tenant_id must be 1-128 characters, none of '/', '+', '#', whitespace or control characters",
    ],
    [
      { tenant_id: 't', device_id: 'dev #1', site_id: 's' },
      "device_id must be 1-128 characters, none of '/', '+', '#', whitespace or control characters",
    ],
    [
      { tenant_id: 't', device_id: 'd+', site_id: 's' },
      "device_id must be 1-128 characters, none of '/', '+', '#', whitespace or control characters",
    ],
    [
      { tenant_id: 't', device_id: 'd\u0085', site_id: 's' },
      "device_id must be 1-128 characters, none of '/', '+', '#', whitespace or control characters",
    ],
    [
      { tenant_id: 't', device_id: 'x'.repeat(129), site_id: 's' },
      "device_id must be 1-128 characters, none of '/', '+', '#', whitespace or control characters",
    ],
    [{ tenant_id: 't', device_id: 'd', site_id: 's', metadata: [1] }, 'metadata must be a JSON object'],
    [{ tenant_id: 't', device_id: 'd', site_id: 's', fw_version: 3 }, 'fw_version must be a string'],
    [
      { tenant_id: 't', device_id: 'd', site_id: 's', site: 'x' },
      'unknown field site (allowed: tenant_id, device_id, site_id, fw_version, metadata, tags, attributes)',
    ],
    ['nope', 'must be an object with tenant_id, device_id and site_id'],
  ])('rejects %j: %s', (input, message) => {
    expect(checkDeviceSpec(input)).toEqual({ error: message });
  });

  it('reports duplicates and bad rows per row, keeping the good ones', () => {
    const result = checkBulk([
      { tenant_id: 't', device_id: 'a', site_id: 's' },
      { tenant_id: 't', device_id: 'a', site_id: 's' },
      { tenant_id: 't', device_id: 'b' },
      { tenant_id: 'u', device_id: 'a', site_id: 's' },
    ]);
    expect(result.devices.map((d) => [d.row, d.tenant_id, d.device_id])).toEqual([
      [1, 't', 'a'],
      [4, 'u', 'a'],
    ]);
    expect(result.errors).toEqual([
      { row: 2, device_id: 'a', error: 'duplicate of an earlier row for the same tenant_id and device_id' },
      { row: 3, device_id: 'b', error: 'site_id is required' },
    ]);
  });
});

describe('device CSV', () => {
  it('parses a header, quoted fields with commas and escaped quotes, CRLF and blank lines', () => {
    const csv =
      'tenant_id,device_id,site_id,fw_version,metadata\r\n' +
      't1,d1,"site, north",1.2.0,"{""model"":""DHT22""}"\r\n' +
      '\r\n' +
      't1,d2,lab,,\n';
    expect(parseDeviceCsv(csv)).toEqual([
      { tenant_id: 't1', device_id: 'd1', site_id: 'site, north', fw_version: '1.2.0', metadata: { model: 'DHT22' } },
      { tenant_id: 't1', device_id: 'd2', site_id: 'lab' },
    ]);
  });

  it('accepts columns in any order and a file without a final newline', () => {
    expect(parseDeviceCsv('site_id,device_id,tenant_id\ns,d,t')).toEqual([
      { site_id: 's', device_id: 'd', tenant_id: 't' },
    ]);
  });

  it('refuses unknown and missing columns and an empty file', () => {
    expect(() => parseDeviceCsv('tenant_id,device,site_id\n')).toThrow(
      'CSV has unknown column device (allowed: tenant_id, device_id, site_id, fw_version, metadata, tags, attr.<key>)',
    );
    expect(() => parseDeviceCsv('device_id,site_id,attr.9lives\n', { tenant_id: 't' })).toThrow(
      `CSV column attr.9lives: attribute key "9lives" must be a letter or '_' first`,
    );
    expect(() => parseDeviceCsv('tenant_id,site_id\n')).toThrow('CSV header is missing column device_id');
    expect(() => parseDeviceCsv('\n\n')).toThrow(/CSV is empty/);
    expect(() => parseDeviceCsv('tenant_id,device_id,site_id\n"t,d,s\n')).toThrow(
      'CSV has an unterminated quoted field',
    );
  });

  it('reads tags separated by ";" and typed attr.<key> columns; empty cells set nothing', () => {
    const csv = [
      'device_id,site_id,tags,attr.model,attr.capacity_l,attr.indoor,attr.installed_on,attr.serial',
      'd1,s,cold-chain; batch-2025 ;,X200,120.5,true,2025-03-01,007',
      'd2,s,,,,,,',
    ].join('\n');
    expect(parseDeviceCsv(csv, { tenant_id: 't' })).toEqual([
      {
        tenant_id: 't',
        device_id: 'd1',
        site_id: 's',
        tags: ['cold-chain', 'batch-2025'],
        attributes: { model: 'X200', capacity_l: 120.5, indoor: true, installed_on: '2025-03-01', serial: '007' },
      },
      { tenant_id: 't', device_id: 'd2', site_id: 's' },
    ]);
  });

  it('reports a bad tag or attribute as an error of its row', () => {
    const records = parseDeviceCsv('device_id,site_id,tags,attr.since\nd1,s,a b,\nd2,s,,2025-13-01\nd3,s,ok,\n', {
      tenant_id: 't',
    });
    const result = checkBulk(records);
    expect(result.devices).toMatchObject([{ device_id: 'd3', tags: ['ok'] }]);
    expect(result.errors).toEqual([
      {
        row: 1,
        device_id: 'd1',
        error: 'tags: tag "a b" must be lowercase letters, digits and - _ . : (at most 64 characters)',
      },
      { row: 2, device_id: 'd2', error: 'attributes: since: 2025-13-01 is not a date (YYYY-MM-DD)' },
    ]);
  });

  it('turns a row with too many cells or bad metadata into a row error, not a failed file', () => {
    const records = parseDeviceCsv(
      'tenant_id,device_id,site_id,metadata\nt,d1,s,{bad json}\nt,d2,s,{},extra\nt,d3,s,\n',
    );
    const result = checkBulk(records);
    expect(result.devices.map((d) => d.device_id)).toEqual(['d3']);
    expect(result.errors).toEqual([
      { row: 1, device_id: 'd1', error: 'metadata must be a JSON object' },
      { row: 2, error: 'row has 5 cells but the header names 4 columns' },
    ]);
  });
});
