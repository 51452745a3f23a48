// Hourly maintenance prunes what the built-in issuer left behind: expired OIDC rows (sessions, grants,
// codes) go an hour after they expire; live and never-expiring ones stay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMaintenance } from '../../src/db/maintenance.js';
import { pruneOidcStorage } from '../../src/identity/oidc-storage.js';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/databases.js';

describe.each(ENGINES)('database maintenance on %s', (engine) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterAll(() => database?.drop());

  it('deletes OIDC rows expired for over an hour and keeps the rest', async () => {
    const rows: [string, string | null][] = [
      ['expired-2h', `now() - interval '2 hours'`],
      ['expired-10min', `now() - interval '10 minutes'`],
      ['live', `now() + interval '1 hour'`],
      ['forever', null],
    ];
    for (const [id, expires] of rows)
      await database.connection.pool.query(
        `INSERT INTO oidc_models (model, id, payload, expires_at) VALUES ('Session', $1, '{}', ${expires ?? 'NULL'})`,
        [id],
      );
    const result = await runMaintenance(database.db, {
      daysAhead: 3,
      retentionDays: 30,
      analyze: false,
      prune: [pruneOidcStorage],
    });
    expect(result.pruned).toBe(1);
    const left = await database.connection.pool.query<{ id: string }>(`SELECT id FROM oidc_models ORDER BY id`);
    expect(left.rows.map((r) => r.id)).toEqual(['expired-10min', 'forever', 'live']);
  });
});
