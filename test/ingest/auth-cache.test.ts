import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceAuthCache } from '../../src/ingest/auth-cache.js';
import { registryEntries, type RegistryEntry } from '../../src/model/device-registry.js';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/databases.js';
import { seedDevice } from '../helpers/seed.js';

const ENTRY: RegistryEntry = { site_id: 's', status: 'ACTIVE', provision_token_hash: 'h' };

function cache(options: Partial<{ ttlMs: number; negativeTtlMs: number; maxSize: number }> = {}) {
  let now = 0;
  const loads: string[] = [];
  const registry = new Map([['t/known', ENTRY]]);
  const queries: number[] = [];
  const instance = new DeviceAuthCache(
    async (keys) => {
      queries.push(keys.length);
      return keys.map(({ tenantId, deviceId }) => {
        loads.push(`${tenantId}/${deviceId}`);
        return registry.get(`${tenantId}/${deviceId}`) ?? null;
      });
    },
    { ttlMs: 60_000, negativeTtlMs: 10_000, maxSize: 100, now: () => now, ...options },
  );
  return { instance, loads, queries, registry, advance: (ms: number) => (now += ms) };
}

describe('device auth cache', () => {
  it('answers repeated lookups without loading again until the TTL passes', async () => {
    const { instance, loads, advance } = cache();
    expect(await instance.get('t', 'known')).toEqual(ENTRY);
    expect(await instance.get('t', 'known')).toEqual(ENTRY);
    expect(loads).toHaveLength(1);
    advance(60_001);
    await instance.get('t', 'known');
    expect(loads).toHaveLength(2);
  });

  it('caches unregistered devices for the negative TTL', async () => {
    const { instance, loads, advance } = cache();
    for (let i = 0; i < 100; i++) expect(await instance.get('t', 'ghost')).toBeNull();
    expect(loads).toEqual(['t/ghost']);
    advance(10_001);
    await instance.get('t', 'ghost');
    expect(loads).toEqual(['t/ghost', 't/ghost']);
  });

  it('shares one load between concurrent misses', async () => {
    const { instance, loads } = cache();
    await Promise.all(Array.from({ length: 20 }, () => instance.get('t', 'known')));
    expect(loads).toHaveLength(1);
  });

  it('loads the devices missed in one turn with one query, at most 1,000 a query', async () => {
    const { instance, queries, registry } = cache({ maxSize: 5000 });
    registry.set('t/d-7', ENTRY);
    const entries = await Promise.all(Array.from({ length: 2500 }, (_, i) => instance.get('t', `d-${i}`)));
    expect(queries).toEqual([1000, 1000, 500]);
    expect(entries[7]).toEqual(ENTRY);
    expect(entries.filter((entry) => entry !== null)).toHaveLength(1);
  });

  it('lets every waiting message see a failed load, and loads again next time', async () => {
    let fail = true;
    const instance = new DeviceAuthCache(
      async (keys) => {
        if (fail) throw new Error('database away');
        return keys.map(() => ENTRY);
      },
      { ttlMs: 60_000, negativeTtlMs: 10_000, maxSize: 100 },
    );
    const attempts = await Promise.allSettled([instance.get('t', 'a'), instance.get('t', 'a'), instance.get('t', 'b')]);
    expect(attempts.map((attempt) => attempt.status)).toEqual(['rejected', 'rejected', 'rejected']);
    fail = false;
    expect(await instance.get('t', 'a')).toEqual(ENTRY);
  });

  it('forgets a device when told it changed', async () => {
    const { instance, loads, registry } = cache();
    await instance.get('t', 'known');
    registry.set('t/known', { ...ENTRY, status: 'REVOKED' });
    instance.invalidate('t', 'known');
    expect((await instance.get('t', 'known'))?.status).toBe('REVOKED');
    expect(loads).toHaveLength(2);
  });

  it('answers preloaded devices without loading them', async () => {
    const { instance, loads } = cache();
    instance.preload([{ tenant_id: 't', device_id: 'warm', entry: ENTRY }]);
    expect(await instance.get('t', 'warm')).toEqual(ENTRY);
    expect(instance.peek('t', 'warm')).toEqual(ENTRY);
    expect(instance.peek('t', 'cold')).toBeUndefined();
    expect(loads).toEqual([]);
  });

  it('never holds more than maxSize entries, whatever ids arrive', async () => {
    const { instance } = cache({ maxSize: 50 });
    for (let i = 0; i < 1000; i++) await instance.get('t', `random-${i}`);
    expect(instance.size).toBeLessThanOrEqual(50);
  });
});

describe.each(ENGINES)('device auth cache on %s', (engine) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
    await seedDevice(database.db, 't', 'known');
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('loads the other devices of a batch alone when the database refuses one id as data', async () => {
    const db = database.db;
    const instance = new DeviceAuthCache((keys) => db.withService((tx) => registryEntries(tx, keys)), {
      ttlMs: 60_000,
      negativeTtlMs: 10_000,
      maxSize: 100,
    });
    // Missed in one turn, so loaded in one query, which U+0000 fails (SQLSTATE 22021).
    const [known, ghost, refused] = await Promise.allSettled([
      instance.get('t', 'known'),
      instance.get('t', 'ghost'),
      instance.get('t', 'nul\u0000'),
    ]);
    expect(known).toMatchObject({ status: 'fulfilled', value: { site_id: 'site-1' } });
    expect(ghost).toEqual({ status: 'fulfilled', value: null });
    expect(refused).toMatchObject({ status: 'rejected', reason: { code: '22021' } });
    expect(instance.stats.loads).toBe(4); // the batch, then each key alone
  });
});
