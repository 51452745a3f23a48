// Test databases on both engines: an in-memory PGlite, or a fresh `pulse_test_*` database on the machine's
// PostgreSQL (TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres), dropped afterwards.
// A migrated database is a copy of one migrated once (ADR 034): `CREATE DATABASE … TEMPLATE` on PostgreSQL,
// a dumped data directory on PGlite; migrating every test's database took seconds each.
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import pg from 'pg';
import { connect, type Connection, type Engine } from '../../src/db/connection.js';
import { createDatabase, type Database } from '../../src/db/database.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';

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

/** A migrated, empty database of the given engine; `migrate: false`: an empty one without any schema. */
export async function createTestDatabase(engine: Engine, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const migrated = options.migrate ?? true;
  let url: string | undefined;
  let name: string | undefined;
  if (engine === 'postgres') {
    name = await createPostgresDatabase({ migrated });
    url = urlFor(name);
  }
  const connection = await connect({
    databaseUrl: url,
    dataDir: 'memory://',
    poolSize: 12,
    loadDataDir: engine === 'pglite' && migrated ? await migratedPgliteDump() : undefined,
  });
  return {
    engine,
    connection,
    db: createDatabase(connection),
    url,
    name,
    async drop() {
      await connection.close();
      if (name) await releaseDatabase(name);
    },
  };
}

export async function dropDatabase(name: string): Promise<void> {
  await asSuperuser((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** Where the run's global setup (global-setup.ts) collects the databases it drops when the run ends. */
export const DROP_LIST_VARIABLE = 'PULSE_TEST_DROP_LIST';

/**
 * Drops a database a helper created and nothing else uses any more: when the run ends if the global setup
 * collects them (a DROP DATABASE waits for a server checkpoint, seconds on a busy server, and several
 * drops share one), at once otherwise.
 */
export async function releaseDatabase(name: string): Promise<void> {
  const dropList = process.env[DROP_LIST_VARIABLE];
  if (dropList) appendFileSync(dropList, `${name}\n`);
  else await dropDatabase(name);
}

/**
 * A new database on the machine's PostgreSQL (a `pulse_test_*` name unless given), a copy of the migrated
 * template unless not `migrated`; returns its name.
 */
export async function createPostgresDatabase({
  migrated,
  name = uniqueName('pulse_test'),
}: {
  migrated: boolean;
  name?: string;
}): Promise<string> {
  const template = migrated ? ` TEMPLATE ${await migratedTemplate()}` : '';
  await asSuperuser((client) => client.query(`CREATE DATABASE ${name}${template}`));
  return name;
}

/**
 * What a migrated database depends on: the migration files, and the day (UTC), since migration 003 makes
 * the telemetry partitions of the days around it. Either changing means building the copy again.
 */
function templateKey(): { key: string; day: string } {
  const files = createHash('sha256');
  for (const migration of loadMigrations()) files.update(migration.checksum);
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  return { key: `${files.digest('hex').slice(0, 12)}_${day}`, day };
}

const TEMPLATE_PREFIX = 'pulse_template_';
const TEMPLATE_LOCK = 7_305_882; // arbitrary, constant: "pulse test templates"
const templates = new Map<string, Promise<string>>();

/**
 * The name of a migrated PostgreSQL database that is never connected to (a connection would block copies),
 * built by whichever process asks first, under an advisory lock so runs in parallel build it once. Templates
 * of earlier days are dropped.
 */
export function migratedTemplate(): Promise<string> {
  const { key, day } = templateKey();
  let template = templates.get(key);
  if (!template) {
    template = buildTemplate(TEMPLATE_PREFIX + key, day);
    templates.set(key, template);
    template.catch(() => templates.delete(key));
  }
  return template;
}

async function buildTemplate(name: string, day: string): Promise<string> {
  await asSuperuser(async (client) => {
    await client.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
    try {
      const existing = await client.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE '${TEMPLATE_PREFIX}%'`,
      );
      for (const { datname } of existing.rows) {
        const builtOn = /_(\d{8})(_building)?$/.exec(datname)?.[1];
        if (builtOn && builtOn < day) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
      }
      if (existing.rows.some((row) => row.datname === name)) return;
      const building = `${name}_building`;
      await client.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${building}`);
      const connection = await connect({ databaseUrl: urlFor(building), dataDir: 'memory://', poolSize: 1 });
      try {
        await migrate(connection);
      } finally {
        await connection.close();
      }
      await client.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
      await client.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
    }
  });
  return name;
}

const PGLITE_DUMPS = path.join(tmpdir(), 'pulse-test-templates');
const pgliteDumps = new Map<string, Promise<Blob>>();

/**
 * A dump of a migrated PGlite data directory, kept as a file so every test process loads it instead of
 * running initdb and the migrations; written under a temporary name and renamed, so a process never reads
 * half a dump. Dumps of earlier days are removed.
 */
export function migratedPgliteDump(): Promise<Blob> {
  const { key, day } = templateKey();
  let dump = pgliteDumps.get(key);
  if (!dump) {
    dump = readOrBuildDump(path.join(PGLITE_DUMPS, `pglite_${key}.tar`), day);
    pgliteDumps.set(key, dump);
    dump.catch(() => pgliteDumps.delete(key));
  }
  return dump;
}

async function readOrBuildDump(file: string, day: string): Promise<Blob> {
  if (!existsSync(file)) {
    mkdirSync(PGLITE_DUMPS, { recursive: true });
    for (const old of readdirSync(PGLITE_DUMPS)) {
      const builtOn = /_(\d{8})\.tar/.exec(old)?.[1];
      if (builtOn && builtOn < day) rmSync(path.join(PGLITE_DUMPS, old), { force: true });
    }
    const pglite = await PGlite.create('memory://');
    const pool = new pg.Pool({ ...createPgConfig(pglite), max: 1 });
    try {
      await migrate({ engine: 'pglite', pool, location: 'memory://', close: () => pool.end() });
      const dump = await pglite.dumpDataDir('none');
      const partial = `${file}.${process.pid}.partial`;
      writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
      renameSync(partial, file);
    } finally {
      await pool.end();
      await pglite.close();
    }
  }
  return new DumpBlob(readFileSync(file));
}

/**
 * The dump as PGlite reads it (`arrayBuffer()`), its one copy in this process handed over as is (PGlite only
 * reads it): Node's own Blob streams its bytes out in small chunks and joins them, a quarter of what loading
 * the dump cost each start.
 */
class DumpBlob extends Blob {
  readonly #bytes: ArrayBuffer;
  constructor(bytes: Uint8Array) {
    super([bytes]);
    this.#bytes = new Uint8Array(bytes).buffer;
  }
  override async arrayBuffer(): Promise<ArrayBuffer> {
    return this.#bytes;
  }
}
