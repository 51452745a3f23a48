// An OpsConductor-Pulse database built from the original's own migrations and demo seed
// (test/fixtures/original), on the machine's PostgreSQL as pulse_test_original_*, dropped afterwards.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { asSuperuser, dropDatabase, uniqueName, urlFor } from './databases.js';

const FIXTURES = path.resolve('test/fixtures/original');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');

export interface OriginalDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * `level`: 305eab4, or that database upgraded afterwards to the original's later migrations (seeded first,
 * as a deployment upgraded in place). `receivers` fill the integrations' destinations.
 */
export async function createOriginalDatabase(
  level: '305eab4' | 'later',
  receivers: { webhookUrl: string; snmpPort: number; smtpPort: number },
): Promise<OriginalDatabase> {
  const name = uniqueName('pulse_test_original');
  await asSuperuser((client) => client.query(`CREATE DATABASE ${name}`));
  const extras = fixture('seed-extras.sql')
    .replaceAll('{{WEBHOOK_URL}}', receivers.webhookUrl)
    .replaceAll('{{SNMP_PORT}}', String(receivers.snmpPort))
    .replaceAll('{{SMTP_PORT}}', String(receivers.smtpPort));
  const scripts = [fixture('schema-305eab4.sql'), fixture('seed-demo.sql'), extras];
  if (level === 'later') scripts.push(fixture('schema-later.sql'));
  try {
    await asSuperuser(async (client) => {
      for (const script of scripts) for (const statement of statements(script)) await client.query(statement);
    }, name);
  } catch (error) {
    await dropDatabase(name);
    throw error;
  }
  return { url: urlFor(name), name, drop: () => dropDatabase(name) };
}

/**
 * A script's statements, each run on its own as psql runs them (the original's run_migrations.sh): an
 * enum value added by one statement cannot be used in the same transaction. A statement ends with a line
 * ending in ";" outside a $$ body.
 */
function statements(script: string): string[] {
  const result: string[] = [];
  let current: string[] = [];
  let inBody = false;
  for (const line of script.split('\n')) {
    current.push(line);
    if ((line.match(/\$\$/g)?.length ?? 0) % 2 === 1) inBody = !inBody;
    if (!inBody && /;\s*(--.*)?$/.test(line)) {
      result.push(current.join('\n'));
      current = [];
    }
  }
  if (current.join('').trim()) result.push(current.join('\n'));
  return result;
}
