// Daily telemetry partitions: created ahead, rows for a day without a partition kept in the default
// partition and moved when the day's partition is created, old partitions dropped by retention.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMaintenance } from '../../src/db/maintenance.js';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/databases.js';

const day = (offsetDays: number) => {
  const date = new Date();
  date.setUTCHours(12, 0, 0, 0);
  date.setUTCDate(date.getUTCDate() + offsetDays);
  return date;
};
const partitionName = (date: Date) => `telemetry_p${date.toISOString().slice(0, 10).replaceAll('-', '')}`;

describe.each(ENGINES)('telemetry partitions on %s', (engine) => {
  let database: TestDatabase;
  const partitions = async () => {
    const { rows } = await database.connection.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'telemetry'::regclass ORDER BY 1`,
    );
    return rows.map((r) => r.name);
  };
  const rowsIn = async (table: string) =>
    (await database.connection.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterAll(() => database?.drop());

  it('has partitions from yesterday to three days ahead after migrating, plus the default', async () => {
    const names = await partitions();
    for (const offset of [-1, 0, 1, 2, 3]) expect(names).toContain(partitionName(day(offset)));
    expect(names).toContain('telemetry_default');
  });

  it('keeps a row whose day has no partition, then moves it into the partition when it is created', async () => {
    const farFuture = day(40);
    await database.db.withService((tx) =>
      tx.query(`INSERT INTO telemetry (time, tenant_id, device_id, metrics) VALUES ($1, 't', 'd', '{"v": 1}')`, [
        farFuture,
      ]),
    );
    expect(await rowsIn('telemetry_default')).toBe(1);
    const { rows } = await database.db.withService((tx) =>
      tx.query<{ created: boolean }>(`SELECT telemetry_ensure_partition($1::date) AS created`, [
        farFuture.toISOString().slice(0, 10),
      ]),
    );
    expect(rows[0]!.created).toBe(true);
    expect(await rowsIn('telemetry_default')).toBe(0);
    expect(await rowsIn(partitionName(farFuture))).toBe(1);
    const stored = await database.db.withTenant('t', (tx) =>
      tx.query<{ metrics: unknown }>(`SELECT metrics FROM telemetry`),
    );
    expect(stored.rows).toEqual([{ metrics: { v: 1 } }]);
  });

  it('creating an existing partition again is a no-op', async () => {
    const { rows } = await database.db.withService((tx) =>
      tx.query<{ created: boolean }>(`SELECT telemetry_ensure_partition(current_date) AS created`),
    );
    expect(rows[0]!.created).toBe(false);
  });

  it('routes today’s rows into today’s partition', async () => {
    await database.db.withService((tx) =>
      tx.query(`INSERT INTO telemetry (time, tenant_id, device_id) VALUES (now(), 't', 'd')`),
    );
    expect(await rowsIn(partitionName(new Date()))).toBeGreaterThanOrEqual(1);
  });

  it('maintenance creates partitions ahead and drops those past retention', async () => {
    const old = day(-45);
    await database.db.withService(async (tx) => {
      await tx.query(`SELECT telemetry_ensure_partition($1::date)`, [old.toISOString().slice(0, 10)]);
      await tx.query(`INSERT INTO telemetry (time, tenant_id, device_id) VALUES ($1, 't', 'old')`, [old]);
    });
    expect(await partitions()).toContain(partitionName(old));
    const result = await runMaintenance(database.db, { daysAhead: 7, retentionDays: 30, analyze: true });
    expect(result.created).toBe(4); // days 4..7 ahead
    expect(result.dropped).toBe(1);
    const names = await partitions();
    expect(names).not.toContain(partitionName(old));
    expect(names).toContain(partitionName(day(7)));
    expect(names).toContain(partitionName(day(40))); // the future one stays
  });
});
