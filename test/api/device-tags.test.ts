// Device tags and typed attributes (issue 31): set through the API (both scopes) and a CSV, and one device
// selector that picks the same devices through the devices list, POST /customer/devices/selection and a
// fleet job; tenant B sees none of tenant A's (application and row-level security); on both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { countSelection, type DeviceSelector } from '../../src/model/device-selection.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedDevice } from '../helpers/seed.js';

const A = 'tg-a';
const B = 'tg-b';

/** A selector as the list's query parameters (the syntax documented on GET /customer/devices). */
function asQuery(selector: DeviceSelector): URLSearchParams {
  const query = new URLSearchParams({ limit: '500', sort: 'device_id' });
  for (const tag of selector.tags_any ?? []) query.append('tag', tag);
  if (selector.tags_all) query.set('tags_all', selector.tags_all.join(','));
  for (const site of selector.site_ids ?? []) query.append('site_id', site);
  for (const status of selector.status ?? []) query.append('status', status);
  if (selector.device_prefix) query.set('prefix', selector.device_prefix);
  const text = (value: unknown) => (typeof value === 'string' && /^[\d.]+$/.test(value) ? `"${value}"` : String(value));
  for (const { key, op, value } of selector.attributes ?? []) {
    const given = op === 'exists' ? '' : `:${Array.isArray(value) ? value.map(text).join('|') : text(value)}`;
    query.append('attr', `${key}:${op}${given}`);
  }
  return query;
}

describe.each<Engine>(['pglite', 'postgres'])('device tags, attributes and the selector on %s', (engine) => {
  let pulse: TestPlatform;
  const users: Record<string, string> = {};
  const call = callerFor(() => pulse, users);
  const csv = (who: string, path: string, text: string) =>
    pulse.call(path, {
      admin: false,
      method: 'POST',
      headers: { authorization: `Bearer ${users[who]}`, 'content-type': 'text/csv' },
      body: text,
    });
  const device = async (who: string, id: string) => (await call(who, `/customer/devices/${id}`)).body.device;

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, { API_RATE_LIMIT: '100000', COMMANDS_PER_MINUTE: '100000' }, [
      'api',
      'provision',
    ]);
    await seedDevice(pulse.db, A, 'seeded-a', 's9');
    await seedDevice(pulse.db, B, 'seeded-b', 's9');
    users.adminA = await tokenFor(pulse, { username: 'tg-admin-a', role: 'customer_admin', tenantId: A });
    users.viewerA = await tokenFor(pulse, { username: 'tg-viewer-a', role: 'customer_viewer', tenantId: A });
    users.adminB = await tokenFor(pulse, { username: 'tg-admin-b', role: 'customer_admin', tenantId: B });
    users.opAdmin = await tokenFor(pulse, { username: 'tg-op-admin', role: 'operator_admin' });

    const created = [
      {
        device_id: 'fr-1',
        site_id: 's1',
        tags: ['cold-chain', 'batch-2025', 'cold-chain'],
        attributes: { model: 'X200', capacity_l: 120, indoor: true, installed_on: '2025-03-01' },
      },
      {
        device_id: 'fr-2',
        site_id: 's1',
        tags: ['cold-chain'],
        attributes: { model: 'X300', capacity_l: 80, indoor: false, installed_on: '2024-11-15' },
      },
      {
        device_id: 'fr-3',
        site_id: 's2',
        tags: ['batch-2025'],
        attributes: { model: 'X200', capacity_l: 200, installed_on: '2025-06-30' },
      },
    ];
    for (const body of created) expect((await call('adminA', '/customer/devices', 'POST', body)).status).toBe(201);
    const imported = await csv(
      'adminA',
      '/customer/devices/bulk',
      [
        'device_id,site_id,tags,attr.model,attr.capacity_l,attr.installed_on,attr.serial',
        'fr-4,s2,cold-chain; eu,X300,95.5,2025-01-10,007',
        'fr-5,s3,,Y1,,,',
        'bad-1,s3,Cold Chain,X1,,,',
        'bad-2,s3,,X1,,2025-02-30,',
      ].join('\n'),
    );
    expect(imported.body).toMatchObject({ created: 2, failed: 2 });
    expect(imported.body.errors).toEqual([
      {
        row: 3,
        device_id: 'bad-1',
        error: 'tags: tag "Cold Chain" must be lowercase letters, digits and - _ . : (at most 64 characters)',
      },
      { row: 4, device_id: 'bad-2', error: 'attributes: installed_on: 2025-02-30 is not a date (YYYY-MM-DD)' },
    ]);
    // Health as the evaluator would have written it: fr-1 ONLINE, fr-2 STALE, the rest never heard from.
    await pulse.db.withService((tx) =>
      tx.query(
        `INSERT INTO device_state (tenant_id, site_id, device_id, status, last_seen_at, state)
         VALUES ($1, 's1', 'fr-1', 'ONLINE', now(), '{}'), ($1, 's1', 'fr-2', 'STALE', now(), '{}')`,
        [A],
      ),
    );
    const other = {
      device_id: 'fb-1',
      site_id: 's1',
      tags: ['cold-chain', 'batch-2025'],
      attributes: { model: 'X200' },
    };
    expect((await call('adminB', '/customer/devices', 'POST', other)).status).toBe(201);
  }, 120_000);
  afterAll(() => pulse?.close());

  it('keeps tags sorted without repeats and attributes typed, from JSON and CSV alike', async () => {
    expect(await device('adminA', 'fr-1')).toMatchObject({
      tags: ['batch-2025', 'cold-chain'],
      attributes: { model: 'X200', capacity_l: 120, indoor: true, installed_on: '2025-03-01' },
    });
    const fromCsv = await device('adminA', 'fr-4');
    expect(fromCsv.tags).toEqual(['cold-chain', 'eu']);
    expect(fromCsv.attributes).toEqual({ model: 'X300', capacity_l: 95.5, installed_on: '2025-01-10', serial: '007' });
    expect((await device('adminA', 'fr-5')).attributes).toEqual({ model: 'Y1' });
    const listed = (await call('adminA', '/api/v2/devices?prefix=fr-3')).body.devices;
    expect(listed).toMatchObject([{ device_id: 'fr-3', tags: ['batch-2025'], attributes: { model: 'X200' } }]);
  });

  it('changes tags (replace, add, remove) and attributes, and says so in the audit log', async () => {
    await call('adminA', '/customer/devices', 'POST', { device_id: 'ed-1', site_id: 's8', tags: ['a', 'b'] });
    const patch = (body: unknown) => call('adminA', '/customer/devices/ed-1', 'PATCH', body);
    expect((await patch({ add_tags: ['c', 'a'], remove_tags: ['b'] })).status).toBe(200);
    expect((await device('adminA', 'ed-1')).tags).toEqual(['a', 'c']);
    expect(
      (await patch({ tags: ['z'], add_tags: ['y'], attributes: { colour: 'red', since: '2025-01-02' } })).status,
    ).toBe(200);
    expect(await device('adminA', 'ed-1')).toMatchObject({
      tags: ['y', 'z'],
      attributes: { colour: 'red', since: '2025-01-02' },
    });
    // Re-registering keeps them unless given.
    expect(
      (await call('adminA', '/customer/devices', 'POST', { device_id: 'ed-1', site_id: 's8', replace: true })).status,
    ).toBe(201);
    expect((await device('adminA', 'ed-1')).tags).toEqual(['y', 'z']);

    const many = Array.from({ length: 50 }, (_, i) => `t-${i}`);
    const tooMany = await patch({ add_tags: many });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.detail).toBe('Device ed-1 would have 52 tags; at most 50: remove some (remove_tags) first');
    expect((await device('adminA', 'ed-1')).tags).toEqual(['y', 'z']);

    const entries = (await call('adminA', '/customer/audit?limit=20')).body.entries as { summary: string | null }[];
    expect(entries.map((entry) => entry.summary)).toEqual(
      expect.arrayContaining([
        'created device ed-1 (tags a, b)',
        'changed device ed-1: tags +a +c -b',
        'changed device ed-1: tags set to z; tags +y; attributes set to colour=red, since=2025-01-02',
      ]),
    );
  });

  it('lets operator_admin and the admin API set them too', async () => {
    const base = `/operator/tenants/${B}/devices`;
    const created = await call('opAdmin', base, 'POST', { device_id: 'op-1', site_id: 's1', tags: ['ops'] });
    expect(created.status).toBe(201);
    expect((await call('opAdmin', `${base}/op-1`, 'PATCH', { attributes: { rack: 4 } })).status).toBe(200);
    expect(await device('adminB', 'op-1')).toMatchObject({ tags: ['ops'], attributes: { rack: 4 } });
    const admin = await pulse.call('/api/admin/devices', {
      json: { tenant_id: B, device_id: 'adm-1', site_id: 's1', tags: ['lab'], attributes: { floor: 2 } },
    });
    expect(admin.status).toBe(200);
    expect(await device('adminB', 'adm-1')).toMatchObject({ tags: ['lab'], attributes: { floor: 2 } });
    const refused = await pulse.call('/api/admin/devices', {
      json: { tenant_id: B, device_id: 'adm-2', site_id: 's1', tags: ['Lab'] },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toMatch(/tag "Lab" must be lowercase letters/);
  });

  const cases: [string, DeviceSelector, string[]][] = [
    ['one tag', { tags_any: ['cold-chain'] }, ['fr-1', 'fr-2', 'fr-4']],
    ['any of two tags', { tags_any: ['eu', 'batch-2025'] }, ['fr-1', 'fr-3', 'fr-4']],
    ['all of two tags', { tags_all: ['cold-chain', 'batch-2025'] }, ['fr-1']],
    ['text equal', { attributes: [{ key: 'model', op: 'eq', value: 'X200' }] }, ['fr-1', 'fr-3']],
    [
      'not equal (devices with the attribute)',
      { attributes: [{ key: 'model', op: 'ne', value: 'X200' }] },
      ['fr-2', 'fr-4', 'fr-5'],
    ],
    ['number above', { attributes: [{ key: 'capacity_l', op: 'gt', value: 90 }] }, ['fr-1', 'fr-3', 'fr-4']],
    ['number at most', { attributes: [{ key: 'capacity_l', op: 'lte', value: 95.5 }] }, ['fr-2', 'fr-4']],
    [
      'date range',
      {
        attributes: [
          { key: 'installed_on', op: 'gte', value: '2025-01-01' },
          { key: 'installed_on', op: 'lt', value: '2025-06-01' },
        ],
      },
      ['fr-1', 'fr-4'],
    ],
    ['boolean', { attributes: [{ key: 'indoor', op: 'eq', value: false }] }, ['fr-2']],
    ['exists', { attributes: [{ key: 'indoor', op: 'exists' }] }, ['fr-1', 'fr-2']],
    ['one of', { attributes: [{ key: 'model', op: 'one_of', value: ['X300', 'Y1'] }] }, ['fr-2', 'fr-4', 'fr-5']],
    ['text that looks like a number', { attributes: [{ key: 'serial', op: 'eq', value: '007' }] }, ['fr-4']],
    ['status', { status: ['ONLINE', 'STALE'], device_prefix: 'fr-' }, ['fr-1', 'fr-2']],
    ['never heard from', { status: ['OFFLINE'], device_prefix: 'fr-' }, ['fr-3', 'fr-4', 'fr-5']],
    ['tag, site and status', { tags_any: ['cold-chain'], site_ids: ['s1'], status: ['ONLINE'] }, ['fr-1']],
    [
      'tags, attributes and sites together',
      { tags_all: ['cold-chain'], site_ids: ['s1', 's2'], attributes: [{ key: 'model', op: 'eq', value: 'X300' }] },
      ['fr-2', 'fr-4'],
    ],
    ['a number never equals text', { attributes: [{ key: 'serial', op: 'eq', value: 7 }] }, []],
  ];

  it.each(cases)('selects the same devices through the list, the selection and a job: %s', async (_, selector, ids) => {
    const listed = await call('adminA', `/customer/devices?${asQuery(selector)}`);
    expect(listed.status).toBe(200);
    expect(listed.body.devices.map((d: { device_id: string }) => d.device_id)).toEqual(ids);
    expect(listed.body.total).toBe(ids.length);
    const v2 = await call('adminA', `/api/v2/devices?${asQuery(selector)}`);
    expect(v2.body.total).toBe(ids.length);

    const selection = await call('viewerA', '/customer/devices/selection', 'POST', { selector });
    expect(selection.body).toEqual({ count: ids.length, sample: ids });

    const job = await call('adminA', '/customer/jobs', 'POST', {
      name: 'tags',
      kind: 'config',
      params: { sampling_s: 30 },
      selector,
    });
    if (ids.length === 0) {
      expect(job.body.detail).toBe('No ACTIVE device matches the selector');
      return;
    }
    expect(job.status).toBe(201);
    expect(job.body.counts.total).toBe(ids.length);
    const executions = await call('adminA', `/customer/jobs/${job.body.job_id}/executions?limit=100`);
    expect(executions.body.executions.map((e: { device_id: string }) => e.device_id).sort()).toEqual(ids);
    await call('adminA', `/customer/jobs/${job.body.job_id}/cancel`, 'POST');
  });

  it('lists revoked devices when asked, and never selects them for a job', async () => {
    await call('adminA', '/customer/devices', 'POST', { device_id: 'rv-1', site_id: 's7', tags: ['gone'] });
    await call('adminA', '/customer/devices/rv-1/revoke', 'POST');
    expect((await call('adminA', '/customer/devices?tag=gone&status=REVOKED')).body.total).toBe(1);
    expect(
      (await call('adminA', '/customer/devices/selection', 'POST', { selector: { tags_any: ['gone'] } })).body,
    ).toEqual({
      count: 0,
      sample: [],
    });
  });

  it("never shows tenant B tenant A's tags or devices, in the application or under row-level security", async () => {
    const listed = await call('adminB', '/customer/devices?tag=cold-chain');
    expect(listed.body.devices.map((d: { device_id: string }) => d.device_id)).toEqual(['fb-1']);
    const selection = await call('adminB', '/customer/devices/selection', 'POST', {
      selector: { attributes: [{ key: 'model', op: 'eq', value: 'X200' }] },
    });
    expect(selection.body).toEqual({ count: 1, sample: ['fb-1'] });
    // B's transaction asking for A's rows gets none: the policy filters them even when the query names A.
    const underRls = await pulse.db.withTenant(B, async (tx) => ({
      count: await countSelection({ ...tx, tenantId: A }, { tags_any: ['cold-chain'] }),
      rows: (await tx.query(`SELECT tags FROM device_registry WHERE tenant_id = $1`, [A])).rows,
    }));
    expect(underRls).toEqual({ count: 0, rows: [] });
    expect(await pulse.db.withTenant(A, (tx) => countSelection(tx, { tags_any: ['cold-chain'] }))).toBe(3);
  });

  it('refuses bad tags, attributes and criteria with what to fix', async () => {
    const refusals: [string, string, unknown, RegExp][] = [
      [
        '/customer/devices',
        'POST',
        { device_id: 'x-1', site_id: 's', tags: ['UPPER'] },
        /tags: tag "UPPER" must be lowercase/,
      ],
      [
        '/customer/devices',
        'POST',
        { device_id: 'x-1', site_id: 's', attributes: { '9x': 1 } },
        /attribute key "9x" must be a letter/,
      ],
      [
        '/customer/devices',
        'POST',
        { device_id: 'x-1', site_id: 's', attributes: { a: { b: 1 } } },
        /a must be text, a finite number/,
      ],
      ['/customer/devices/fr-1', 'PATCH', { remove_tags: ['no spaces'] }, /remove_tags: tag "no spaces"/],
      [
        '/customer/devices/selection',
        'POST',
        { selector: { attributes: [{ key: 'model', op: 'like', value: 'X' }] } },
        /attributes\[0\] \(model\): unknown op "like" \(use eq, ne, lt, lte, gt, gte, exists, one_of\)/,
      ],
      [
        '/customer/devices/selection',
        'POST',
        { selector: { attributes: [{ key: 'model', op: 'lt', value: 'X200' }] } },
        /lt compares numbers and dates, and "X200" is text/,
      ],
      [
        '/customer/devices/selection',
        'POST',
        { selector: { attributes: Array.from({ length: 21 }, () => ({ key: 'a', op: 'exists' })) } },
        /too many criteria: attributes has 21 conditions; at most 20/,
      ],
      ['/customer/devices/selection', 'POST', { selector: { status: ['DOWN'] } }, /status: "DOWN" is no status/],
      [
        '/customer/jobs',
        'POST',
        { name: 'x', kind: 'config', params: {}, selector: { tags_all: ['Bad'] } },
        /Invalid selector: tags_all: tag "Bad"/,
      ],
      ['/customer/devices?attr=model', 'GET', undefined, /attr=model must be key:op:value/],
      [
        '/customer/devices?attr=capacity_l:gt:big',
        'GET',
        undefined,
        /gt compares numbers and dates, and "big" is text/,
      ],
      ['/api/v2/devices?tag=Cold', 'GET', undefined, /tags_any: tag "Cold" must be lowercase/],
    ];
    for (const [path, method, body, message] of refusals) {
      const answer = await call('adminA', path, method, body);
      expect(answer.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(answer.body.detail).toMatch(message);
    }
  });
});
