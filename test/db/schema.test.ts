// The schema: the original's tables and columns, roles, forced RLS, idempotent migrations, and the same schema
// on PGlite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, MigrationError, pendingMigrations } from '../../src/db/migrate.js';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/databases.js';

const ORIGINAL_COLUMNS: Record<string, string[]> = {
  tenants: [
    'tenant_id',
    'name',
    'status',
    'contact_email',
    'contact_name',
    'metadata',
    'created_at',
    'updated_at',
    'deleted_at',
  ],
  device_registry: [
    'tenant_id',
    'device_id',
    'site_id',
    'status',
    'provision_token_hash',
    'provisioned_at',
    'created_at',
    'updated_at',
    'device_pubkey',
    'fw_version',
    'metadata',
  ],
  device_activation: [
    'tenant_id',
    'device_id',
    'activation_code_hash',
    'site_id',
    'expires_at',
    'used_at',
    'created_at',
  ],
  device_token_history: ['tenant_id', 'device_id', 'token_hash', 'created_at', 'revoked_at', 'reason'],
  telemetry: ['time', 'tenant_id', 'device_id', 'site_id', 'msg_type', 'seq', 'metrics'],
  quarantine_events: [
    'id',
    'ingested_at',
    'event_ts',
    'topic',
    'tenant_id',
    'site_id',
    'device_id',
    'msg_type',
    'reason',
    'payload',
  ],
  quarantine_counters_minute: ['bucket_minute', 'tenant_id', 'reason', 'cnt'],
  app_settings: ['key', 'value', 'updated_at'],
  device_state: [
    'tenant_id',
    'site_id',
    'device_id',
    'status',
    'last_heartbeat_at',
    'last_telemetry_at',
    'last_seen_at',
    'last_state_change_at',
    'state',
  ],
  fleet_alert: [
    'id',
    'created_at',
    'closed_at',
    'tenant_id',
    'site_id',
    'device_id',
    'alert_type',
    'fingerprint',
    'status',
    'severity',
    'confidence',
    'summary',
    'details',
  ],
  alert_rules: [
    'id',
    'tenant_id',
    'rule_id',
    'name',
    'description',
    'enabled',
    'metric_name',
    'operator',
    'threshold',
    'severity',
    'site_ids',
    'created_at',
    'updated_at',
    'duration_seconds',
    'hysteresis',
  ],
  integrations: [
    'tenant_id',
    'integration_id',
    'name',
    'type',
    'enabled',
    'config_json',
    'created_at',
    'updated_at',
    'snmp_config',
    'snmp_host',
    'snmp_port',
    'snmp_oid_prefix',
    'email_config',
    'email_recipients',
    'email_template',
    'mqtt_topic',
    'mqtt_qos',
    'mqtt_retain',
    'mqtt_config',
  ],
  integration_routes: [
    'tenant_id',
    'route_id',
    'integration_id',
    'name',
    'enabled',
    'min_severity',
    'alert_types',
    'severities',
    'site_ids',
    'device_prefixes',
    'deliver_on',
    'priority',
    'created_at',
    'updated_at',
  ],
  delivery_jobs: [
    'job_id',
    'tenant_id',
    'alert_id',
    'integration_id',
    'route_id',
    'deliver_on_event',
    'status',
    'attempts',
    'next_run_at',
    'last_error',
    'payload_json',
    'created_at',
    'updated_at',
  ],
  delivery_attempts: [
    'attempt_id',
    'tenant_id',
    'job_id',
    'attempt_no',
    'ok',
    'http_status',
    'latency_ms',
    'error',
    'started_at',
    'finished_at',
  ],
  operator_audit_log: [
    'id',
    'user_id',
    'action',
    'tenant_filter',
    'resource_type',
    'resource_id',
    'ip_address',
    'user_agent',
    'created_at',
    'rls_bypassed',
  ],
  rate_limits: ['id', 'tenant_id', 'action', 'created_at'],
};

const TENANT_SCOPED = Object.keys(ORIGINAL_COLUMNS).filter((t) => !['app_settings', 'operator_audit_log'].includes(t));

/** A comparable description of the schema: columns with types, indexes, policies, RLS flags. */
async function describeSchema(database: TestDatabase) {
  const client = await database.connection.pool.connect();
  try {
    const columns = await client.query(
      `SELECT table_name, column_name, data_type, is_nullable, column_default
       FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE 'telemetry_p%'
       ORDER BY table_name, column_name`,
    );
    const indexes = await client.query(
      `SELECT tablename, indexname, indexdef FROM pg_indexes
       WHERE schemaname = 'public' AND tablename NOT LIKE 'telemetry_p%' AND tablename <> 'telemetry_default'
       ORDER BY indexname`,
    );
    const policies = await client.query(
      `SELECT tablename, policyname, roles::text, cmd, qual, with_check FROM pg_policies ORDER BY tablename, policyname`,
    );
    const rls = await client.query(
      `SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
       WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND relname NOT LIKE 'telemetry_p%'
       ORDER BY relname`,
    );
    return { columns: columns.rows, indexes: indexes.rows, policies: policies.rows, rls: rls.rows };
  } finally {
    client.release();
  }
}

const schemas: Record<string, Awaited<ReturnType<typeof describeSchema>>> = {};

describe.each(ENGINES)('schema on %s', (engine) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterAll(() => database?.drop());

  it('has every table of the original with its column names (docs/wire-contract.md#database)', async () => {
    const schema = await describeSchema(database);
    schemas[engine] = schema;
    for (const [table, expected] of Object.entries(ORIGINAL_COLUMNS)) {
      const actual = schema.columns.filter((c) => c.table_name === table).map((c) => c.column_name);
      expect(actual, table).toEqual(expect.arrayContaining(expected));
    }
  });

  it('stores JSON columns as jsonb and reads them back as objects', async () => {
    const schema = await describeSchema(database);
    const jsonColumns = schema.columns.filter(
      (c) =>
        ['metadata', 'metrics', 'payload', 'state', 'details', 'config_json', 'payload_json'].includes(c.column_name) &&
        // The state of an integration's health, a command, a job or its execution is a word, not a document.
        !(
          ['integration_health', 'device_commands', 'job_executions', 'jobs'].includes(c.table_name) &&
          c.column_name === 'state'
        ),
    );
    expect(jsonColumns.length).toBeGreaterThan(8);
    for (const column of jsonColumns)
      expect(column.data_type, `${column.table_name}.${column.column_name}`).toBe('jsonb');
    const metadata = await database.db.withService(async (tx) => {
      await tx.query(`INSERT INTO tenants (tenant_id, name, metadata) VALUES ('json-t', 'J', $1)`, [
        JSON.stringify({ plan: 'gold', sites: [1, 2] }),
      ]);
      return (await tx.query<{ metadata: unknown }>(`SELECT metadata FROM tenants WHERE tenant_id = 'json-t'`)).rows[0]!
        .metadata;
    });
    expect(metadata).toEqual({ plan: 'gold', sites: [1, 2] });
  });

  it('creates pulse_app without and pulse_operator / pulse_service with BYPASSRLS', async () => {
    const { rows } = await database.connection.pool.query<{
      rolname: string;
      rolbypassrls: boolean;
      rolcanlogin: boolean;
    }>(`SELECT rolname, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname LIKE 'pulse\\_%' ORDER BY rolname`);
    expect(rows).toEqual(
      expect.arrayContaining([
        { rolname: 'pulse_app', rolbypassrls: false, rolcanlogin: false },
        { rolname: 'pulse_operator', rolbypassrls: true, rolcanlogin: false },
        { rolname: 'pulse_service', rolbypassrls: true, rolcanlogin: false },
      ]),
    );
  });

  it('enables and forces row-level security with a tenant policy on every tenant-scoped table', async () => {
    const schema = await describeSchema(database);
    for (const table of TENANT_SCOPED) {
      expect(
        schema.rls.find((r) => r.relname === table),
        table,
      ).toMatchObject({
        relrowsecurity: true,
        relforcerowsecurity: true,
      });
      const policy = schema.policies.find((p) => p.tablename === table);
      expect(policy?.roles, table).toBe('{pulse_app}');
      expect(policy?.qual, table).toContain("current_setting('app.tenant_id'::text, true)");
    }
  });

  it('keeps at most one active alert per tenant and fingerprint', async () => {
    const insert = `INSERT INTO fleet_alert (tenant_id, site_id, device_id, alert_type, fingerprint, summary)
                    VALUES ('t-uq', 's', 'd', 'NO_HEARTBEAT', 'NO_HEARTBEAT:d', 'x')`;
    await database.db.withService((tx) => tx.query(insert));
    await expect(database.db.withService((tx) => tx.query(insert))).rejects.toThrow(/idx_fleet_alert_open_uq/);
    await database.db.withService((tx) =>
      tx.query(`UPDATE fleet_alert SET status = 'CLOSED' WHERE tenant_id = 't-uq'`),
    );
    await database.db.withService((tx) => tx.query(insert));
  });

  it('pulse_analyze refreshes statistics of Pulse tables only', async () => {
    await database.db.withService((tx) => tx.query(`SELECT pulse_analyze(ARRAY['device_registry', 'telemetry'])`));
    await expect(database.db.withService((tx) => tx.query(`SELECT pulse_analyze(ARRAY['pg_class'])`))).rejects.toThrow(
      'pulse_analyze: pg_class is not a table of this schema',
    );
  });

  it('migrates idempotently: a second run applies nothing', async () => {
    const again = await migrate(database.connection);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toBe(loadMigrations().length);
    expect(await pendingMigrations(database.connection)).toEqual([]);
  });

  it('refuses to run when an applied migration was edited', async () => {
    const edited = loadMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'different' } : m));
    await expect(migrate(database.connection, edited)).rejects.toThrow(MigrationError);
    await expect(migrate(database.connection, edited)).rejects.toThrow(/001_roles was changed after it was applied/);
  });
});

describe('the two engines', () => {
  it('build the same schema', () => {
    expect(schemas.pglite).toBeDefined();
    expect(schemas.postgres).toBeDefined();
    expect(schemas.pglite!.columns).toEqual(schemas.postgres!.columns);
    expect(schemas.pglite!.indexes).toEqual(schemas.postgres!.indexes);
    expect(schemas.pglite!.policies).toEqual(schemas.postgres!.policies);
    expect(schemas.pglite!.rls).toEqual(schemas.postgres!.rls);
  });
});
