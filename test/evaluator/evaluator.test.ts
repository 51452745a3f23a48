// The evaluator end to end on PostgreSQL: devices send over HTTP ingest, rules are written in SQL while
// Pulse runs, alerts and device states are read back from the database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, releaseDatabase, uniqueName, urlFor } from '../helpers/databases.js';
import { roleHealth, rulesInForce, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';
import { saveSettings } from '../../src/model/settings.js';

describe('evaluator on PostgreSQL', () => {
  const database = uniqueName('pulse_test_eval');
  const env = {
    DATABASE_URL: urlFor(database),
    HEARTBEAT_STALE_SECONDS: '2',
    SETTINGS_POLL_SECONDS: '1',
    EVALUATOR_SCOPE_REFRESH_SECONDS: '1',
  };
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};

  const provision = async (device: string) => {
    const created = await pulse.call('/api/admin/devices', {
      json: { tenant_id: 'acme', device_id: device, site_id: 'lab-1' },
    });
    tokens[device] = (
      await pulse.call('/api/device/activate', {
        admin: false,
        json: { tenant_id: 'acme', device_id: device, activation_code: created.body.activation_code },
      })
    ).body.provision_token;
  };
  const send = async (device: string, type: 'telemetry' | 'heartbeat', metrics?: Record<string, number>) => {
    const response = await pulse.call(`/ingest/v1/tenant/acme/device/${device}/${type}`, {
      admin: false,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-provision-token': tokens[device]! },
      body: JSON.stringify({ site_id: 'lab-1', ...(metrics && { metrics }) }),
    });
    expect(response.status).toBe(202);
  };
  const alerts = async (device: string) =>
    (
      await pulse.db.withTenant('acme', (tx) =>
        tx.query<{
          id: number;
          fingerprint: string;
          status: string;
          alert_type: string;
          summary: string;
          details: any;
          severity: number;
        }>(
          `SELECT id, fingerprint, status, alert_type, summary, details, severity FROM fleet_alert WHERE device_id = $1 ORDER BY id`,
          [device],
        ),
      )
    ).rows;
  const deviceState = async (device: string) =>
    (
      await pulse.db.withTenant('acme', (tx) =>
        tx.query<{ status: string; state: unknown }>(`SELECT status, state FROM device_state WHERE device_id = $1`, [
          device,
        ]),
      )
    ).rows[0];

  beforeAll(async () => {
    await createPostgresDatabase({ migrated: true, name: database });
    pulse = await startTestPlatform('pglite', env);
    await pulse.db.withOperator((tx) => saveSettings(tx, { RATE_LIMIT_RPS: '1000', RATE_LIMIT_BURST: '1000' }));
    await provision('d1');
    await provision('d2');
    await provision('quiet');
    await waitFor(async () => (await roleHealth(pulse, 'ingest')).settings.rateLimitRps === 1000); // the settings poll
  });
  afterAll(async () => {
    await pulse?.close();
    await releaseDatabase(database);
  });

  it('a heartbeat makes the device ONLINE', async () => {
    await send('d1', 'heartbeat');
    await expect.poll(async () => (await deviceState('d1'))?.status, { timeout: 1500 }).toBe('ONLINE');
  });

  it('a rule inserted with SQL fires on the next violating message; heartbeats and repeats change nothing; a normal value closes it', async () => {
    await pulse.db.withTenant('acme', (tx) =>
      tx.query(
        `INSERT INTO alert_rules (tenant_id, rule_id, name, metric_name, operator, threshold, severity)
         VALUES ('acme', 'hot', 'High temperature', 'temp_c', 'GT', 30, 2)`,
      ),
    );
    await rulesInForce(pulse);
    await send('d1', 'telemetry', { temp_c: 35 });
    await expect
      .poll(() => alerts('d1'), { timeout: 1500 })
      .toMatchObject([
        {
          fingerprint: 'RULE:hot:d1',
          status: 'OPEN',
          alert_type: 'THRESHOLD',
          severity: 2,
          summary: 'lab-1: d1 temp_c (35) > 30.0',
          details: {
            rule_id: 'hot',
            rule_name: 'High temperature',
            metric_name: 'temp_c',
            metric_value: 35,
            operator: 'GT',
            threshold: 30,
          },
        },
      ]);
    await send('d1', 'heartbeat');
    await send('d1', 'telemetry', { temp_c: 36 });
    // The state is saved after the message was evaluated: once it shows 36, the repeat changed no alert.
    await expect.poll(async () => (await deviceState('d1'))?.state, { timeout: 1500 }).toEqual({ temp_c: 36 });
    expect((await alerts('d1')).map((a) => a.status)).toEqual(['OPEN']);
    await send('d1', 'telemetry', { temp_c: 20 });
    await expect.poll(async () => (await alerts('d1')).map((a) => a.status), { timeout: 1500 }).toEqual(['CLOSED']);
  });

  it("a device's tags changed in SQL, with no event, reach a rule's scope within the refresh", async () => {
    await provision('scoped-1');
    await pulse.db.withTenant('acme', async (tx) => {
      await tx.query(
        `UPDATE device_registry SET tags = '{freezer}' WHERE tenant_id = 'acme' AND device_id = 'scoped-1'`,
      );
      await tx.query(
        `INSERT INTO alert_rules (tenant_id, rule_id, name, metric_name, operator, threshold, severity, selector)
         VALUES ('acme', 'freezer-warm', 'Freezer warm', 'cabinet_c', 'GT', -10, 3, '{"tags_any": ["freezer"]}')`,
      );
    });
    await rulesInForce(pulse);
    await send('scoped-1', 'telemetry', { cabinet_c: -2 });
    await expect.poll(async () => (await alerts('scoped-1')).map((a) => a.status), { timeout: 5000 }).toEqual(['OPEN']);
    // Untagged behind Pulse's back: no device.changed; the periodic read of the scope closes the alert.
    await pulse.db.withTenant('acme', (tx) =>
      tx.query(`UPDATE device_registry SET tags = '{}' WHERE tenant_id = 'acme' AND device_id = 'scoped-1'`),
    );
    await expect
      .poll(async () => (await alerts('scoped-1')).map((a) => a.status), { timeout: 10_000 })
      .toEqual(['CLOSED']);
  });

  it('disabling a rule in SQL closes its open alerts', async () => {
    await pulse.db.withTenant('acme', (tx) =>
      tx.query(
        `INSERT INTO alert_rules (tenant_id, rule_id, name, metric_name, operator, threshold, severity)
         VALUES ('acme', 'cold', 'Cold', 'temp_c', 'LT', 10, 3)`,
      ),
    );
    await rulesInForce(pulse);
    await send('d1', 'telemetry', { temp_c: 5 });
    await expect
      .poll(async () => (await alerts('d1')).filter((a) => a.fingerprint === 'RULE:cold:d1').map((a) => a.status), {
        timeout: 1500,
      })
      .toEqual(['OPEN']);
    await pulse.db.withTenant('acme', (tx) =>
      tx.query(`UPDATE alert_rules SET enabled = false WHERE rule_id = 'cold'`),
    );
    await expect
      .poll(async () => (await alerts('d1')).filter((a) => a.fingerprint === 'RULE:cold:d1').map((a) => a.status), {
        timeout: 1500,
      })
      .toEqual(['CLOSED']);
    const metrics = await (await fetch(`${pulse.base}/metrics`)).text();
    expect(metrics).toMatch(/pulse_evaluator_alerts_closed [1-9]/);
  });

  it('silence makes a device STALE with a NO_HEARTBEAT alert; the next sign of life closes it', async () => {
    await send('quiet', 'heartbeat');
    await expect
      .poll(async () => (await alerts('quiet')).map((a) => `${a.fingerprint} ${a.status}`), {
        timeout: 2000 + 1500 + 500,
      })
      .toEqual(['NO_HEARTBEAT:quiet OPEN']);
    expect(await deviceState('quiet')).toMatchObject({ status: 'STALE' });
    const [alert] = await alerts('quiet');
    expect(alert).toMatchObject({ severity: 4, summary: 'lab-1: quiet heartbeat missing/stale' });
    expect(Date.parse(alert!.details.last_heartbeat_at)).not.toBeNaN();
    await send('quiet', 'heartbeat');
    await expect.poll(async () => (await alerts('quiet')).map((a) => a.status), { timeout: 1500 }).toEqual(['CLOSED']);
  });

  it('a revoked device is never alerted', async () => {
    await provision('witness');
    await send('d2', 'heartbeat');
    await send('witness', 'heartbeat'); // falls silent right after d2: its deadline comes after d2's
    await pulse.call('/api/admin/devices/acme/d2/revoke', { method: 'POST' });
    await expect.poll(async () => (await deviceState('d2'))?.status, { timeout: 1500 }).toBe('REVOKED');
    await expect
      .poll(async () => (await alerts('witness')).map((a) => a.fingerprint), { timeout: 2000 + 1500 + 500 })
      .toEqual(['NO_HEARTBEAT:witness']);
    expect(await alerts('d2')).toEqual([]);
  });

  it('duration holds an alert back until the condition lasted, hysteresis holds it open in the band; both survive a restart', async () => {
    await provision('slow');
    await pulse.db.withTenant('acme', (tx) =>
      tx.query(
        `INSERT INTO alert_rules (tenant_id, rule_id, name, metric_name, operator, threshold, severity, duration_seconds, hysteresis, site_ids)
         VALUES ('acme', 'sustained', 'Sustained heat', 'heat', 'GT', 30, 3, 1, 5, ARRAY['lab-1'])`,
      ),
    );
    await rulesInForce(pulse);
    const sustained = async () =>
      (await alerts('slow')).filter((a) => a.fingerprint === 'RULE:sustained:slow').map((a) => a.status);
    await send('slow', 'telemetry', { heat: 35 });
    // The state is saved with what was decided from the message: no alert yet, the condition must hold for 1 s.
    await expect.poll(async () => (await deviceState('slow'))?.state, { timeout: 1500 }).toEqual({ heat: 35 });
    expect(await sustained()).toEqual([]);

    await pulse.stop(); // the duration state must survive this
    pulse = await startTestPlatform('pglite', env);
    await rulesInForce(pulse);
    await send('slow', 'telemetry', { heat: 36 });
    // A restarted platform's first message crosses a cold path (partition claim, first flush): more room than 1.5 s.
    await expect.poll(sustained, { timeout: 5000 }).toEqual(['OPEN']);
    await send('slow', 'telemetry', { heat: 27 }); // below 30 but above 30 - 5: stays open
    await expect.poll(async () => (await deviceState('slow'))?.state, { timeout: 1500 }).toEqual({ heat: 27 });
    expect(await sustained()).toEqual(['OPEN']);
    await send('slow', 'telemetry', { heat: 24 });
    await expect.poll(sustained, { timeout: 1500 }).toEqual(['CLOSED']);
  });

  it('a restart neither duplicates nor loses alerts', async () => {
    await send('d1', 'telemetry', { temp_c: 40 });
    await expect
      .poll(async () => (await alerts('d1')).filter((a) => a.status === 'OPEN').length, { timeout: 1500 })
      .toBe(1);
    await pulse.stop();
    pulse = await startTestPlatform('pglite', env);
    await send('d1', 'telemetry', { temp_c: 41 });
    const openFingerprints = async () =>
      (await alerts('d1'))
        .filter((a) => a.status === 'OPEN')
        .map((a) => a.fingerprint)
        .sort();
    // d1 also goes stale meanwhile
    await expect.poll(openFingerprints, { timeout: 3500 + 1500 }).toEqual(['NO_HEARTBEAT:d1', 'RULE:hot:d1']);
    const all = await alerts('d1');
    expect(all.filter((a) => a.fingerprint === 'RULE:hot:d1' && a.status === 'OPEN')).toHaveLength(1);
  });
});
