// oidc-provider's storage (sessions, interactions, codes, grants, refresh tokens) in the database, so
// any api instance can finish a login another began and a restart keeps everyone signed in.
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import type { Database } from '../db/database.js';

interface Row {
  payload: AdapterPayload;
  consumed_at: Date | null;
}

export function oidcStorage(db: Database): AdapterFactory {
  return (model: string): Adapter => {
    const findBy = async (column: 'id' | 'uid' | 'user_code', value: string) => {
      const row = await db.withService(
        async (tx) =>
          (
            await tx.query<Row>(
              `SELECT payload, consumed_at FROM oidc_models
               WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())`,
              [model, value],
            )
          ).rows[0],
      );
      if (!row) return undefined;
      return row.consumed_at ? { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : row.payload;
    };
    const run = (sql: string, params: unknown[]) => db.withService((tx) => tx.query(sql, params)).then(() => undefined);

    return {
      upsert: (id, payload, expiresIn) =>
        run(
          `INSERT INTO oidc_models (model, id, payload, grant_id, user_code, uid, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::int > 0 THEN now() + make_interval(secs => $7::int) END)
           ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
             user_code = EXCLUDED.user_code, uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`,
          [
            model,
            id,
            JSON.stringify(payload),
            payload.grantId ?? null,
            payload.userCode ?? null,
            payload.uid ?? null,
            expiresIn ?? 0,
          ],
        ),
      find: (id) => findBy('id', id),
      findByUid: (uid) => findBy('uid', uid),
      findByUserCode: (userCode) => findBy('user_code', userCode),
      consume: (id) => run(`UPDATE oidc_models SET consumed_at = now() WHERE model = $1 AND id = $2`, [model, id]),
      destroy: (id) => run(`DELETE FROM oidc_models WHERE model = $1 AND id = $2`, [model, id]),
      revokeByGrantId: (grantId) => run(`DELETE FROM oidc_models WHERE grant_id = $1`, [grantId]),
    };
  };
}

/** Removes expired rows; run on the maintenance schedule. */
export async function pruneOidcStorage(db: Database): Promise<number> {
  const { rowCount } = await db.withService((tx) =>
    tx.query(`DELETE FROM oidc_models WHERE expires_at < now() - interval '1 hour'`),
  );
  return rowCount ?? 0;
}
