// Applies src/db/migrations/NNN_name.sql in order, each in its own transaction, recording each in
// schema_migrations with a checksum. Idempotent; an applied file that was edited afterwards is an error.
// An advisory lock lets several instances start at once without racing.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withClient, type Connection } from './connection.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
const MIGRATION_FILE = /^(\d{3})_([a-z0-9_]+)\.sql$/;
const LOCK_KEY = 7_305_881; // arbitrary, constant: "pulse migrations"

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: Migration[];
  alreadyApplied: number;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => {
      const match = MIGRATION_FILE.exec(file);
      if (!match) throw new Error(`migration file name ${file} must look like 001_some_name.sql`);
      const sql = readFileSync(`${dir}/${file}`, 'utf8');
      return {
        version: Number(match[1]),
        name: match[2] as string,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export async function migrate(connection: Connection, migrations = loadMigrations()): Promise<MigrationResult> {
  return withClient(connection, async (client) => {
    try {
      await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
      await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        checksum   TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
        'SELECT version, name, checksum FROM schema_migrations',
      );
      const done = new Map(rows.map((row) => [row.version, row]));
      const applied: Migration[] = [];
      for (const migration of migrations) {
        const previous = done.get(migration.version);
        if (previous) {
          if (previous.checksum !== migration.checksum) {
            throw new MigrationError(
              `migration ${String(migration.version).padStart(3, '0')}_${migration.name} was changed after it was applied; add a new migration instead`,
            );
          }
          continue;
        }
        try {
          await client.query('BEGIN');
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
            migration.version,
            migration.name,
            migration.checksum,
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new MigrationError(
            `migration ${String(migration.version).padStart(3, '0')}_${migration.name} failed: ${(error as Error).message}`,
          );
        }
        applied.push(migration);
      }
      return { applied, alreadyApplied: done.size };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    }
  });
}

/** Migrations not yet applied (all of them on an empty database). */
export async function pendingMigrations(connection: Connection, migrations = loadMigrations()): Promise<Migration[]> {
  return withClient(connection, async (client) => {
    const { rows } = await client.query<{ exists: boolean }>(
      `SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`,
    );
    if (!rows[0]?.exists) return migrations;
    const applied = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const versions = new Set(applied.rows.map((row) => row.version));
    return migrations.filter((migration) => !versions.has(migration.version));
  });
}

/** What was applied, for one log line: `001_init` alone, or `3 migrations, 024_rollups to 026_token_epochs`. */
export const migrationRange = (names: string[]) =>
  names.length === 1 ? names[0]! : `${names.length} migrations, ${names[0]} to ${names.at(-1)}`;
