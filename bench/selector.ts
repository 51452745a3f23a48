// Device selector reads: `npm run bench:selector -- [--engine postgres|pglite] [--devices 100000]
// [--runs 100]`. One tenant holds N devices with realistic tags and attributes (and another tenant a fifth
// as many), inserted directly; then, per typical selector, the devices list's answer (count + first page
// of 50 by site, in one tenant transaction under row-level security) is timed: p50/p99 (ADR 029).
import { withClient } from '../src/db/connection.js';
import { listDevices, type DeviceSelector } from '../src/model/device-selection.js';
import { createTestDatabase } from '../test/helpers/databases.js';
import { benchArgs, saveResult } from './results.js';

const args = benchArgs();
const ENGINE = (args.get('engine') ?? 'postgres') as 'postgres' | 'pglite';
const DEVICES = Number(args.get('devices') ?? 100_000);
const RUNS = Number(args.get('runs') ?? 100);
const TARGET_MS = 50;

const SELECTORS: Record<string, DeviceSelector> = {
  'one tag (10%)': { tags_any: ['cold-chain'] },
  'one rare tag (0.1%)': { tags_any: ['vip'] },
  'tags_all of two (3%)': { tags_all: ['cold-chain', 'region:eu'] },
  'attribute eq (5%)': { attributes: [{ key: 'model', op: 'eq', value: 'X150' }] },
  'attribute one_of (10%)': { attributes: [{ key: 'model', op: 'one_of', value: ['X100', 'X110'] }] },
  'number range (10%)': {
    attributes: [
      { key: 'capacity_l', op: 'gte', value: 100 },
      { key: 'capacity_l', op: 'lt', value: 150 },
    ],
  },
  'date range (9%)': {
    attributes: [
      { key: 'installed_on', op: 'gte', value: '2024-01-01' },
      { key: 'installed_on', op: 'lt', value: '2024-07-01' },
    ],
  },
  'tag + site + status': { tags_any: ['cold-chain'], site_ids: ['site-10', 'site-20', 'site-30'], status: ['ONLINE'] },
  'status only (10%)': { status: ['STALE'] },
  'status only (80%)': { status: ['ONLINE'] },
  'whole fleet': {},
};

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? NaN;

const database = await createTestDatabase(ENGINE);
const result: Record<string, unknown> = { engine: ENGINE, devices: DEVICES, runs: RUNS };
try {
  const { db } = database;
  const started = performance.now();
  await db.withService(async (tx) => {
    await tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ('bench', 'bench'), ('other', 'other')`);
    // Each property drawn independently of the others (h: a hash of the device id and the property's name,
    // 0-9999): tags 10% cold-chain, a batch year each, a region each, 1% pilot, 0.1% vip; attributes one
    // of 20 models, a capacity 0-499, indoor or not, an install date over 2020-2025, a firmware channel.
    const h = (property: string) => `(abs(hashtext(device_id || ':${property}')) % 10000)`;
    await tx.query(
      `INSERT INTO device_registry (tenant_id, device_id, site_id, tags, attributes)
       SELECT tenant_id, device_id, 'site-' || ${h('site')} % 500,
              array_remove(ARRAY[
                CASE WHEN ${h('cold')} < 1000 THEN 'cold-chain' END,
                'batch-' || (2020 + ${h('batch')} % 6),
                'region:' || (ARRAY['eu', 'us', 'apac'])[1 + ${h('region')} % 3],
                CASE WHEN ${h('pilot')} < 100 THEN 'pilot' END,
                CASE WHEN ${h('vip')} < 10 THEN 'vip' END], NULL),
              jsonb_build_object(
                'model', 'X' || (100 + ${h('model')} % 20 * 10),
                'capacity_l', ${h('capacity')} % 500,
                'indoor', ${h('indoor')} < 5000,
                'installed_on', to_char(date '2020-01-01' + ${h('installed')} % 2190, 'YYYY-MM-DD'),
                'fw_channel', CASE WHEN ${h('channel')} < 2000 THEN 'beta' ELSE 'stable' END)
       FROM (SELECT t.tenant_id, 'dev-' || lpad(n::text, 7, '0') AS device_id
             FROM (VALUES ('bench', $1::int), ('other', $1::int / 5)) AS t (tenant_id, devices),
                  generate_series(1, t.devices) AS n) AS devices`,
      [DEVICES],
    );
    // 80% ONLINE, 10% STALE, 10% never heard from (OFFLINE).
    await tx.query(
      `INSERT INTO device_state (tenant_id, site_id, device_id, status, last_seen_at, state)
       SELECT tenant_id, site_id, device_id, CASE WHEN ${h('status')} < 1000 THEN 'STALE' ELSE 'ONLINE' END,
              now(), '{"temp_c": 4.5}'
       FROM device_registry WHERE ${h('status')} < 9000`,
    );
  });
  // As autovacuum would have by then (as the tables' owner: no Pulse role may vacuum).
  await withClient(database.connection, (client) =>
    client.query(`VACUUM ANALYZE device_registry, device_state, device_tags, device_attribute_values`),
  );
  result.insert_s = Math.round((performance.now() - started) / 100) / 10;

  const page = (selector: DeviceSelector) =>
    db.withTenant('bench', (tx) => listDevices(tx, { selector, limit: 50, offset: 0, sort: 'site_id', order: 'asc' }));
  const rows: Record<string, string | number>[] = [];
  for (const [name, selector] of Object.entries(SELECTORS)) {
    for (let i = 0; i < 5; i += 1) await page(selector);
    const times: number[] = [];
    let matched = 0;
    for (let i = 0; i < RUNS; i += 1) {
      const before = performance.now();
      matched = (await page(selector)).total;
      times.push(performance.now() - before);
    }
    rows.push({
      selector: name,
      matched,
      p50_ms: Math.round(percentile(times, 0.5) * 10) / 10,
      p99_ms: Math.round(percentile(times, 0.99) * 10) / 10,
    });
  }
  console.table(rows);
  result.selectors = rows;
  result.target_ms = TARGET_MS;
  result.all_p99_within_target = rows.every((row) => (row.p99_ms as number) <= TARGET_MS);
} finally {
  await database.drop();
}
console.log(result);
saveResult('selector', result);
