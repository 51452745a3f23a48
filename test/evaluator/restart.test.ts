// Our downtime is not the devices' fault: Pulse stops for longer than HEARTBEAT_STALE_SECONDS while a
// device keeps publishing to Mosquitto (QoS 1, Pulse's persistent session holds the messages). After the
// restart that device gets no NO_HEARTBEAT; a device that really went silent still does, once the grace
// period of one timeout from the start has passed.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, releaseDatabase, uniqueName, urlFor } from '../helpers/databases.js';
import type { RoleName } from '../../src/roles.js';
import {
  clearMqttSession,
  pollNow,
  startTestPlatform,
  TEST_ADMIN_KEY,
  type TestPlatform,
} from '../helpers/platform.js';
import { provisionDevices } from '../helpers/provision.js';
import { waitFor } from '../helpers/wait.js';

const BROKER = 'mqtt://127.0.0.1:1883';
const STALE_SECONDS = 3;
const FLUSH_INTERVAL_MS = 1000;

describe('a restart longer than the heartbeat timeout', () => {
  const database = uniqueName('pulse_test_restart');
  const clientId = uniqueName('pulse_test_restart');
  const env = {
    DATABASE_URL: urlFor(database),
    MQTT_URL: BROKER,
    MQTT_CLIENT_ID: clientId,
    MQTT_SHARED_GROUP: clientId,
    HEARTBEAT_STALE_SECONDS: String(STALE_SECONDS),
    FLUSH_INTERVAL_MS: String(FLUSH_INTERVAL_MS),
  };
  // The evaluator starts before ingest has taken the broker's backlog, as an evaluator process of its own
  // would: without the grace period it would find every device past its deadline.
  const start = (roles: RoleName[] = ['provision', 'ingest', 'evaluator']) => startTestPlatform('postgres', env, roles);
  let pulse: TestPlatform | undefined;
  let device: mqtt.MqttClient;
  let beating: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    await createPostgresDatabase({ migrated: true, name: database });
  });
  afterAll(async () => {
    clearInterval(beating);
    await device?.endAsync(true);
    await pulse?.close();
    await releaseDatabase(database);
    await clearMqttSession(BROKER, clientId);
  });

  it('opens no NO_HEARTBEAT for a device that kept publishing, and one for a device that fell silent', async () => {
    pulse = await start();
    const tokens = await provisionDevices(pulse.base, TEST_ADMIN_KEY, [
      { tenant_id: 'acme', device_id: 'steady', site_id: 's' },
      { tenant_id: 'acme', device_id: 'silent', site_id: 's' },
    ]);
    device = await mqtt.connectAsync(BROKER, { clientId: uniqueName('restart-device') });
    const beat = (id: string) =>
      device.publishAsync(
        `tenant/acme/device/${id}/heartbeat`,
        JSON.stringify({ site_id: 's', provision_token: tokens.get(`acme/${id}`) }),
        { qos: 1 },
      );
    await beat('silent');
    beating = setInterval(() => void beat('steady'), 500);
    const statusOf = async (id: string) =>
      (
        await pulse!.db.withTenant('acme', (tx) =>
          tx.query<{ status: string }>(`SELECT status FROM device_state WHERE device_id = $1`, [id]),
        )
      ).rows[0]?.status;
    await waitFor(async () => (await statusOf('steady')) === 'ONLINE' && (await statusOf('silent')) === 'ONLINE');

    // Down until every device is past its deadline (its last stored message, at the latest now, plus the
    // timeout and ingest's flush interval); the steady device keeps publishing into the broker meanwhile.
    await pulse.close();
    pulse = undefined;
    const everyDeadlinePassed = Date.now() + STALE_SECONDS * 1000 + FLUSH_INTERVAL_MS;
    await waitFor(() => Date.now() > everyDeadlinePassed, everyDeadlinePassed - Date.now() + 1000);
    const noHeartbeat = async () =>
      (
        await pulse!.db.withTenant('acme', (tx) =>
          tx.query<{ device_id: string }>(`SELECT device_id FROM fleet_alert WHERE alert_type = 'NO_HEARTBEAT'`),
        )
      ).rows.map((row) => row.device_id);

    // The evaluator comes back first, alone, as an evaluator process of its own may: every device is past
    // its deadline, and none is called silent before a full timeout from its start (the deadlines due now
    // fired, and what they decided saved).
    pulse = await start(['evaluator']);
    await pollNow(pulse, 'evaluator');
    expect(await noHeartbeat()).toEqual([]);
    await pulse.close();

    pulse = await start();
    await waitFor(async () => (await noHeartbeat()).includes('silent'), (STALE_SECONDS + 5) * 1000);
    await pollNow(pulse, 'evaluator');
    expect(await noHeartbeat()).toEqual(['silent']);
  }, 60_000);
});
