// oidc-provider's storage (sessions, interactions, codes, grants, refresh tokens) in the database, so
// any api instance can finish a login another began and a restart keeps everyone signed in.
import type { Adapter, AdapterFactory } from 'oidc-provider';
import type { Database } from '../db/database.js';
import {
  consumeOidcModel,
  deleteOidcGrant,
  deleteOidcModel,
  findOidcModel,
  pruneOidcModels,
  saveOidcModel,
} from '../model/oidc.js';

export function oidcStorage(db: Database): AdapterFactory {
  return (model: string): Adapter => {
    const findBy = async (column: 'id' | 'uid' | 'user_code', value: string) => {
      const row = await db.withService((tx) => findOidcModel(tx, model, column, value));
      if (!row) return undefined;
      return row.consumed_at ? { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : row.payload;
    };
    return {
      upsert: (id, payload, expiresIn) => db.withService((tx) => saveOidcModel(tx, model, id, payload, expiresIn ?? 0)),
      find: (id) => findBy('id', id),
      findByUid: (uid) => findBy('uid', uid),
      findByUserCode: (userCode) => findBy('user_code', userCode),
      consume: (id) => db.withService((tx) => consumeOidcModel(tx, model, id)),
      destroy: (id) => db.withService((tx) => deleteOidcModel(tx, model, id)),
      revokeByGrantId: (grantId) => db.withService((tx) => deleteOidcGrant(tx, grantId)),
    };
  };
}

/** Removes expired rows; run on the maintenance schedule. */
export const pruneOidcStorage = (db: Database): Promise<number> => db.withService(pruneOidcModels);
