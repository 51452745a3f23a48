// An integration PATCH reads the row, checks the new destination outside any transaction (DNS, SSRF
// rules), then writes. A change another request made in between must not be overwritten silently:
// updateIntegration refuses a write built from a stale read ('changed'), on both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertIntegration, updateIntegration } from '../../src/model/integrations.js';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/databases.js';

describe.each(ENGINES)('integration updates on %s', (engine) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
    await database.db.withService((tx) =>
      tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ('acme', 'acme') ON CONFLICT DO NOTHING`),
    );
  });
  afterAll(() => database?.drop());
  const inAcme = <T>(fn: Parameters<typeof database.db.withTenant<T>>[1]) => database.db.withTenant('acme', fn);

  it('writes changes built from the current row, and refuses ones built from a row changed since', async () => {
    const created = await inAcme((tx) =>
      insertIntegration(tx, { name: 'hook', type: 'webhook', config_json: { url: 'https://example.com/a' } }),
    );
    const first = await inAcme((tx) => updateIntegration(tx, created, { name: 'renamed' }));
    expect(first).toMatchObject({ name: 'renamed' });

    // `created` is now stale: a write built from it would undo "renamed".
    const stale = await inAcme((tx) => updateIntegration(tx, created, { enabled: false }));
    expect(stale).toBe('changed');
    const current = await inAcme((tx) => tx.query(`SELECT name, enabled FROM integrations`));
    expect(current.rows).toEqual([{ name: 'renamed', enabled: true }]);

    // From a fresh read the write goes through.
    expect(await inAcme((tx) => updateIntegration(tx, first as never, { enabled: false }))).toMatchObject({
      name: 'renamed',
      enabled: false,
    });
  });

  it('says undefined when the integration is gone', async () => {
    const created = await inAcme((tx) =>
      insertIntegration(tx, { name: 'gone', type: 'webhook', config_json: { url: 'https://example.com/b' } }),
    );
    await inAcme((tx) => tx.query(`DELETE FROM integrations WHERE integration_id = $1`, [created.integration_id]));
    expect(await inAcme((tx) => updateIntegration(tx, created, { name: 'x' }))).toBeUndefined();
  });
});
