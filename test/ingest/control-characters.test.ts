// Ids with control characters at ingest's edge (issue 36, item 5). U+0000 in a topic once made the
// registry lookup fail with SQLSTATE 22021, which MQTT ingest retried as a database outage for ever (and
// HTTP answered 503). Now such a topic is refused at once as BAD_TOPIC_FORMAT and quarantined legibly,
// on the embedded broker with either engine and over HTTP; Mosquitto does not even pass it on.
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, uniqueName } from '../helpers/databases.js';
import { clearMqttSession, startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { provisionDevices } from '../helpers/provision.js';
import { storedRows } from '../helpers/seed.js';

const TENANT = 'ctl';
const HOSTILE_TOPICS = [
  `tenant/${TENANT}\u0000/device/d1/telemetry`,
  `tenant/${TENANT}/device/d\u0000/telemetry`,
  `tenant/${TENANT}/device/d\u0001x/telemetry`,
  `tenant/${TENANT}/device/d\u0085x/heartbeat`,
];

/** What ingest's /health says it refused, by reason (counted at once, before the database has it). */
async function refused(pulse: TestPlatform, reason: string): Promise<number> {
  const health = await pulse.call('/health', { admin: false });
  return (health.body.components.ingest.rejected_by_reason[reason] as number | undefined) ?? 0;
}

async function quarantinedTopics(pulse: TestPlatform): Promise<string[]> {
  const { rows } = await pulse.db.withOperator((tx) =>
    tx.query<{ topic: string }>(`SELECT topic FROM quarantine_events WHERE reason = 'BAD_TOPIC_FORMAT'`),
  );
  return rows.map((row) => row.topic);
}

describe.each(ENGINES)('ingest with control characters in ids, on %s', (engine) => {
  let pulse: TestPlatform;
  let token: string;
  let seq = 0;
  const message = (extra: object = {}) =>
    JSON.stringify({ site_id: 'site-1', seq: ++seq, provision_token: token, metrics: { temp_c: 1 }, ...extra });

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, {}, undefined, { embeddedBroker: true });
    const tokens = await provisionDevices(pulse.base, TEST_ADMIN_KEY, [
      { tenant_id: TENANT, device_id: 'd1', site_id: 'site-1' },
    ]);
    token = tokens.get(`${TENANT}/d1`)!;
  });
  afterAll(async () => {
    await pulse?.close();
  });

  describe('on the embedded broker', () => {
    let device: MqttClient;
    beforeAll(async () => {
      device = await mqtt.connectAsync(pulse.mqttUrl!, { reconnectPeriod: 0 });
    });
    afterAll(async () => {
      await device?.endAsync(true);
    });

    it('acknowledges and quarantines a QoS 1 message to such a topic once, and stores the next good one', async () => {
      const before = await refused(pulse, 'BAD_TOPIC_FORMAT');
      // Each PUBACK comes once the message is stored or quarantined; a retried lookup never sent one.
      for (const topic of HOSTILE_TOPICS) await device.publishAsync(topic, message(), { qos: 1 });
      await device.publishAsync(`tenant/${TENANT}/device/d1/telemetry`, message(), { qos: 1 });
      expect(await refused(pulse, 'BAD_TOPIC_FORMAT')).toBe(before + HOSTILE_TOPICS.length);
      expect(await storedRows(pulse.db, TENANT, 'd1')).toBeGreaterThan(0);
      await expect
        .poll(() => quarantinedTopics(pulse), { timeout: 5000 })
        .toEqual(
          expect.arrayContaining([
            `tenant/${TENANT}\\u0000/device/d1/telemetry`,
            `tenant/${TENANT}/device/d\\u0085x/heartbeat`,
          ]),
        );
    });

    it('refuses a device login with U+0000 in its id as a wrong login, not as "retry later"', async () => {
      const login = mqtt.connectAsync(pulse.mqttUrl!, {
        username: `${TENANT}/d1\u0000`,
        password: token,
        reconnectPeriod: 0,
      });
      await expect(login).rejects.toThrow(/Bad username or password/);
    });
  });

  describe('over HTTP', () => {
    const post = (tenant: string, device: string) =>
      pulse.call(`/ingest/v1/tenant/${encodeURIComponent(tenant)}/device/${encodeURIComponent(device)}/telemetry`, {
        admin: false,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-provision-token': token },
        body: message(),
      });

    it('answers 400 naming the parameter and the character, and counts it as BAD_TOPIC_FORMAT', async () => {
      const before = await refused(pulse, 'BAD_TOPIC_FORMAT');
      expect(await post(`${TENANT}\u0000`, 'd1')).toMatchObject({
        status: 400,
        body: { detail: 'The path parameter "tenant_id" holds a control character (U+0000); remove it' },
      });
      expect(await post(TENANT, 'd1\u009f')).toMatchObject({ status: 400, body: { detail: /"device_id".*U\+009F/ } });
      await expect.poll(() => refused(pulse, 'BAD_TOPIC_FORMAT'), { timeout: 5000 }).toBe(before + 2);
    });

    it('rejects such ids within a batch message by message, and takes the good ones', async () => {
      const good = { tenant_id: TENANT, device_id: 'd1', msg_type: 'telemetry', site_id: 'site-1' };
      const response = await pulse.call('/ingest/v1/batch', {
        admin: false,
        json: {
          messages: [
            { ...good, tenant_id: `${TENANT}\u0000`, provision_token: token, seq: ++seq },
            { ...good, device_id: 'd\u0007', provision_token: token, seq: ++seq },
            { ...good, provision_token: token, seq: ++seq },
          ],
        },
      });
      expect(response).toMatchObject({
        status: 202,
        body: {
          accepted: 1,
          results: [
            { status: 'rejected', reason: 'BAD_TOPIC_FORMAT' },
            { status: 'rejected', reason: 'BAD_TOPIC_FORMAT' },
            { status: 'accepted' },
          ],
        },
      });
    });
  });
});

describe('Mosquitto', () => {
  const clientId = uniqueName('pulse_test_ctl');
  let pulse: TestPlatform;
  afterAll(async () => {
    await pulse?.close();
    await clearMqttSession('mqtt://127.0.0.1:1883', clientId);
  });

  it('closes a publisher of such a topic itself, so ingest never sees it, and passes the next good one', async () => {
    pulse = await startTestPlatform('postgres', {
      MQTT_URL: 'mqtt://127.0.0.1:1883',
      MQTT_CLIENT_ID: clientId,
      MQTT_SHARED_GROUP: clientId,
    });
    const tokens = await provisionDevices(pulse.base, TEST_ADMIN_KEY, [
      { tenant_id: TENANT, device_id: 'd1', site_id: 'site-1' },
    ]);
    const payload = (seq: number) =>
      JSON.stringify({ site_id: 'site-1', seq, provision_token: tokens.get(`${TENANT}/d1`) });
    for (const topic of HOSTILE_TOPICS) {
      const device = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { reconnectPeriod: 0 });
      const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
      device.publish(topic, payload(1), { qos: 1 });
      await closed;
      device.end(true);
    }
    const device = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { reconnectPeriod: 0 });
    await device.publishAsync(`tenant/${TENANT}/device/d1/telemetry`, payload(2), { qos: 1 });
    await device.endAsync();
    await expect.poll(() => storedRows(pulse.db, TENANT, 'd1'), { timeout: 5000 }).toBe(1);
    expect(await refused(pulse, 'BAD_TOPIC_FORMAT')).toBe(0);
  });
});
