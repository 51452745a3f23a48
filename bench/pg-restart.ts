// Fault drill, not a test (it restarts the machine's PostgreSQL, which would disturb a running suite):
// `npm run fault:pg-restart`. Pulse ingests QoS 1 messages from the machine's Mosquitto while
// `pg_ctlcluster … restart` runs mid-stream; prints how many of them were stored, and writes JSON.
import { execSync } from 'node:child_process';
import mqtt from 'mqtt';
import { clearMqttSession, startTestPlatform } from '../test/helpers/platform.js';
import { saveResult } from './results.js';

const BROKER = 'mqtt://127.0.0.1:1883';
const TOTAL = 2000;
const clientId = `pulse-fault-${process.pid}`;
const pulse = await startTestPlatform('postgres', {
  MQTT_URL: BROKER,
  MQTT_CLIENT_ID: clientId,
  MQTT_SHARED_GROUP: clientId,
  SETTINGS_POLL_SECONDS: '1',
});
let stored = 0;
try {
  const created = await pulse.call('/api/admin/devices', {
    json: { tenant_id: 'fault', device_id: 'd1', site_id: 's' },
  });
  const activated = await pulse.call('/api/device/activate', {
    admin: false,
    json: { tenant_id: 'fault', device_id: 'd1', activation_code: created.body.activation_code },
  });
  await pulse.db.withOperator((tx) =>
    tx.query(`INSERT INTO app_settings (key, value) VALUES ('RATE_LIMIT_RPS', '10000'), ('RATE_LIMIT_BURST', '10000')`),
  );
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const device = await mqtt.connectAsync(BROKER);
  for (let seq = 0; seq < TOTAL; seq++) {
    if (seq === TOTAL / 4) {
      console.log('restarting PostgreSQL');
      execSync('pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart');
    }
    const payload = { site_id: 's', provision_token: activated.body.provision_token, seq };
    await device.publishAsync('tenant/fault/device/d1/telemetry', JSON.stringify(payload), { qos: 1 });
    if (seq % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await device.endAsync();
  for (let waited = 0; waited < 60 && stored < TOTAL; waited++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const { rows } = await pulse.db
      .withTenant('fault', (tx) => tx.query<{ n: number }>(`SELECT count(DISTINCT seq)::int AS n FROM telemetry`))
      .catch(() => ({ rows: [{ n: stored }] }));
    stored = rows[0]!.n;
  }
  const health = await pulse.call('/health', { admin: false });
  const result = {
    published: TOTAL,
    stored,
    lost: TOTAL - stored,
    health: health.status,
    write_retries: health.body.components.ingest.write_retries,
  };
  console.table(result);
  saveResult('pg-restart', result);
} finally {
  await pulse.close();
  await clearMqttSession(BROKER, clientId);
}
process.exit(stored === TOTAL ? 0 : 1);
