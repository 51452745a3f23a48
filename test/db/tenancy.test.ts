// Tenant isolation by row-level security, on both engines and — on PostgreSQL — through a non-superuser
// login role that owns the database, as in production.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Connection } from '../../src/db/connection.js';
import { createDatabase, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { asSuperuser, createTestDatabase, dropDatabase, ENGINES, uniqueName, urlFor } from '../helpers/databases.js';

/** One row per tenant-scoped table for a tenant, inserted through the service role. */
async function seedTenant(db: Database, tenant: string) {
  await db.withService(async (tx) => {
    await tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)`, [tenant]);
    await tx.query(`INSERT INTO device_registry (tenant_id, device_id, site_id) VALUES ($1, 'd1', 's1')`, [tenant]);
    await tx.query(
      `INSERT INTO device_activation (tenant_id, device_id, activation_code_hash, expires_at) VALUES ($1, 'd1', $1, now())`,
      [tenant],
    );
    await tx.query(`INSERT INTO device_token_history (tenant_id, device_id, token_hash) VALUES ($1, 'd1', 'h')`, [
      tenant,
    ]);
    await tx.query(`INSERT INTO telemetry (time, tenant_id, device_id, metrics) VALUES (now(), $1, 'd1', '{"t": 1}')`, [
      tenant,
    ]);
    await tx.query(`INSERT INTO quarantine_events (topic, tenant_id, reason, payload) VALUES ('x', $1, 'R', '{}')`, [
      tenant,
    ]);
    await tx.query(
      `INSERT INTO quarantine_counters_minute (bucket_minute, tenant_id, reason, cnt) VALUES (now(), $1, 'R', 1)`,
      [tenant],
    );
    await tx.query(`INSERT INTO device_state (tenant_id, site_id, device_id) VALUES ($1, 's1', 'd1')`, [tenant]);
    const alert = await tx.query<{ id: number }>(
      `INSERT INTO fleet_alert (tenant_id, site_id, device_id, alert_type, fingerprint, summary)
       VALUES ($1, 's1', 'd1', 'NO_HEARTBEAT', 'NO_HEARTBEAT:d1', 'x') RETURNING id`,
      [tenant],
    );
    await tx.query(
      `INSERT INTO alert_rules (tenant_id, name, metric_name, operator, threshold) VALUES ($1, 'r', 'temp_c', 'GT', 1)`,
      [tenant],
    );
    const integration = await tx.query<{ integration_id: string }>(
      `INSERT INTO integrations (tenant_id, name, config_json) VALUES ($1, 'w', '{"url": "https://example.com"}')
       RETURNING integration_id`,
      [tenant],
    );
    const integrationId = integration.rows[0]!.integration_id;
    const route = await tx.query<{ route_id: string }>(
      `INSERT INTO integration_routes (tenant_id, integration_id, name) VALUES ($1, $2, 'r') RETURNING route_id`,
      [tenant, integrationId],
    );
    const job = await tx.query<{ job_id: number }>(
      `INSERT INTO delivery_jobs (tenant_id, alert_id, integration_id, route_id, deliver_on_event, payload_json)
       VALUES ($1, $2, $3, $4, 'OPEN', '{}') RETURNING job_id`,
      [tenant, alert.rows[0]!.id, integrationId, route.rows[0]!.route_id],
    );
    await tx.query(`INSERT INTO delivery_attempts (tenant_id, job_id, attempt_no, ok) VALUES ($1, $2, 1, true)`, [
      tenant,
      job.rows[0]!.job_id,
    ]);
    await tx.query(`INSERT INTO rate_limits (tenant_id, action) VALUES ($1, 'test')`, [tenant]);
  });
}

const TENANT_TABLES = [
  'tenants',
  'device_registry',
  'device_activation',
  'device_token_history',
  'telemetry',
  'quarantine_events',
  'quarantine_counters_minute',
  'device_state',
  'fleet_alert',
  'alert_rules',
  'integrations',
  'integration_routes',
  'delivery_jobs',
  'delivery_attempts',
  'rate_limits',
];

function isolationSuite(getDb: () => Database) {
  it('a tenant sees only its own rows in every tenant-scoped table', async () => {
    for (const table of TENANT_TABLES) {
      const tenants = await getDb().withTenant('tenant-a', (tx) =>
        tx.query<{ tenant_id: string }>(`SELECT DISTINCT tenant_id FROM ${table}`),
      );
      expect(
        tenants.rows.map((r) => r.tenant_id),
        table,
      ).toEqual(['tenant-a']);
    }
  });

  it('the service and operator roles see every tenant', async () => {
    for (const run of [getDb().withService.bind(getDb()), getDb().withOperator.bind(getDb())]) {
      const { rows } = await run((tx) =>
        tx.query<{ n: number }>(`SELECT count(DISTINCT tenant_id)::int AS n FROM telemetry`),
      );
      expect(rows[0]!.n).toBe(2);
    }
  });

  it('a tenant cannot write rows for another tenant', async () => {
    await expect(
      getDb().withTenant('tenant-a', (tx) =>
        tx.query(
          `INSERT INTO alert_rules (tenant_id, name, metric_name, operator, threshold) VALUES ('tenant-b', 'x', 'm', 'GT', 1)`,
        ),
      ),
    ).rejects.toThrow(/row-level security/);
  });

  it("a tenant cannot update or delete another tenant's rows, even by id", async () => {
    const other = await getDb().withService((tx) =>
      tx.query<{ id: number }>(`SELECT id FROM alert_rules WHERE tenant_id = 'tenant-b'`),
    );
    const id = other.rows[0]!.id;
    const touched = await getDb().withTenant('tenant-a', async (tx) => {
      const updated = await tx.query(`UPDATE alert_rules SET name = 'hijacked' WHERE id = $1`, [id]);
      const deleted = await tx.query(`DELETE FROM alert_rules WHERE id = $1`, [id]);
      return [updated.rowCount, deleted.rowCount];
    });
    expect(touched).toEqual([0, 0]);
    const still = await getDb().withService((tx) =>
      tx.query<{ name: string }>(`SELECT name FROM alert_rules WHERE id = $1`, [id]),
    );
    expect(still.rows[0]!.name).toBe('r');
  });

  it('an unknown tenant sees nothing, and the tenant setting does not outlive its transaction', async () => {
    const { rows } = await getDb().withTenant('nobody', (tx) => tx.query(`SELECT * FROM telemetry`));
    expect(rows).toEqual([]);
    const setting = await getDb().withOperator((tx) =>
      tx.query<{ t: string | null }>(`SELECT current_setting('app.tenant_id', true) AS t`),
    );
    expect(setting.rows[0]!.t ?? '').toBe('');
  });

  it('refuses an empty tenant id instead of running unscoped', async () => {
    await expect(getDb().withTenant('', async () => 1)).rejects.toThrow('withTenant needs a non-empty tenant id');
  });

  it('customers cannot write telemetry or read operator tables', async () => {
    await expect(
      getDb().withTenant('tenant-a', (tx) =>
        tx.query(`INSERT INTO telemetry (time, tenant_id, device_id) VALUES (now(), 'tenant-a', 'x')`),
      ),
    ).rejects.toThrow(/permission denied/);
    await expect(getDb().withTenant('tenant-a', (tx) => tx.query(`SELECT * FROM operator_audit_log`))).rejects.toThrow(
      /permission denied/,
    );
    await expect(getDb().withTenant('tenant-a', (tx) => tx.query(`SELECT * FROM app_settings`))).rejects.toThrow(
      /permission denied/,
    );
  });

  it('rolls back everything a failed transaction did', async () => {
    await expect(
      getDb().withService(async (tx) => {
        await tx.query(`INSERT INTO rate_limits (tenant_id, action) VALUES ('tenant-a', 'rolled-back')`);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const { rows } = await getDb().withService((tx) =>
      tx.query(`SELECT 1 FROM rate_limits WHERE action = 'rolled-back'`),
    );
    expect(rows).toEqual([]);
  });
}

describe.each(ENGINES)('tenant isolation on %s', (engine) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
    await seedTenant(database.db, 'tenant-a');
    await seedTenant(database.db, 'tenant-b');
  });
  afterAll(() => database?.drop());
  isolationSuite(() => database.db);
});

describe('PostgreSQL through a non-superuser login role that owns the database', () => {
  const login = uniqueName('pulse_test_login');
  const name = uniqueName('pulse_test_owned');
  let connection: Connection;
  let db: Database;

  beforeAll(async () => {
    // One-time production setup (deploy/postgres/setup.sql): roles exist, the login role may use them and
    // owns the database. Everything after this runs without a superuser.
    const bootstrap = await createTestDatabase('postgres'); // ensures the pulse_* roles exist in the cluster
    await bootstrap.drop();
    await asSuperuser(async (client) => {
      await client.query(`CREATE ROLE ${login} LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS`);
      await client.query(`GRANT pulse_app, pulse_operator, pulse_service TO ${login}`);
      await client.query(`CREATE DATABASE ${name} OWNER ${login}`);
    });
    connection = await connect({ databaseUrl: urlFor(name, login), dataDir: 'memory://' });
    const { applied } = await migrate(connection);
    expect(applied.length).toBeGreaterThan(0);
    db = createDatabase(connection);
    await seedTenant(db, 'tenant-a');
    await seedTenant(db, 'tenant-b');
  });

  afterAll(async () => {
    await connection?.close();
    await dropDatabase(name);
    await asSuperuser((client) => client.query(`DROP ROLE IF EXISTS ${login}`));
  });

  it('runs as a login role that is neither superuser nor BYPASSRLS', async () => {
    const { rows } = await connection.pool.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
      `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`,
    );
    expect(rows[0]).toEqual({ rolsuper: false, rolbypassrls: false });
  });

  it('the owning login role itself sees no tenant rows without a role (forced RLS fails closed)', async () => {
    for (const table of TENANT_TABLES) {
      const { rows } = await connection.pool.query(`SELECT * FROM ${table}`);
      expect(rows, table).toEqual([]);
    }
  });

  isolationSuite(() => db);

  it('creates telemetry partitions through the service role', async () => {
    const { rows } = await db.withService((tx) =>
      tx.query<{ created: boolean }>(
        `SELECT telemetry_ensure_partition((now() + interval '20 days')::date) AS created`,
      ),
    );
    expect(rows[0]!.created).toBe(true);
  });
});
