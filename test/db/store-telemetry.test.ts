// Ingest's write of a batch (storeTelemetry): on PostgreSQL one COPY in a transaction of its own, the role
// set in the same query. A stored batch is committed when the call resolves; a refused row stores nothing
// of its batch, so the writer can split it (saveIsolatingRowErrors); the connection goes back to the pool
// usable and without the pipeline's role.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveIsolatingRowErrors } from '../../src/ingest/writer.js';
import { storeTelemetry, type TelemetryInsert } from '../../src/model/telemetry.js';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/databases.js';

describe.each(ENGINES)('storing a telemetry batch on %s', (engine) => {
  let database: TestDatabase;
  const row = (device: string, metricsJson = '{"temp_c": 21.5}'): TelemetryInsert => ({
    message: {
      time: new Date(),
      tenant_id: 'st-a',
      device_id: device,
      site_id: 's',
      msg_type: 'telemetry',
      seq: 0,
      metrics: {},
    },
    metricsJson,
  });
  const stored = async () =>
    (
      await database.connection.pool.query<{ device_id: string }>(
        `SELECT device_id FROM telemetry WHERE tenant_id = 'st-a' ORDER BY device_id`,
      )
    ).rows.map((r) => r.device_id);

  beforeAll(async () => {
    database = await createTestDatabase(engine);
  }, 60_000);
  afterAll(() => database?.drop());

  it('has the batch committed when it resolves', async () => {
    await storeTelemetry(database.db, [row('d-1'), row('d-2')]);
    expect(await stored()).toEqual(['d-1', 'd-2']);
  });

  it('stores nothing of a batch with a refused row, and the writer then stores every other row', async () => {
    const batch = [row('d-3'), row('d-4', '{"temp_c": '), row('d-5')];
    await expect(storeTelemetry(database.db, batch)).rejects.toMatchObject({ code: '22P02' });
    expect(await stored()).toEqual(['d-1', 'd-2']);

    const refused: string[] = [];
    await saveIsolatingRowErrors(
      batch,
      (part) => storeTelemetry(database.db, part),
      (item) => refused.push(item.message.device_id),
    );
    expect(refused).toEqual(['d-4']);
    expect(await stored()).toEqual(['d-1', 'd-2', 'd-3', 'd-5']);
  });

  it('gives the connection back without the pipeline role, in no transaction', async () => {
    await storeTelemetry(database.db, [row('d-6')]).catch(() => undefined);
    await storeTelemetry(database.db, [row('d-7', 'not json')]).catch(() => undefined);
    // The pool hands out the connection released last: the one that wrote.
    const { rows } = await database.connection.pool.query<{ role: string; in_transaction: boolean }>(
      `SELECT current_user AS role, now() <> statement_timestamp() AS in_transaction`,
    );
    expect(rows[0]!.role).not.toBe('pulse_service');
    expect(rows[0]!.in_transaction).toBe(false);
  });
});
