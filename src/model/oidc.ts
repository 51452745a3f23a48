// The built-in issuer's storage: oidc-provider's models (sessions, interactions, codes, grants, refresh
// tokens) and the issuer's key material. Service transactions: logins precede any tenant.
import type { AdapterPayload } from 'oidc-provider';
import type { JWK } from 'jose';
import type { ServiceTx } from '../db/database.js';

export interface StoredModel {
  payload: AdapterPayload;
  consumed_at: Date | null;
}

/** An unexpired model instance found by its id, uid or user code. */
export async function findOidcModel(
  tx: ServiceTx,
  model: string,
  column: 'id' | 'uid' | 'user_code',
  value: string,
): Promise<StoredModel | undefined> {
  const { rows } = await tx.query<StoredModel>(
    `SELECT payload, consumed_at FROM oidc_models
     WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())`,
    [model, value],
  );
  return rows[0];
}

/** Stores a model instance; `expiresIn` seconds from now, or never when 0. */
export async function saveOidcModel(
  tx: ServiceTx,
  model: string,
  id: string,
  payload: AdapterPayload,
  expiresIn: number,
): Promise<void> {
  await tx.query(
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
      expiresIn,
    ],
  );
}

export async function consumeOidcModel(tx: ServiceTx, model: string, id: string): Promise<void> {
  await tx.query(`UPDATE oidc_models SET consumed_at = now() WHERE model = $1 AND id = $2`, [model, id]);
}

export async function deleteOidcModel(tx: ServiceTx, model: string, id: string): Promise<void> {
  await tx.query(`DELETE FROM oidc_models WHERE model = $1 AND id = $2`, [model, id]);
}

/** Everything issued under one grant (logout, a revoked refresh token). */
export async function deleteOidcGrant(tx: ServiceTx, grantId: string): Promise<void> {
  await tx.query(`DELETE FROM oidc_models WHERE grant_id = $1`, [grantId]);
}

/** Removes rows expired for over an hour; returns how many. */
export async function pruneOidcModels(tx: ServiceTx): Promise<number> {
  const { rowCount } = await tx.query(`DELETE FROM oidc_models WHERE expires_at < now() - interval '1 hour'`);
  return rowCount ?? 0;
}

export interface IssuerStateRow {
  /** The keys sealed with SECRETS_KEY; null only in a row from before they were sealed. */
  sealed_keys: string | null;
  /** Set only in a row from before the keys were sealed. */
  signing_key: (JWK & { kid: string }) | null;
  cookie_keys: string[] | null;
  issuer: string | null;
}

export async function issuerStateRow(tx: ServiceTx): Promise<IssuerStateRow | undefined> {
  const { rows } = await tx.query<IssuerStateRow>(
    `SELECT sealed_keys, signing_key, cookie_keys, issuer FROM oidc_issuer_state`,
  );
  return rows[0];
}

/**
 * Stores the candidate sealed keys unless some instance stored its own first (the issuer URL is updated
 * either way), and returns what is stored.
 */
export async function saveIssuerState(tx: ServiceTx, sealedKeys: string, issuer: string): Promise<IssuerStateRow> {
  await tx.query(
    `INSERT INTO oidc_issuer_state (sealed_keys, issuer) VALUES ($1, $2)
     ON CONFLICT (singleton) DO UPDATE SET issuer = EXCLUDED.issuer`,
    [sealedKeys, issuer],
  );
  return (await issuerStateRow(tx))!;
}

export async function setIssuerUrl(tx: ServiceTx, issuer: string): Promise<void> {
  await tx.query(`UPDATE oidc_issuer_state SET issuer = $1`, [issuer]);
}

/** Replaces the keys kept in clear (a row from before they were sealed) by their sealed form. */
export async function sealIssuerKeys(tx: ServiceTx, sealedKeys: string): Promise<void> {
  await tx.query(
    `UPDATE oidc_issuer_state SET sealed_keys = $1, signing_key = NULL, cookie_keys = NULL WHERE sealed_keys IS NULL`,
    [sealedKeys],
  );
}
