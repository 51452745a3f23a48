// `pulse import original` against an original deployment's database built from the original's own
// migrations and demo seed (test/fixtures/original): dry run, import, a second run, refusals; then Pulse
// started on the imported database — devices publish over MQTT with the tokens they always had, and the
// alerts that came over open are not notified again.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../src/lib/secrets.js';
import { Allowlist } from '../../src/lib/ssrf.js';
import { importOriginal } from '../../src/import/original.js';
import { BASE_ENV, forCalls, run } from '../helpers/cli.js';
import { adminUrl, createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { createOriginalDatabase, type OriginalDatabase } from '../helpers/original.js';
import { deliveriesSettled, pollNow, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { waitFor } from '../helpers/wait.js';

const SECRETS_KEY = randomBytes(32).toString('hex');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const SINCE = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
/** Rows of the original's seed (two tenants × 15 devices × 96 half-hours × telemetry and heartbeat). */
const SEEDED_TELEMETRY = 2 * 15 * 96 * 2;

/** Receivers for integrations that are never meant to be reached. */
const NOWHERE = { webhookUrl: 'http://127.0.0.1:9/hook', snmpPort: 1162, smtpPort: 2525 };

/** A real import of an original's rows since SINCE into Pulse, sealing with `key`. */
const importOptions = (from: string, batchSize: number, key: Buffer) => ({
  from,
  dryRun: false,
  telemetrySince: SINCE,
  batchSize,
  destinations: { allowlist: new Allowlist(['127.0.0.1']), requireHttps: false },
  secrets: createSecretBox(key),
});

/** Every table the import writes, as one digest each: equal digests, nothing changed. */
async function digests(pulse: TestDatabase) {
  const tables = [
    'tenants',
    'device_registry',
    'device_state',
    'alert_rules',
    'integrations',
    'integration_routes',
    'fleet_alert',
    'alert_events',
    'telemetry',
    'telemetry_rollup_1h',
    'delivery_jobs',
    'imported_alerts',
    'imported_telemetry',
  ];
  const result: Record<string, string> = {};
  for (const table of tables) {
    const { rows } = await pulse.connection.pool.query<{ digest: string }>(
      `SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS digest FROM ${table} t`,
    );
    result[table] = rows[0]!.digest;
  }
  return result;
}

describe('pulse import original (PostgreSQL)', { timeout: forCalls(6) }, () => {
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let original: OriginalDatabase;
  let pulse: TestDatabase;
  const importer = (...args: string[]) =>
    run(['import', 'original', ...args], {
      ...BASE_ENV,
      DATABASE_URL: pulse.url!,
      SECRETS_KEY,
      SSRF_ALLOWLIST: '127.0.0.1',
    });
  const query = async <T = any>(sql: string, params: unknown[] = []) =>
    (await pulse.connection.pool.query(sql, params)).rows as T[];

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    original = await createOriginalDatabase('305eab4', {
      webhookUrl: `${receiver.url}/hook`,
      snmpPort: 1162,
      smtpPort: 2525,
    });
    pulse = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    await pulse?.drop();
    await original?.drop();
    await receiver?.close();
  });

  it('a dry run lists what it would import and every row it refuses, with the reason, and changes nothing', async () => {
    const before = await digests(pulse);
    const result = await importer('--from', original.url, '--dry-run', '--telemetry-since', SINCE);
    expect(result.code, result.stderr).toBe(0);
    const out = result.stdout;
    expect(out).toContain('dry run:');
    expect(out).toContain('migration 025 or later');
    expect(out).toMatch(
      /tenant tenant-a: would import 1 tenant, 15 devices, 15 device states, 5 rules, 4 integrations, 2 routes, 4 alerts; already in Pulse 0; refused 0/,
    );
    expect(out).toMatch(
      /tenant tenant-b: would import 1 tenant, 15 devices, 15 device states, 5 rules, .*5 alerts; .*refused 6/,
    );
    expect(out).toContain('telemetry: would import 2,880 rows');
    expect(out).toContain('refused 1 rows of devices not imported');
    expect(out).toContain("refused device bad device: device_id must be 1-128 characters, none of '/'");
    expect(out).toContain('refused device legacy-sensor-01: provision_token_hash is not SHA-256 hex');
    expect(out).toContain('refused rule legacy-anomaly-rule: no metric_name');
    expect(out).toContain('refused integration b0000000-0000-4000-8000-000000000001: Invalid webhook URL');
    expect(out).toContain(
      'refused integration b0000000-0000-4000-8000-000000000002: Invalid MQTT topic: Topic must start with alerts/tenant-b/',
    );
    expect(out).toContain('refused route b1000000-0000-4000-8000-000000000001: its integration');
    expect(await digests(pulse)).toEqual(before);
  });

  it('imports tenants, devices with their token hashes, rules, sealed integrations, routes, state, open alerts and telemetry', async () => {
    const result = await importer('--from', original.url, '--telemetry-since', SINCE, '--batch-size', '1000');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('2,880/2,880 rows  tenant-b');
    expect(result.stdout).toMatch(
      /rollups rebuilt from \d{4}-\d{2}-\d{2}: \d+ day\(s\), 2,880 messages|rollups rebuilt/,
    );

    const tenants = await query('SELECT tenant_id, name, contact_email FROM tenants ORDER BY tenant_id');
    expect(tenants).toEqual([
      { tenant_id: 'tenant-a', name: 'Tenant A Logistics', contact_email: 'ops@tenant-a.example.com' },
      { tenant_id: 'tenant-b', name: 'tenant-b', contact_email: null },
    ]);
    const [device] = await query(
      `SELECT site_id, status, provision_token_hash, fw_version, metadata FROM device_registry
       WHERE tenant_id = 'tenant-a' AND device_id = 'warehouse-east-sensor-01'`,
    );
    expect(device).toMatchObject({
      site_id: 'warehouse-east',
      status: 'ACTIVE',
      metadata: { installed: '2024-01-15' },
    });
    expect(device.provision_token_hash).toBe(sha256('tok-warehouse-east-sensor-01'));
    expect(device.fw_version).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await query(`SELECT count(*)::int AS n FROM device_registry`))[0].n).toBe(30);
    expect((await query(`SELECT count(*)::int AS n FROM device_state WHERE status = 'STALE'`))[0].n).toBe(4);
    expect(
      await query(
        `SELECT operator, threshold, severity FROM alert_rules WHERE tenant_id = 'tenant-a' AND name = 'Weak Signal'`,
      ),
    ).toEqual([{ operator: 'LT', threshold: -85, severity: 4 }]);

    // Secrets sealed: nowhere in clear, and opened with the key they were sealed with.
    const integrations = await query(`SELECT i.*, row_to_json(i)::text AS text FROM integrations i ORDER BY name`);
    expect(integrations.map((i) => i.name)).toEqual(['Alert topic', 'NOC traps', 'On-call mail', 'Ops webhook']);
    for (const secret of ['original-webhook-secret', 'original-community', 'original-smtp-password']) {
      expect(integrations.every((i) => !i.text.includes(secret))).toBe(true);
    }
    const box = createSecretBox(Buffer.from(SECRETS_KEY, 'hex'));
    const webhook = integrations.find((i) => i.type === 'webhook')!;
    expect(box.open(webhook.secrets).headers).toEqual({ Authorization: 'Bearer original-webhook-secret' });
    expect(box.open(integrations.find((i) => i.type === 'snmp')!.secrets).community).toBe('original-community');

    const routes = await query(
      `SELECT route_id, deliver_on, min_severity, backfill_pending FROM integration_routes ORDER BY priority`,
    );
    expect(routes).toEqual([
      {
        route_id: 'a1000000-0000-4000-8000-000000000001',
        deliver_on: ['OPEN', 'CLOSED'],
        min_severity: null,
        backfill_pending: false,
      },
      {
        route_id: 'a1000000-0000-4000-8000-000000000002',
        deliver_on: ['OPEN'],
        min_severity: 3,
        backfill_pending: false,
      },
    ]);

    const alerts = await query(`SELECT status, count(*)::int AS n FROM fleet_alert GROUP BY status ORDER BY status`);
    expect(alerts).toEqual([
      { status: 'ACKNOWLEDGED', n: 1 },
      { status: 'OPEN', n: 8 },
    ]);
    const [threshold] = await query(
      `SELECT a.fingerprint, r.rule_id FROM fleet_alert a JOIN alert_rules r ON a.fingerprint LIKE 'RULE:' || r.rule_id || ':%'
       WHERE a.device_id = 'warehouse-west-sensor-01'`,
    );
    expect(threshold.fingerprint).toBe(`RULE:${threshold.rule_id}:warehouse-west-sensor-01`);

    expect((await query(`SELECT count(*)::int AS n FROM telemetry`))[0].n).toBe(SEEDED_TELEMETRY);
    const [rollups] = await query(`SELECT sum(count)::int AS n FROM telemetry_rollup_1h WHERE metric = 'battery_pct'`);
    expect(rollups.n).toBe(2 * 15 * 96);
    expect((await query(`SELECT count(*)::int AS n FROM delivery_jobs`))[0].n).toBe(0);
  });

  it('a second run changes nothing', async () => {
    const before = await digests(pulse);
    const result = await importer('--from', original.url, '--telemetry-since', SINCE);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('nothing to import: Pulse already has everything this import brings');
    expect(result.stdout).toMatch(/tenant tenant-a: imported 0 tenants, 0 devices.*already in Pulse 46; refused 0/);
    expect(await digests(pulse)).toEqual(before);
  });

  it('refuses a database that is not an original deployment, saying why', async () => {
    const pulseAsSource = await importer('--from', pulse.url!, '--dry-run');
    expect(pulseAsSource.code).toBe(2);
    expect(pulseAsSource.stderr).toContain('cannot be imported: it is a Pulse database, not an OpsConductor-Pulse one');
    const empty = await importer('--from', adminUrl, '--dry-run');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain(
      'cannot be imported: it is not an OpsConductor-Pulse database: no device_registry, device_state, fleet_alert, alert_rules tables',
    );
  });

  describe('Pulse started on the imported database', () => {
    let platform: TestPlatform;
    beforeAll(async () => {
      platform = await startTestPlatform(
        'postgres',
        {
          DATABASE_URL: pulse.url!,
          SECRETS_KEY,
          SSRF_ALLOWLIST: '127.0.0.1',
          WORKER_POLL_SECONDS: '1',
          RENOTIFY_CHECK_SECONDS: '1',
        },
        // No evaluator: whatever it decides about the imported devices would be new events, not re-sends.
        ['api', 'ingest', 'dispatcher', 'delivery'],
        { embeddedBroker: true },
      );
    });
    afterAll(async () => {
      await platform?.close();
    });

    it("a device publishes the original simulator's messages with the token it always had, and they are stored", async () => {
      const client = await mqtt.connectAsync(platform.mqttUrl!, {
        clientId: `import-test-${randomBytes(4).toString('hex')}`,
      });
      try {
        const device = 'warehouse-east-sensor-01';
        const message = (msgType: string, seq: number, token: string) => ({
          ts: new Date().toISOString(),
          tenant_id: 'tenant-a',
          site_id: 'warehouse-east',
          device_id: device,
          msg_type: msgType,
          seq,
          provision_token: token,
          ...(msgType === 'telemetry' && {
            metrics: { battery_pct: 81.5, temp_c: 22.4, rssi_dbm: -70, snr_db: 5.2, uplink_ok: true },
          }),
        });
        const topic = (msgType: string) => `tenant/tenant-a/device/${device}/${msgType}`;
        await client.publishAsync(topic('heartbeat'), JSON.stringify(message('heartbeat', 4242, `tok-${device}`)), {
          qos: 0,
        });
        await client.publishAsync(topic('telemetry'), JSON.stringify(message('telemetry', 4242, `tok-${device}`)), {
          qos: 0,
        });
        await client.publishAsync(topic('telemetry'), JSON.stringify(message('telemetry', 4243, 'tok-not-its-token')), {
          qos: 0,
        });
        const stored = async () =>
          query(
            `SELECT msg_type, metrics FROM telemetry WHERE device_id = $1 AND seq IN (4242, 4243) ORDER BY msg_type`,
            [device],
          );
        await waitFor(async () => (await stored()).length === 2, 10_000);
        const rows = await stored();
        expect(rows.map((row) => row.msg_type)).toEqual(['heartbeat', 'telemetry']);
        expect(rows[1].metrics).toMatchObject({ battery_pct: 81.5, uplink_ok: true });
        await waitFor(
          async () =>
            (await query(`SELECT 1 FROM quarantine_events WHERE device_id = $1 AND reason = 'TOKEN_INVALID'`, [device]))
              .length === 1,
          10_000,
        );
      } finally {
        await client.endAsync();
      }
    });

    it('the open alerts that came over are not notified again; a new alert is', async () => {
      // The dispatcher looked back over ALERT_LOOKBACK_MINUTES at start and follows up every second.
      await pollNow(platform, 'dispatcher');
      expect((await query(`SELECT count(*)::int AS n FROM delivery_jobs`))[0].n).toBe(0);
      expect(receiver.received).toHaveLength(0);

      // A new alert on an imported device is notified, through the imported route and sealed header.
      const [alert] = await query(
        `INSERT INTO fleet_alert (tenant_id, site_id, device_id, alert_type, fingerprint, severity, summary)
         VALUES ('tenant-a', 'warehouse-east', 'warehouse-east-sensor-01', 'NO_HEARTBEAT',
                 'NO_HEARTBEAT:warehouse-east-sensor-01', 4, 'new in Pulse') RETURNING id`,
      );
      platform.deps.bus.publish('alert.changed', {
        event: 'OPENED',
        alert_id: Number(alert.id),
        tenant_id: 'tenant-a',
        fingerprint: 'NO_HEARTBEAT:warehouse-east-sensor-01',
      });
      await waitFor(() => receiver.received.length === 1, 10_000);
      expect(receiver.received[0]!.headers.authorization).toBe('Bearer original-webhook-secret');
      expect(receiver.received[0]!.json).toMatchObject({ device_id: 'warehouse-east-sensor-01', status: 'OPEN' });
      await pollNow(platform, 'dispatcher');
      await deliveriesSettled(platform);
      expect(receiver.received).toHaveLength(1);

      // An imported alert closing in Pulse: the original sent its OPEN, so its CLOSED goes out.
      const [imported] = await query(
        `SELECT f.id, f.fingerprint FROM imported_alerts i JOIN fleet_alert f ON f.id = i.alert_id
         WHERE i.tenant_id = 'tenant-a' AND f.status = 'OPEN' ORDER BY f.id LIMIT 1`,
      );
      await query(`UPDATE fleet_alert SET status = 'CLOSED', closed_at = now() WHERE id = $1`, [imported.id]);
      platform.deps.bus.publish('alert.changed', {
        event: 'CLOSED',
        alert_id: Number(imported.id),
        tenant_id: 'tenant-a',
        fingerprint: imported.fingerprint,
      });
      await waitFor(() => receiver.received.length === 2, 10_000);
      expect(receiver.received[1]!.json).toMatchObject({ alert_id: Number(imported.id), status: 'CLOSED' });
    });
  });
});

describe('pulse import original of a later migration level, interrupted and resumed', { timeout: 60_000 }, () => {
  let original: OriginalDatabase;
  let pulse: TestDatabase;
  beforeAll(async () => {
    original = await createOriginalDatabase('later', NOWHERE);
    pulse = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    await pulse?.drop();
    await original?.drop();
  });

  it('reads symbols, severities and acknowledgements of later levels; telemetry resumes after the last batch', async () => {
    const options = importOptions(original.url, 500, randomBytes(32));
    let batches = 0;
    await expect(
      importOriginal(pulse.db, {
        ...options,
        onProgress: () => {
          batches += 1;
          if (batches === 3) throw new Error('interrupted');
        },
      }),
    ).rejects.toThrow('interrupted');
    const rows = async () => (await pulse.connection.pool.query(`SELECT count(*)::int AS n FROM telemetry`)).rows[0].n;
    expect(await rows()).toBeGreaterThanOrEqual(1500);
    expect(await rows()).toBeLessThan(SEEDED_TELEMETRY);

    const report = await importOriginal(pulse.db, options);
    expect(report.level).toBe('migration 058 or later');
    expect(await rows()).toBe(SEEDED_TELEMETRY);
    const { rows: duplicates } = await pulse.connection.pool.query(
      `SELECT device_id, time, msg_type FROM telemetry GROUP BY 1, 2, 3 HAVING count(*) > 1`,
    );
    expect(duplicates).toEqual([]);
    const { rows: rules } = await pulse.connection.pool.query(
      `SELECT operator, count(*)::int AS n FROM alert_rules GROUP BY operator ORDER BY operator`,
    );
    expect(rules).toEqual([
      { operator: 'GT', n: 2 },
      { operator: 'LT', n: 8 },
    ]);
    const { rows: acknowledged } = await pulse.connection.pool.query(
      `SELECT status, acknowledged_at IS NOT NULL AS has_time FROM fleet_alert WHERE status = 'ACKNOWLEDGED'`,
    );
    expect(acknowledged).toEqual([{ status: 'ACKNOWLEDGED', has_time: true }]);
  });
});

describe("the original's own device simulator, unchanged, against Pulse after the import", { timeout: 180_000 }, () => {
  const PER_SITE = '2'; // 2 tenants × 3 sites × 2 = 12 devices
  let original: OriginalDatabase;
  let pulse: TestDatabase;
  let platform: TestPlatform;
  const simulators: ChildProcess[] = [];
  /** test/fixtures/original/device_simulator.py as its users run it; its output, as it goes. */
  const simulate = (ingestUrl: string) => {
    const source = new URL(original.url);
    const child = spawn('/usr/bin/python3', ['test/fixtures/original/device_simulator.py'], {
      env: {
        PATH: process.env.PATH ?? '',
        PYTHONUNBUFFERED: '1',
        INGEST_URL: ingestUrl,
        NUM_DEVICES_PER_TENANT: PER_SITE,
        TELEMETRY_INTERVAL: '2',
        HEARTBEAT_INTERVAL: '2',
        PG_HOST: source.hostname,
        PG_PORT: source.port || '5432',
        PG_DB: source.pathname.slice(1),
        PG_USER: decodeURIComponent(source.username) || 'postgres',
        PG_PASS: decodeURIComponent(source.password),
      },
    });
    simulators.push(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return { output: () => output, child };
  };

  beforeAll(async () => {
    original = await createOriginalDatabase('305eab4', NOWHERE);
    // On the original's deployment the simulator registers its devices (with the tokens it will send) in
    // the original's database; its traffic goes nowhere here.
    const registering = simulate('http://127.0.0.1:9');
    await waitFor(() => registering.output().includes('Registered 12 devices'), 60_000);
    registering.child.kill('SIGKILL');
    pulse = await createTestDatabase('postgres');
    await importOriginal(pulse.db, {
      from: original.url,
      dryRun: false,
      batchSize: 500,
      destinations: { allowlist: new Allowlist(['127.0.0.1']), requireHttps: false },
      secrets: createSecretBox(Buffer.from(SECRETS_KEY, 'hex')),
    });
    platform = await startTestPlatform('postgres', { DATABASE_URL: pulse.url!, SECRETS_KEY }, ['api', 'ingest']);
  });
  afterAll(async () => {
    for (const child of simulators) child.kill('SIGKILL');
    await platform?.close();
    await pulse?.drop();
    await original?.drop();
  });

  it('gets every message of the simulator pointed at Pulse stored, with the tokens it always had', async () => {
    const running = simulate(platform.base);
    const counts = async () =>
      (
        await pulse.connection.pool.query<{ device_id: string; telemetry: number; heartbeats: number }>(
          `SELECT device_id, count(*) FILTER (WHERE msg_type = 'telemetry')::int AS telemetry,
                  count(*) FILTER (WHERE msg_type = 'heartbeat')::int AS heartbeats
           FROM telemetry WHERE device_id LIKE '%-sim-%' GROUP BY device_id`,
        )
      ).rows;
    await waitFor(async () => {
      const rows = await counts();
      return rows.length === 12 && rows.every((row) => row.telemetry >= 2 && row.heartbeats >= 2);
    }, 90_000);
    running.child.kill('SIGKILL');
    // It logs every refusal it gets ("Telemetry failed …"): there was none, and Pulse quarantined nothing of it.
    expect(running.output()).not.toMatch(/failed|error/i);
    const { rows: rejected } = await pulse.connection.pool.query(
      `SELECT reason, count(*)::int AS n FROM quarantine_events WHERE device_id LIKE '%-sim-%' GROUP BY reason`,
    );
    expect(rejected).toEqual([]);
    const { rows: tenants } = await pulse.connection.pool.query(
      `SELECT DISTINCT tenant_id FROM telemetry WHERE device_id LIKE '%-sim-%' ORDER BY 1`,
    );
    expect(tenants.map((row) => row.tenant_id)).toEqual(['tenant-a', 'tenant-b']);
  });
});

describe('pulse import original into the embedded database (PGlite)', { timeout: 120_000 }, () => {
  let original: OriginalDatabase;
  let pulse: TestDatabase;
  beforeAll(async () => {
    original = await createOriginalDatabase('305eab4', NOWHERE);
    pulse = await createTestDatabase('pglite');
  });
  afterAll(async () => {
    await pulse?.drop();
    await original?.drop();
  });

  it('brings the same over as on PostgreSQL, telemetry and rollups included, and a second run changes nothing', async () => {
    const options = importOptions(original.url, 1000, Buffer.from(SECRETS_KEY, 'hex'));
    await importOriginal(pulse.db, options);
    const counts = () =>
      pulse.db.withService(async (tx) => {
        const one = async (sql: string) => (await tx.query<{ n: number }>(sql)).rows[0]!.n;
        return {
          devices: await one(`SELECT count(*)::int AS n FROM device_registry`),
          hashed: await one(
            `SELECT count(*)::int AS n FROM device_registry WHERE provision_token_hash = encode(sha256(('tok-' || device_id)::bytea), 'hex')`,
          ),
          alerts: await one(`SELECT count(*)::int AS n FROM fleet_alert WHERE status IN ('OPEN', 'ACKNOWLEDGED')`),
          telemetry: await one(`SELECT count(*)::int AS n FROM telemetry`),
          rollups: await one(`SELECT count(*)::int AS n FROM telemetry_rollup_1h`),
          jobs: await one(`SELECT count(*)::int AS n FROM delivery_jobs`),
        };
      });
    const first = await counts();
    expect(first.devices).toBe(30);
    expect(first.hashed).toBe(30);
    expect(first.alerts).toBeGreaterThan(0);
    expect(first.telemetry).toBe(SEEDED_TELEMETRY);
    expect(first.rollups).toBeGreaterThan(0);
    expect(first.jobs).toBe(0);
    await importOriginal(pulse.db, options);
    expect(await counts()).toEqual(first);
  });
});
