// The ingest role end to end, on both engines: devices provisioned through the API publish over the
// broker or POST over HTTP; rows land in telemetry, rejects are counted and (in DEV) stored redacted.
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../helpers/databases.js';
import { clearMqttSession, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { waitFor, whenSettled } from '../helpers/wait.js';

const METRICS = { battery_pct: 87.1, temp_c: 24.5, rssi_dbm: -90, snr_db: 5.1, uplink_ok: true };

const SETUPS = [
  { name: 'PGlite and the embedded broker', engine: 'pglite' as const, external: false },
  { name: 'PostgreSQL and Mosquitto', engine: 'postgres' as const, external: true },
];

describe.each(SETUPS)('ingest on $name', ({ engine, external }) => {
  const clientId = uniqueName('pulse_test_ingest');
  let pulse: TestPlatform;
  let publisher: MqttClient;
  const tokens: Record<string, string> = {};

  const provision = async (device: string, site = 'lab-1', activate = true) => {
    const created = await pulse.call('/api/admin/devices', {
      json: { tenant_id: 'acme', device_id: device, site_id: site },
    });
    if (!activate) return;
    const activated = await pulse.call('/api/device/activate', {
      admin: false,
      json: { tenant_id: 'acme', device_id: device, activation_code: created.body.activation_code },
    });
    tokens[device] = activated.body.provision_token;
  };
  const setting = (key: string, value: string) =>
    pulse.db.withOperator((tx) =>
      tx.query(
        `INSERT INTO app_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [key, value],
      ),
    );
  const rows = async (device: string) =>
    (
      await pulse.db.withTenant('acme', (tx) =>
        tx.query<{ msg_type: string; seq: number; metrics: unknown; site_id: string }>(
          `SELECT msg_type, seq, metrics, site_id FROM telemetry WHERE device_id = $1 ORDER BY seq`,
          [device],
        ),
      )
    ).rows;
  const counted = async (reason: string) =>
    (
      await pulse.db.withOperator((tx) =>
        tx.query<{ n: number }>(
          `SELECT coalesce(sum(cnt), 0)::int AS n FROM quarantine_counters_minute WHERE reason = $1`,
          [reason],
        ),
      )
    ).rows[0]!.n;
  const storedEvents = async (reason: string) =>
    (
      await pulse.db.withOperator((tx) =>
        tx.query<{ payload: any; tenant_id: string | null; device_id: string | null; topic: string }>(
          `SELECT payload, tenant_id, device_id, topic FROM quarantine_events WHERE reason = $1`,
          [reason],
        ),
      )
    ).rows;
  const publish = (topic: string, payload: unknown, qos: 0 | 1 = 1) =>
    publisher.publishAsync(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos });

  beforeAll(async () => {
    pulse = await startTestPlatform(
      engine,
      {
        SETTINGS_POLL_SECONDS: '1',
        ...(external && {
          MQTT_URL: 'mqtt://127.0.0.1:1883',
          MQTT_CLIENT_ID: clientId,
          MQTT_SHARED_GROUP: clientId,
          MQTT_MAX_PACKET_BYTES: '16384',
        }),
      },
      undefined,
      { embeddedBroker: !external },
    );
    await setting('RATE_LIMIT_BURST', '1000');
    await setting('RATE_LIMIT_RPS', '1000');
    await provision('d1');
    await provision('d2');
    await provision('revoked');
    await provision('no-token', 'lab-1', false);
    await pulse.call('/api/admin/devices/acme/revoked/revoke', { method: 'POST' });
    publisher = await mqtt.connectAsync(pulse.mqttUrl!);
    await waitFor(
      async () =>
        (await pulse.call('/health', { admin: false })).body.components.ingest.settings.rateLimitBurst === 1000,
    );
  });
  afterAll(async () => {
    await publisher?.endAsync();
    await pulse?.close();
    if (external) await clearMqttSession('mqtt://127.0.0.1:1883', clientId);
  });

  describe('MQTT', () => {
    it("stores the original's telemetry and heartbeats, metrics as objects", async () => {
      await publish('tenant/acme/device/d1/telemetry', {
        ts: new Date().toISOString(),
        tenant_id: 'acme',
        site_id: 'lab-1',
        device_id: 'd1',
        msg_type: 'telemetry',
        seq: 1,
        provision_token: tokens.d1,
        metrics: METRICS,
      });
      await publish('tenant/acme/device/d1/heartbeat', { site_id: 'lab-1', seq: 2, provision_token: tokens.d1 }, 0);
      await expect
        .poll(() => rows('d1'), { timeout: 5000 })
        .toEqual([
          { msg_type: 'telemetry', seq: 1, metrics: METRICS, site_id: 'lab-1' },
          { msg_type: 'heartbeat', seq: 2, metrics: {}, site_id: 'lab-1' },
        ]);
    });

    it('produces, counts and (in DEV) stores every reject reason, never with a token in it', async () => {
      const d1 = tokens.d1!;
      const good = { site_id: 'lab-1', provision_token: d1, seq: 3, metrics: { temp_c: 1 } };
      const cases: [string, string, unknown][] = [
        ['PAYLOAD_TOO_LARGE', 'tenant/acme/device/d1/telemetry', { ...good, pad: 'x'.repeat(9000) }],
        ['BAD_TOPIC_FORMAT', 'tenant/acme/device/d1/', good],
        ['INVALID_JSON', 'tenant/acme/device/d1/telemetry', `not json ${d1}`],
        ['TENANT_MISMATCH_TOPIC_VS_PAYLOAD', 'tenant/acme/device/d1/telemetry', { ...good, tenant_id: 'other' }],
        ['MISSING_SITE_ID', 'tenant/acme/device/d1/telemetry', { provision_token: d1 }],
        ['UNREGISTERED_DEVICE', 'tenant/acme/device/ghost/telemetry', good],
        ['DEVICE_REVOKED', 'tenant/acme/device/revoked/telemetry', good],
        ['SITE_MISMATCH_REGISTRY_VS_PAYLOAD', 'tenant/acme/device/d1/telemetry', { ...good, site_id: 'lab-9' }],
        ['TOKEN_NOT_SET_IN_REGISTRY', 'tenant/acme/device/no-token/telemetry', good],
        ['TOKEN_MISSING', 'tenant/acme/device/d1/telemetry', { site_id: 'lab-1' }],
        ['TOKEN_INVALID', 'tenant/acme/device/d2/telemetry', good],
        ['INVALID_METRICS', 'tenant/acme/device/d1/telemetry', { ...good, metrics: { temp_c: ['hot'] } }],
        ['INVALID_SEQ', 'tenant/acme/device/d1/telemetry', { ...good, seq: 'three' }],
        [
          'TS_IN_FUTURE',
          'tenant/acme/device/d1/telemetry',
          { ...good, ts: new Date(Date.now() + 3_600_000).toISOString() },
        ],
      ];
      for (const [, topic, payload] of cases) await publish(topic, payload);
      for (const [reason] of cases) {
        await expect.poll(() => counted(reason), { timeout: 5000, message: reason }).toBe(1);
        const events = await storedEvents(reason);
        expect(events, reason).toHaveLength(1);
        expect(JSON.stringify(events[0]!.payload), reason).not.toContain(d1.slice(4));
      }
      expect((await storedEvents('MISSING_SITE_ID'))[0]!.payload).toEqual({ provision_token: '[REDACTED]' });
      expect((await storedEvents('INVALID_JSON'))[0]!.payload).toEqual({ raw: 'not json [REDACTED]' });
      expect(await storedEvents('UNREGISTERED_DEVICE')).toMatchObject([{ tenant_id: 'acme', device_id: 'ghost' }]);
      expect(await rows('d1')).toHaveLength(2); // none of them was stored
    });

    it('exposes Prometheus counters by reason and the batch latency histogram at /metrics', async () => {
      const response = await fetch(`${pulse.base}/metrics`);
      expect(response.headers.get('content-type')).toContain('text/plain');
      const text = await response.text();
      expect(text).toContain('pulse_ingest_messages_rejected_total{reason="INVALID_JSON"} 1');
      expect(text).toContain('pulse_ingest_messages_rejected_total{reason="TOKEN_INVALID"} 1');
      expect(text).toMatch(/pulse_ingest_messages_received_total\{source="mqtt"\} (\d+)/);
      expect(Number(/pulse_ingest_rows_written_total (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(2);
      expect(text).toMatch(/pulse_ingest_batch_write_seconds_bucket\{le="0.1"\} \d+/);
      expect(text).toContain('pulse_ingest_queue_depth 0');
      expect(text).toContain('pulse_process_cpu_seconds_total');
    });

    it('a poisoned message among good ones loses none of the good ones', async () => {
      for (let seq = 100; seq < 150; seq++) {
        await publish(
          'tenant/acme/device/d2/telemetry',
          { site_id: 'lab-1', provision_token: tokens.d2, seq, metrics: { v: seq } },
          seq % 2 === 0 ? 1 : 0,
        );
        if (seq === 120)
          await publish('tenant/acme/device/d2/telemetry', {
            site_id: 'lab-1',
            provision_token: tokens.d2,
            seq: 'x',
            metrics: [],
          });
      }
      await expect.poll(async () => (await rows('d2')).length, { timeout: 5000 }).toBe(50);
    });

    it('applies a revoke through the API at once in this process', async () => {
      await provision('soon-revoked');
      const message = { site_id: 'lab-1', provision_token: tokens['soon-revoked'], seq: 1 };
      await publish('tenant/acme/device/soon-revoked/heartbeat', message);
      await expect.poll(async () => (await rows('soon-revoked')).length).toBe(1);
      const before = await counted('DEVICE_REVOKED');
      await pulse.call('/api/admin/devices/acme/soon-revoked/revoke', { method: 'POST' });
      await publish('tenant/acme/device/soon-revoked/heartbeat', { ...message, seq: 2 });
      await expect.poll(() => counted('DEVICE_REVOKED'), { timeout: 3000 }).toBe(before + 1);
      expect(await rows('soon-revoked')).toHaveLength(1);
    });
  });

  describe('HTTP', () => {
    const post = (device: string, type: string, body: unknown, token?: string) =>
      pulse.call(`/ingest/v1/tenant/acme/device/${device}/${type}`, {
        admin: false,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token !== undefined && { 'x-provision-token': token }) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });

    it('answers 202 as the contract says once the row is stored', async () => {
      const response = await post(
        'd1',
        'telemetry',
        { site_id: 'lab-1', seq: 500, metrics: { temp_c: 20 } },
        tokens.d1,
      );
      expect(response).toMatchObject({ status: 202, body: { status: 'accepted', device_id: 'd1', seq: 500 } });
      expect((await rows('d1')).find((r) => r.seq === 500)).toMatchObject({ metrics: { temp_c: 20 } });
    });

    it.each([
      ['wrong token', 'd1', 'telemetry', { site_id: 'lab-1' }, 'tok-wrong', 401, 'TOKEN_INVALID'],
      ['unknown device', 'nobody', 'telemetry', { site_id: 'lab-1' }, 'tok-x', 403, 'UNREGISTERED_DEVICE'],
      ['revoked device', 'revoked', 'telemetry', { site_id: 'lab-1' }, 'tok-x', 403, 'DEVICE_REVOKED'],
      ['wrong site', 'd1', 'telemetry', { site_id: 'lab-2' }, 'TOKEN', 400, 'SITE_MISMATCH'],
      [
        'object metric',
        'd1',
        'telemetry',
        { site_id: 'lab-1', metrics: { t: { x: 1 } } },
        'TOKEN',
        400,
        'INVALID_METRICS',
      ],
      ['non-integer seq', 'd1', 'telemetry', { site_id: 'lab-1', seq: 1.5 }, 'TOKEN', 400, 'INVALID_SEQ'],
      ['not JSON', 'd1', 'telemetry', '{nope', 'TOKEN', 400, 'INVALID_JSON'],
    ])("rejects %s with the contract's status and reason", async (_name, device, type, body, token, status, detail) => {
      const response = await post(device, type, body, token === 'TOKEN' ? tokens.d1 : token);
      expect(response).toMatchObject({ status, body: { detail } });
    });

    it('stores ids and sites with tabs, newlines and backslashes exactly (the COPY path escapes them)', async () => {
      const site = 'hall\\2\tnorth\nwing';
      await provision('odd', site);
      const response = await post('odd', 'telemetry', { site_id: site, seq: 1, metrics: { x: 1 } }, tokens.odd);
      expect(response.status).toBe(202);
      expect(await rows('odd')).toEqual([{ msg_type: 'telemetry', seq: 1, metrics: { x: 1 }, site_id: site }]);
    });

    it('answers 400 for a message type other than telemetry or heartbeat', async () => {
      expect(await post('d1', 'config', { site_id: 'lab-1' }, tokens.d1)).toMatchObject({
        status: 400,
        body: { detail: "Invalid msg_type. Must be 'telemetry' or 'heartbeat'" },
      });
    });

    it('answers 422 in FastAPI shape without X-Provision-Token or site_id', async () => {
      const noToken = await post('d1', 'telemetry', { site_id: 'lab-1' });
      expect(noToken.status).toBe(422);
      const noSite = await post('d1', 'telemetry', { seq: 1 }, tokens.d1);
      expect(noSite).toMatchObject({ status: 422, body: { detail: [{ loc: ['body', 'site_id'], type: 'missing' }] } });
    });

    it('counts every refusal by reason, also those answered before the message is read', async () => {
      const reasons = ['INVALID_MSG_TYPE', 'TOKEN_MISSING', 'MISSING_SITE_ID', 'PAYLOAD_TOO_LARGE', 'BAD_TOPIC_FORMAT'];
      // Counted in memory at once (the database's per-minute counters follow within a second).
      const counts = async () => {
        const byReason = (await pulse.call('/health', { admin: false })).body.components.ingest.rejected_by_reason;
        return reasons.map((reason) => byReason[reason] ?? 0);
      };
      const before = await counts();
      expect((await post('d1', 'config', { site_id: 'lab-1' }, tokens.d1)).status).toBe(400);
      expect((await post('d1', 'telemetry', { site_id: 'lab-1' })).status).toBe(422);
      expect((await post('d1', 'telemetry', { seq: 1 }, tokens.d1)).status).toBe(422);
      expect((await post('d1', 'telemetry', { site_id: 'lab-1', pad: 'x'.repeat(70_000) }, tokens.d1)).status).toBe(
        413,
      );
      const batch = await pulse.call('/ingest/v1/batch', { admin: false, json: { messages: [{ site_id: 'lab-1' }] } });
      expect(batch.body).toMatchObject({ accepted: 0, results: [{ reason: 'BAD_TOPIC_FORMAT' }] });
      await expect.poll(() => Promise.all(reasons.map(counted)), { timeout: 5000 }).toEqual(before.map((n) => n + 1));
    });

    it('stores a reject whose payload PostgreSQL cannot hold (an unpaired surrogate), and the ones after it', async () => {
      // The body is JSON text with the escape in it: parsed, the note holds a lone surrogate.
      const raw = '{"site_id":"lab-1","note":"\\ud800 and \\u0000"}';
      expect((await post('d1', 'telemetry', raw, 'tok-surrogate')).status).toBe(401);
      expect((await post('d1', 'telemetry', { site_id: 'lab-1', note: 'after' }, 'tok-after')).status).toBe(401);
      await expect
        .poll(async () => (await storedEvents('TOKEN_INVALID')).map((e) => e.payload?.note), { timeout: 5000 })
        .toEqual(expect.arrayContaining(['\ufffd and \ufffd', 'after']));
    });

    it('answers 400, not 500 or 503, for NUL, unpaired surrogates and absurd nesting', async () => {
      const admin = (body: string) =>
        pulse.call('/api/admin/devices', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const nul = await admin('{"tenant_id":"acme","device_id":"x\\u0000","site_id":"lab-1"}');
      expect(nul).toMatchObject({ status: 400, body: { detail: expect.stringMatching(/NUL character/) } });
      const surrogate = await admin('{"tenant_id":"acme","device_id":"\\ud800","site_id":"lab-1"}');
      expect(surrogate).toMatchObject({ status: 400, body: { detail: expect.stringMatching(/unpaired surrogate/) } });
      const deep = await admin(
        `{"tenant_id":"acme","device_id":"d","site_id":"lab-1","metadata":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      );
      expect(deep).toMatchObject({ status: 400, body: { detail: 'The JSON body nests deeper than 64 levels' } });

      const message = `{"tenant_id":"acme","device_id":"d1","msg_type":"telemetry","site_id":"lab-1","x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
      const batch = await pulse.call('/ingest/v1/batch', {
        admin: false,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"messages":[${message}]}`,
      });
      expect(batch).toMatchObject({ status: 400, body: { accepted: 0, results: [{ reason: 'INVALID_JSON' }] } });
      const single = await post(
        'd1',
        'telemetry',
        `{"site_id":"lab-1","x":${'['.repeat(3000)}${']'.repeat(3000)}}`, // under MAX_PAYLOAD_BYTES
        tokens.d1,
      );
      expect(single).toMatchObject({ status: 400, body: { detail: 'INVALID_JSON' } });
    });

    it('answers 413 for a body over the limit', async () => {
      const response = await post('d1', 'telemetry', { site_id: 'lab-1', pad: 'x'.repeat(70_000) }, tokens.d1);
      expect(response.status).toBe(413);
    });

    it('takes a batch, judging each message on its own', async () => {
      const response = await pulse.call('/ingest/v1/batch', {
        admin: false,
        json: {
          messages: [
            {
              tenant_id: 'acme',
              device_id: 'd1',
              msg_type: 'telemetry',
              provision_token: tokens.d1,
              site_id: 'lab-1',
              seq: 600,
            },
            { tenant_id: 'acme', device_id: 'd1', msg_type: 'status', provision_token: tokens.d1, site_id: 'lab-1' },
            { tenant_id: 'acme', device_id: 'd2', msg_type: 'heartbeat', provision_token: 'tok-bad', site_id: 'lab-1' },
          ],
        },
      });
      expect(response.status).toBe(202);
      expect(response.body).toEqual({
        accepted: 1,
        rejected: 2,
        results: [
          { index: 0, status: 'accepted', reason: null, device_id: 'd1' },
          { index: 1, status: 'rejected', reason: 'INVALID_MSG_TYPE', device_id: 'd1' },
          { index: 2, status: 'rejected', reason: 'TOKEN_INVALID', device_id: 'd2' },
        ],
      });
      const allBad = await pulse.call('/ingest/v1/batch', {
        admin: false,
        json: {
          messages: [
            { tenant_id: 'acme', device_id: 'd1', msg_type: 'telemetry', provision_token: 'tok-no', site_id: 'lab-1' },
          ],
        },
      });
      expect(allBad.status).toBe(400);
      expect(await pulse.call('/ingest/v1/batch', { admin: false, json: { messages: [] } })).toMatchObject({
        status: 400,
        body: { detail: 'Batch is empty' },
      });
      const tooMany = Array.from({ length: 101 }, () => ({
        tenant_id: 'acme',
        device_id: 'd1',
        msg_type: 'heartbeat',
        site_id: 'lab-1',
      }));
      expect(await pulse.call('/ingest/v1/batch', { admin: false, json: { messages: tooMany } })).toMatchObject({
        status: 400,
        body: { detail: 'Batch exceeds 100 message limit' },
      });
    });
  });

  describe('runtime settings', () => {
    // Only ingest's own MQTT client reads an external broker's packets.
    if (external)
      it('quarantines a message beyond MQTT_MAX_PACKET_BYTES as too large, even when MAX_PAYLOAD_BYTES allows it', async () => {
        await setting('MAX_PAYLOAD_BYTES', '1000000');
        await expect
          .poll(async () => (await pulse.call('/health', { admin: false })).body.components.ingest.settings, {
            timeout: 5000,
          })
          .toMatchObject({ maxPayloadBytes: 1_000_000 });
        const before = await counted('PAYLOAD_TOO_LARGE');
        // QoS 1: resolves once Pulse has acknowledged it, which it does once it is counted.
        await publish('tenant/acme/device/d1/telemetry', {
          site_id: 'lab-1',
          provision_token: tokens.d1,
          pad: 'x'.repeat(40_000),
        });
        await expect.poll(() => counted('PAYLOAD_TOO_LARGE'), { timeout: 5000 }).toBe(before + 1);
        await setting('MAX_PAYLOAD_BYTES', '8192');
      });

    it('applies app_settings changes without a restart, and PROD stores no payloads', async () => {
      await setting('MAX_PAYLOAD_BYTES', '120');
      await setting('MODE', 'PROD');
      await expect
        .poll(async () => (await pulse.call('/health', { admin: false })).body.components.ingest.settings, {
          timeout: 5000,
        })
        .toMatchObject({ maxPayloadBytes: 120, mode: 'PROD' });
      const before = await counted('PAYLOAD_TOO_LARGE');
      // Quarantine events are written behind the counters: the last test's may still be on its way.
      const eventsBefore = await whenSettled(async () => (await storedEvents('PAYLOAD_TOO_LARGE')).length, {
        intervalMs: 500,
        timeoutMs: 10_000,
      });
      await publish('tenant/acme/device/d1/telemetry', {
        site_id: 'lab-1',
        provision_token: tokens.d1,
        metrics: { a_long_metric_name: 1 },
        pad: 'x'.repeat(100),
      });
      // At least once: on a loaded machine the client may time out and send the QoS 1 message again.
      // A reject's count and its event row are saved in one transaction: counted, its event would be stored.
      await expect.poll(() => counted('PAYLOAD_TOO_LARGE'), { timeout: 5000 }).toBeGreaterThan(before);
      expect((await storedEvents('PAYLOAD_TOO_LARGE')).length).toBe(eventsBefore);
    });
  });
});
