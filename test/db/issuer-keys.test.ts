// The built-in issuer's keys are sealed with SECRETS_KEY at rest, on both engines: the row holds no
// private key material, another key cannot open it, and a row kept in clear by an older Pulse is sealed
// the first time it is read.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureIssuerState, loadIssuerState } from '../../src/identity/issuer-state.js';
import { createSecretBox } from '../../src/lib/secrets.js';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/databases.js';

describe.each(ENGINES)('issuer keys on %s', (engine) => {
  let database: TestDatabase;
  const secrets = createSecretBox(randomBytes(32));
  const rawRow = async () =>
    JSON.stringify(
      (await database.connection.pool.query(`SELECT row_to_json(s) AS row FROM oidc_issuer_state s`)).rows[0].row,
    );

  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterAll(async () => database?.drop());

  it('stores the keys sealed and reads them back with the same SECRETS_KEY only', async () => {
    const created = await ensureIssuerState(database.db, secrets, 'http://localhost:8080/oidc');
    expect(created.signingKey.d).toBeTruthy();
    const raw = await rawRow();
    expect(raw).not.toContain(created.signingKey.d);
    expect(raw).not.toContain(created.cookieKeys[0]);

    const again = await ensureIssuerState(database.db, secrets, 'https://pulse.example/oidc');
    expect(again.signingKey).toEqual(created.signingKey);
    expect((await loadIssuerState(database.db, secrets))!.issuer).toBe('https://pulse.example/oidc');

    await expect(loadIssuerState(database.db, createSecretBox(randomBytes(32)))).rejects.toThrow(
      /sealed with another SECRETS_KEY/,
    );
  });

  it('seals keys an older Pulse kept in clear the first time it reads them', async () => {
    const state = (await loadIssuerState(database.db, secrets))!;
    await database.connection.pool.query(
      `UPDATE oidc_issuer_state SET sealed_keys = NULL, signing_key = $1, cookie_keys = $2`,
      [JSON.stringify(state.signingKey), state.cookieKeys],
    );
    expect(await rawRow()).toContain(state.signingKey.d);

    expect((await loadIssuerState(database.db, secrets))!.signingKey).toEqual(state.signingKey);
    expect(await rawRow()).not.toContain(state.signingKey.d);
    expect((await loadIssuerState(database.db, secrets))!.cookieKeys).toEqual(state.cookieKeys);
  });
});
