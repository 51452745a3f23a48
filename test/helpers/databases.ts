// Test databases on both engines: an in-memory PGlite, or a fresh `pulse_test_*` database on the machine's
// PostgreSQL (TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres), dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect, type Connection, type Engine } from '../../src/db/connection.js';
import { createDatabase, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';

export const ENGINES: Engine[] = ['pglite', 'postgres'];

export const adminUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export function urlFor(database: string, user?: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  if (user) {
    url.username = user;
    url.password = '';
  }
  return url.toString();
}

/** Runs SQL as the PostgreSQL superuser on the maintenance database. */
export async function asSuperuser<T>(fn: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor(database) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  engine: Engine;
  connection: Connection;
  db: Database;
  /** DATABASE_URL for the PostgreSQL engine; undefined for PGlite. */
  url: string | undefined;
  name: string | undefined;
  drop(): Promise<void>;
}

/** A migrated, empty database of the given engine. */
export async function createTestDatabase(engine: Engine, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  let url: string | undefined;
  let name: string | undefined;
  if (engine === 'postgres') {
    name = uniqueName('pulse_test');
    await asSuperuser((client) => client.query(`CREATE DATABASE ${name}`));
    url = urlFor(name);
  }
  const connection = await connect({ databaseUrl: url, dataDir: 'memory://', poolSize: 12 });
  if (options.migrate ?? true) await migrate(connection);
  return {
    engine,
    connection,
    db: createDatabase(connection),
    url,
    name,
    async drop() {
      await connection.close();
      if (name) await dropDatabase(name);
    },
  };
}

export async function dropDatabase(name: string): Promise<void> {
  await asSuperuser((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
