// One data-access path for both engines: a `pg` Pool, either on a real PostgreSQL server or on an
// in-process PGlite through its node-postgres adapter. Nothing outside src/db/ touches the pool.
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { claimDataDir } from '../lib/data-dir-lock.js';
import { keepPrivate } from '../lib/private-dir.js';

export type Engine = 'postgres' | 'pglite';

export interface Connection {
  readonly engine: Engine;
  readonly pool: pg.Pool;
  /** Where the data lives, for logs: the server host/database or the PGlite directory. */
  readonly location: string;
  close(): Promise<void>;
}

const INT8_OID = 20;

// int8 (BIGSERIAL ids, counters, seq) as numbers: every value Pulse stores there is far below 2^53.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface ConnectOptions {
  databaseUrl?: string | undefined;
  /** Used when databaseUrl is unset; `memory://` keeps the embedded database in memory (tests). */
  dataDir: string;
  poolSize?: number;
  /** Shown in pg_stat_activity (e.g. `pulse ingest`), so an operator sees which role holds a connection. */
  applicationName?: string;
  /** `memory://` only: the embedded database starts as this dump of a data directory (PGlite's dumpDataDir). */
  loadDataDir?: Blob | undefined;
}

export async function connect(options: ConnectOptions): Promise<Connection> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      types,
      ...(options.applicationName && { application_name: options.applicationName }),
    });
    // An idle client that loses its server connection emits here; without a listener it would crash the process.
    pool.on('error', () => undefined);
    const client = await pool.connect();
    client.release();
    const url = new URL(options.databaseUrl);
    return {
      engine: 'postgres',
      pool,
      location: `${url.hostname}:${url.port || '5432'}${url.pathname}`,
      close: () => pool.end(),
    };
  }

  const inMemory = options.dataDir.startsWith('memory://');
  const home = path.resolve(options.dataDir);
  const dataDir = inMemory ? options.dataDir : path.join(home, 'pgdata');
  if (!inMemory) {
    mkdirSync(dataDir, { recursive: true });
    // Closed before PGlite opens anything; other files a user keeps in it are left as they are.
    chmodSync(home, 0o700);
    // Files PGlite creates while it runs (pg_internal.init, new segments) are private from the start.
    process.umask(0o077);
  }
  // One process per data dir (lib/data-dir-lock.ts); throws DataDirInUse while another holds it.
  const lock = inMemory ? undefined : claimDataDir(home);
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(dataDir, options.loadDataDir ? { loadDataDir: options.loadDataDir } : {});
  } catch (error) {
    lock?.release();
    throw error;
  }
  // All of the database's own files, those from earlier runs and those PGlite just created (0666), once.
  if (!inMemory) keepPrivate(dataDir);
  // PGlite is one backend: a pool of one, and a client is never destroyed on a query error (that would end
  // the shared instance); see Database.transaction.
  const pool = new pg.Pool({ ...createPgConfig(pglite), max: 1, types });
  pool.on('error', () => undefined);
  return {
    engine: 'pglite',
    pool,
    location: dataDir,
    close: async () => {
      await pool.end();
      await pglite.close();
      lock?.release();
    },
  };
}

/**
 * Runs fn on one pooled client. A connection that dies while the client is checked out emits 'error' on
 * it, which would crash the process unheard: it is heard here, fn's query fails, and the client is
 * discarded on release (never on PGlite, whose one connection is the whole database).
 */
export async function withClient<T>(
  connection: Connection,
  fn: (client: pg.PoolClient, discard: (error: Error) => void) => Promise<T>,
): Promise<T> {
  const client = await connection.pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  try {
    return await fn(client, onError);
  } finally {
    client.off('error', onError);
    client.release(connection.engine === 'postgres' && broken ? broken : undefined);
  }
}
