// The `pulse` program as a user runs it: separate processes, real PostgreSQL, the machine's Mosquitto.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/db/migrate.js';
import { BASE_ENV, CLI, deadline, forCalls, run, startUp, stopWithin } from '../helpers/cli.js';
import { asSuperuser, releaseDatabase, uniqueName, urlFor } from '../helpers/databases.js';
import { clearMqttSession } from '../helpers/platform.js';
import { UP_COMPONENTS } from '../helpers/fixtures.js';

describe('pulse CLI', () => {
  const databases: string[] = [];
  const newDatabase = async () => {
    const name = uniqueName('pulse_test_cli');
    await asSuperuser((client) => client.query(`CREATE DATABASE ${name}`));
    databases.push(name);
    return urlFor(name);
  };
  afterAll(async () => {
    for (const name of databases) await releaseDatabase(name);
  });

  it('stops on an invalid variable with one line naming it and what is allowed', async () => {
    const result = await run(['migrate'], { MODE: 'dev' });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('pulse: invalid configuration: MODE must be one of DEV, PROD (got "dev")');
  });

  it('`pulse migrate` builds the schema on an empty PostgreSQL database and is idempotent', async () => {
    const url = await newDatabase();
    const first = await run(['migrate'], { DATABASE_URL: url });
    expect(first.code, first.stderr).toBe(0);
    const count = loadMigrations().length;
    expect(first.stdout).toMatch(
      new RegExp(`applied ${count} migration\\(s\\) to .*: 001_roles, 002_tenants_and_devices`),
    );
    const second = await run(['migrate'], { DATABASE_URL: url });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`is up to date (${count} migrations applied earlier)`);
  });

  it(
    '`pulse device create|list|revoke` work over the same code as the API',
    async () => {
      const url = await newDatabase();
      const created = await run(
        ['device', 'create', '--tenant', 'acme', '--device', 'cli-1', '--site', 'lab', '--metadata', '{"k":1}'],
        {
          DATABASE_URL: url,
        },
      );
      expect(created.code, created.stderr).toBe(0);
      expect(JSON.parse(created.stdout)).toMatchObject({
        tenant_id: 'acme',
        device_id: 'cli-1',
        site_id: 'lab',
        created: true,
      });
      expect(JSON.parse(created.stdout).activation_code).toMatch(/^[A-Za-z0-9_-]{24}$/);

      const listed = await run(['device', 'list', '--tenant', 'acme'], { DATABASE_URL: url });
      // A plain table: a header, a rule, a line a device; no console.table box, index or quotes.
      const [header, , row] = listed.stdout.trim().split('\n');
      expect(header).toMatch(/^TENANT_ID\s+DEVICE_ID\s+SITE_ID\s+STATUS/);
      expect(row).toMatch(/^acme\s+cli-1\s+lab\s+ACTIVE/);
      expect(listed.stdout).not.toMatch(/[│┌']/);

      const revoked = await run(['device', 'revoke', 'acme', 'cli-1'], { DATABASE_URL: url });
      expect(revoked.stdout.trim()).toBe('revoked acme/cli-1');
      expect((await run(['device', 'list', '--status', 'REVOKED'], { DATABASE_URL: url })).stdout).toContain('cli-1');

      const missing = await run(['device', 'revoke', 'acme', 'ghost'], { DATABASE_URL: url });
      expect(missing.code).toBe(2);
      expect(missing.stderr.trim()).toBe('pulse: Device not found: acme/ghost');

      const bad = await run(['device', 'create', '--tenant', 'a/b', '--device', 'd', '--site', 's'], {
        DATABASE_URL: url,
      });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/tenant_id must be 1-128 characters/);
    },
    forCalls(6),
  );

  it(
    "`pulse export` writes a tenant's window to a file as the API streams it, and nothing of another tenant",
    async () => {
      const url = await newDatabase();
      expect((await run(['migrate'], { DATABASE_URL: url })).code).toBe(0);
      await asSuperuser(
        (client) =>
          client.query(
            `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
         SELECT timestamptz '2026-11-20T00:00:00Z' + i * interval '1 minute', t, 'd-' || (i % 3), 'lab', 'telemetry', i,
                jsonb_build_object('temp_c', i)
         FROM generate_series(1, 2500) AS i, (VALUES ('acme'), ('other')) AS tenants(t)`,
          ),
        url.split('/').pop(),
      );
      const dir = mkdtempSync(path.join(tmpdir(), 'pulse-export-'));
      try {
        const out = path.join(dir, 'acme.csv');
        const window = ['--start', '2026-11-20T00:00:00Z', '--end', '2026-11-22T00:00:00Z'];
        const result = await run(['export', '--tenant', 'acme', ...window, '--out', out], { DATABASE_URL: url });
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toContain(`wrote 2500 rows of acme`);
        const lines = readFileSync(out, 'utf8').split('\r\n').filter(Boolean);
        expect(lines[0]).toBe('time,device_id,site_id,msg_type,seq,temp_c');
        expect(lines).toHaveLength(2501);
        expect(lines[1]).toBe('2026-11-20T00:01:00.000+00:00,d-1,lab,telemetry,1,1');

        const one = path.join(dir, 'd-2.ndjson');
        const device = await run(
          ['export', '--tenant', 'acme', '--device', 'd-2', '--format', 'ndjson', ...window, '--out', one],
          { DATABASE_URL: url },
        );
        expect(device.code, device.stderr).toBe(0);
        const rows = readFileSync(one, 'utf8')
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line));
        expect(rows).toHaveLength(833);
        expect(new Set(rows.map((row) => row.device_id))).toEqual(new Set(['d-2']));

        const bad = await run(['export', '--tenant', 'acme', '--start', 'yesterday', '--out', out], {
          DATABASE_URL: url,
        });
        expect(bad.code).toBe(2);
        expect(bad.stderr).toContain('start must be an ISO-8601 instant');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    forCalls(4),
  );

  it(
    '`pulse rollup rebuild` recomputes the rollups from raw rows with a progress bar, and says what is wrong with a bad date',
    async () => {
      const url = await newDatabase();
      expect((await run(['migrate'], { DATABASE_URL: url })).code).toBe(0);
      const database = url.split('/').pop();
      await asSuperuser(
        (client) =>
          client.query(
            `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
             SELECT date_trunc('day', now()) - interval '1 day' + i * interval '1 minute', 'acme', 'd-' || (i % 3), 'lab',
                    'telemetry', i, jsonb_build_object('temp_c', i)
             FROM generate_series(0, 1439) AS i`,
          ),
        database,
      );
      const since = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      const result = await run(['rollup', 'rebuild', '--since', since], { DATABASE_URL: url });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/\[#+\] 2\/2 days/);
      expect(result.stdout).toContain(`rebuilt 2 day(s) from ${since}: 1440 messages rolled up`);
      const counted = await asSuperuser(
        (client) =>
          client.query<{ n: number }>(
            `SELECT sum(count)::int AS n FROM telemetry_fleet_1h WHERE tenant_id = 'acme' AND metric = 'temp_c'`,
          ),
        database,
      );
      expect(counted.rows[0]!.n).toBe(1440);
      // Again with the same date: nothing left to do.
      const again = await run(['rollup', 'rebuild', '--since', since], { DATABASE_URL: url });
      expect(again.stdout).toContain('rebuilt 0 day(s)');
      const bad = await run(['rollup', 'rebuild', '--since', 'last week'], { DATABASE_URL: url });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--since must be a date such as 2026-11-01');
    },
    forCalls(4),
  );

  it('`pulse run` refuses an unknown role, naming the ones there are', async () => {
    const result = await run(['run', 'provision', 'teleport'], {});
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'pulse: unknown role teleport (available: api, provision, delivery, dispatcher, evaluator, ingest)',
    );
  });

  it('`pulse run` without NATS_URL refuses, in one line, roles whose sources would run in another process', async () => {
    const result = await run(['run', 'evaluator'], {});
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^pulse: without NATS_URL .*evaluator needs stored messages from ingest/);
  });

  describe('`pulse up` against PostgreSQL and the machine’s Mosquitto', () => {
    const mqttClientId = uniqueName('pulse_test_cli');
    afterAll(() => clearMqttSession('mqtt://127.0.0.1:1883', mqttClientId));
    let url: string;
    let databaseUrl: string;
    let up: Awaited<ReturnType<typeof startUp>>;
    beforeAll(async () => {
      databaseUrl = await newDatabase();
      up = await startUp({
        DATABASE_URL: databaseUrl,
        MQTT_URL: 'mqtt://127.0.0.1:1883',
        MQTT_CLIENT_ID: mqttClientId,
        MQTT_SHARED_GROUP: mqttClientId,
        ADMIN_KEY: 'cli-test-admin-key-000',
      });
      url = up.url;
    });

    it('answers /health with every role ok', async () => {
      const health: any = await (await fetch(`${url}/health`)).json();
      expect(health.status).toBe('ok');
      expect(health.components.database).toMatchObject({ status: 'ok', engine: 'postgres' });
      expect(Object.keys(health.components)).toEqual(expect.arrayContaining(['api', 'provision']));
    });

    it('prints the URL, the broker in use and the admin key', () => {
      expect(up.output()).toContain('MQTT broker   mqtt://127.0.0.1:1883');
      expect(up.output()).toContain('admin key     cli-test-admin-key-000');
      expect(up.output()).toMatch(/database {6}PostgreSQL/);
    });

    it('serves the provisioning API', async () => {
      const response = await fetch(`${url}/api/admin/devices`, {
        headers: { 'x-admin-key': 'cli-test-admin-key-000' },
      });
      expect(response.status).toBe(200);
    });

    it('creates and prints a demo login per role in both demo tenants', () => {
      for (const login of [
        'tenant-a-admin',
        'tenant-a-viewer',
        'tenant-b-admin',
        'tenant-b-viewer',
        'operator-admin',
      ]) {
        expect(up.output()).toContain(login);
      }
      expect(up.output()).toContain('password pulse-demo');
    });

    it(
      '`pulse user` and `pulse token` give a script a token the running API accepts',
      async () => {
        const env = { DATABASE_URL: databaseUrl };
        const created = await run(
          [
            'user',
            'create',
            '--username',
            'script-bot',
            '--role',
            'customer_viewer',
            '--tenant',
            'acme',
            '--password',
            'long-enough-1',
          ],
          env,
        );
        expect(created.code, created.stderr).toBe(0);
        expect(created.stdout.trim()).toBe('created script-bot (customer_viewer of acme)');
        const duplicate = await run(
          ['user', 'create', '--username', 'script-bot', '--role', 'operator', '--password', 'long-enough-1'],
          env,
        );
        expect(duplicate).toMatchObject({ code: 2, stderr: 'pulse: User script-bot already exists\n' });
        const noTenant = await run(
          ['user', 'create', '--username', 'x', '--role', 'customer_admin', '--password', 'long-enough-1'],
          env,
        );
        expect(noTenant.stderr.trim()).toBe('pulse: role customer_admin needs a tenant');

        const token = await run(['token', 'script-bot'], env);
        expect(token.code, token.stderr).toBe(0);
        expect(token.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
        const devices = await fetch(`${url}/api/v2/devices`, {
          headers: { authorization: `Bearer ${token.stdout.trim()}` },
        });
        expect(devices.status).toBe(200);
        expect(((await devices.json()) as { tenant_id: string }).tenant_id).toBe('acme');

        expect((await run(['user', 'passwd', 'script-bot', '--password', 'another-one-2'], env)).code).toBe(0);
        expect((await run(['user', 'list'], env)).stdout).toContain('script-bot');
        expect((await run(['user', 'delete', 'script-bot'], env)).stdout.trim()).toBe('deleted script-bot');
        expect((await run(['token', 'script-bot'], env)).stderr.trim()).toBe('pulse: User script-bot not found');
      },
      forCalls(8),
    );

    it('stops cleanly on SIGTERM within 10 s', async () => {
      const { code, ms } = await stopWithin(up.child, 'SIGTERM');
      expect(code, up.output()).toBe(0);
      expect(ms).toBeLessThan(10_000);
    });
  });

  describe('`pulse up` on embedded defaults', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'pulse-up-'));
    afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

    it(
      'generates, stores, prints and reuses a DEV admin key; `pulse simulate` finds it; stops on SIGINT',
      async () => {
        const first = await startUp({ PULSE_DATA_DIR: dataDir });
        const key = readFileSync(path.join(dataDir, 'admin-key'), 'utf8').trim();
        expect(key).toMatch(/^[A-Za-z0-9_-]{32}$/);
        expect(first.output()).toContain(`admin key     ${key}`);
        expect(first.output()).toContain('embedded PGlite');
        expect(first.output()).toMatch(
          /MQTT broker {3}mqtt:\/\/127\.0\.0\.1:\d+ {3}\(this machine only; MQTT_HOST=0\.0\.0\.0/,
        );
        const health: any = await (await fetch(`${first.url}/health`)).json();
        expect(Object.keys(health.components).sort()).toEqual(UP_COMPONENTS);

        // `pulse simulate` in another process finds the running platform through the data dir.
        const simulator = spawn(process.execPath, [...CLI, 'simulate', '--devices', '3'], {
          env: { ...BASE_ENV, PULSE_DATA_DIR: dataDir },
        });
        let simulatorOutput = '';
        simulator.stdout.on('data', (chunk) => (simulatorOutput += chunk));
        simulator.stderr.on('data', (chunk) => (simulatorOutput += chunk));
        await expect.poll(() => simulatorOutput, { timeout: 20_000 }).toContain('simulating 3 devices over mqtt');
        const during: any = await (await fetch(`${first.url}/health`)).json();
        expect(during.components.provision).toMatchObject({ devices_registered: 3, activations: 3 });
        expect(during.components.broker.clients).toBeGreaterThanOrEqual(1);
        expect((await stopWithin(simulator, 'SIGINT')).code, simulatorOutput).toBe(0);
        expect((await stopWithin(first.child, 'SIGINT')).code, first.output()).toBe(0);
        expect(existsSync(path.join(dataDir, 'runtime.json'))).toBe(false);

        const second = await startUp({ PULSE_DATA_DIR: dataDir });
        expect(second.output()).toContain(`admin key     ${key}`);
        expect((await stopWithin(second.child, 'SIGTERM')).code, second.output()).toBe(0);
      },
      deadline({ ups: 2, calls: 1 }),
    );

    it(
      'has one owner: the CLI goes through the running Pulse, and CLI and API agree across a restart and kill -9',
      async () => {
        const env = { PULSE_DATA_DIR: dataDir };
        const pulse = (args: string[]) => run(args, env);
        let up = await startUp(env);
        const adminKey = readFileSync(path.join(dataDir, 'admin-key'), 'utf8').trim();
        const api = async (url: string, route: string) =>
          (await fetch(`${url}${route}`, { headers: { 'x-admin-key': adminKey } })).json() as Promise<any>;

        // A second owner is refused in one line; the CLI's commands run inside the running one.
        const second = await run(['up'], { ...env, PORT: '0', MQTT_PORT: '0' });
        expect(second.code).toBe(1);
        expect(second.stdout + second.stderr).toMatch(/is in use by Pulse \(pid \d+\): stop that process first/);
        const created = await pulse(['device', 'create', '--tenant', 'own', '--device', 'd1', '--site', 's']);
        expect(created.code, created.stderr).toBe(0);
        expect(JSON.parse(created.stdout).activation_code).toBeTruthy();
        expect((await api(up.url, '/api/admin/devices?tenant_id=own')).map((d: any) => d.device_id)).toEqual(['d1']);
        const users = [
          'user',
          'create',
          '--username',
          'own-op',
          '--role',
          'operator_admin',
          '--password',
          'secret-pw-1',
        ];
        expect((await pulse(users)).code).toBe(0);
        const token = (await pulse(['token', 'own-op'])).stdout.trim();
        const audit = await fetch(`${up.url}/operator/audit-log`, { headers: { authorization: `Bearer ${token}` } });
        expect(audit.status).toBe(200);
        expect((await pulse(['user', 'delete', 'own-op'])).code).toBe(0);
        // The running server took the delete: the token of a deleted user is refused at once.
        await expect
          .poll(
            async () =>
              (await fetch(`${up.url}/operator/audit-log`, { headers: { authorization: `Bearer ${token}` } })).status,
            { timeout: 10_000 },
          )
          .toBe(401);

        // kill -9, then a restart on the same data: the stale lock is taken over, and nothing came back.
        await stopWithin(up.child, 'SIGKILL');
        const revoked = await pulse(['device', 'revoke', 'own', 'd1']); // straight to the database: no owner now
        expect(revoked.code, revoked.stderr).toBe(0);
        up = await startUp(env);
        const devices = await api(up.url, '/api/admin/devices?tenant_id=own');
        expect(devices.map((d: any) => [d.device_id, d.status])).toEqual([['d1', 'REVOKED']]);
        const listed = await pulse(['user', 'list']);
        expect(listed.code, listed.stderr).toBe(0);
        expect(listed.stdout).not.toContain('own-op');
        expect((await pulse(['token', 'own-op'])).stderr.trim()).toBe(
          'pulse: the running Pulse says: User own-op not found',
        );
        expect((await stopWithin(up.child, 'SIGTERM')).code, up.output()).toBe(0);
        expect(existsSync(path.join(dataDir, 'pulse.lock'))).toBe(false);
      },
      deadline({ ups: 3, calls: 10 }),
    );

    it(
      'in PROD shows only the start of the admin key and creates no demo logins',
      async () => {
        const prodDir = mkdtempSync(path.join(tmpdir(), 'pulse-up-prod-'));
        try {
          const prod = await startUp({
            MODE: 'PROD',
            PULSE_DATA_DIR: prodDir,
            ADMIN_KEY: 'prod-admin-key-which-is-secret',
            SECRETS_KEY: 'a'.repeat(64),
          });
          expect(prod.output()).toContain('admin key     prod… (ADMIN_KEY)');
          expect(prod.output()).not.toContain('prod-admin-key-which-is-secret');
          expect(prod.output()).not.toContain('demo logins');
          expect((await stopWithin(prod.child, 'SIGTERM')).code, prod.output()).toBe(0);
        } finally {
          rmSync(prodDir, { recursive: true, force: true });
        }
      },
      deadline({ ups: 1 }),
    );

    it('refuses to start in PROD without ADMIN_KEY', async () => {
      const result = await run(['up'], { MODE: 'PROD', PULSE_DATA_DIR: dataDir });
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toBe(
        'pulse: invalid configuration: ADMIN_KEY is required when MODE=PROD\npulse: invalid configuration: SECRETS_KEY is required when MODE=PROD',
      );
    });
  });
});
