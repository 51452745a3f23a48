// The only ways code reaches the database. Each runs one transaction under a database role:
//   withTenant(tenantId, fn)  customer work; pulse_app, row-level security on app.tenant_id
//   withOperator(fn)          operator work across tenants; pulse_operator (BYPASSRLS, audited by the API)
//   withService(fn)           the pipeline; pulse_service (BYPASSRLS, explicit grants)
// Repository functions take the transaction type they are for, so a customer-facing query cannot be
// written without a TenantTx — and a TenantTx cannot exist without naming its tenant.
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { withClient, type Connection, type Engine } from './connection.js';

declare const scope: unique symbol;

export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

export interface TenantTx extends Queryable {
  readonly [scope]: 'tenant';
  readonly tenantId: string;
}
export interface OperatorTx extends Queryable {
  readonly [scope]: 'operator';
}
export interface ServiceTx extends Queryable {
  readonly [scope]: 'service';
  /**
   * Streams COPY … FROM STDIN text on PostgreSQL (the pipeline's bulk path). Not on PGlite, whose COPY
   * FROM STDIN hangs: callers check `db.engine` first.
   */
  copyFrom(sql: string, text: string): Promise<void>;
}

/**
 * An operator's or the pipeline's transaction narrowed to one tenant (`narrow(tx, tenantId)`), so model
 * functions customers use too can serve them: they read the tenant from the transaction, never beside it.
 */
export type Narrowed<T extends OperatorTx | ServiceTx> = T & { readonly tenantId: string };
/** A transaction that names the tenant whose rows it touches. */
export type TenantScope = TenantTx | Narrowed<OperatorTx> | Narrowed<ServiceTx>;

export function narrow<T extends OperatorTx | ServiceTx>(tx: T, tenantId: string): Narrowed<T> {
  return { ...tx, tenantId };
}

/** Runs `fn` in a savepoint of `tx`: its changes roll back if it throws, the transaction goes on. */
export async function inSavepoint<T>(tx: Queryable, fn: () => Promise<T>): Promise<T> {
  await tx.query('SAVEPOINT pulse_work');
  try {
    const value = await fn();
    await tx.query('RELEASE SAVEPOINT pulse_work');
    return value;
  } catch (error) {
    await tx.query('ROLLBACK TO SAVEPOINT pulse_work');
    throw error;
  }
}

export interface Database {
  readonly engine: Engine;
  readonly location: string;
  withTenant<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>): Promise<T>;
  withOperator<T>(fn: (tx: OperatorTx) => Promise<T>): Promise<T>;
  withService<T>(fn: (tx: ServiceTx) => Promise<T>): Promise<T>;
  /**
   * Streams COPY … FROM STDIN text as the pipeline, in a transaction of its own (PostgreSQL only, as
   * `ServiceTx.copyFrom`). The role is set in the same simple query as the COPY, which then commits
   * implicitly: two round trips where BEGIN, COPY and COMMIT take four; a refused row rolls it all back.
   * Resolves once committed.
   */
  copyAsService(sql: string, text: string): Promise<void>;
  /** Round-trip time of a trivial query in milliseconds (health checks). */
  ping(): Promise<number>;
}

type DbRole = 'pulse_app' | 'pulse_operator' | 'pulse_service';

export function createDatabase(connection: Connection): Database {
  const { engine } = connection;

  async function transaction<T>(role: DbRole, tenantId: string | null, fn: (client: Queryable) => Promise<T>) {
    return withClient(connection, async (client, discard) => {
      try {
        await client.query(`BEGIN; SET LOCAL ROLE ${role}`);
        if (tenantId !== null) await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
        const queryable = {
          query: (sql: string, params?: readonly unknown[]) => client.query(sql, params as unknown[] | undefined),
          ...(tenantId !== null && { tenantId }),
          ...(role === 'pulse_service' && {
            copyFrom: (sql: string, text: string) => copyText(client, engine, sql, text),
          }),
        } as Queryable;
        const result = await fn(queryable);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // A connection that cannot even roll back is not given back to the pool.
        await client.query('ROLLBACK').catch((rollbackError: Error) => discard(rollbackError));
        throw error;
      }
    });
  }

  return {
    engine,
    location: connection.location,
    withTenant(tenantId, fn) {
      if (typeof tenantId !== 'string' || tenantId.length === 0) {
        return Promise.reject(new Error('withTenant needs a non-empty tenant id'));
      }
      return transaction('pulse_app', tenantId, (q) => fn(q as TenantTx));
    },
    withOperator: (fn) => transaction('pulse_operator', null, (q) => fn(q as OperatorTx)),
    withService: (fn) => transaction('pulse_service', null, (q) => fn(q as ServiceTx)),
    copyAsService: (sql, text) =>
      withClient(connection, (client) => copyText(client, engine, `SET LOCAL ROLE pulse_service; ${sql}`, text)),
    async ping() {
      const started = performance.now();
      await transaction('pulse_service', null, (q) => q.query('SELECT 1'));
      return performance.now() - started;
    },
  };
}

async function copyText(client: PoolClient, engine: Engine, sql: string, text: string): Promise<void> {
  if (engine !== 'postgres') throw new Error('COPY FROM STDIN is only used on PostgreSQL');
  const stream = client.query(copyFrom(sql));
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('finish', resolve);
    stream.end(text);
  });
}
