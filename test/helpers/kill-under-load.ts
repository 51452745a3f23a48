// `kill -9` of `pulse up` (embedded broker) under QoS 1 load: provisions devices, publishes from many
// in-flight slots, kills the process mid-stream, starts it again on the same data and lists every
// acknowledged message that has no row. Used by test/ingest/kill.test.ts and `npm run audit:security`.
import mqtt from 'mqtt';
import { connect } from '../../src/db/connection.js';
import { freePort } from './mosquitto.js';
import { startPulse } from './processes.js';
import { provisionDevices } from './provision.js';

export interface KillOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  devices: number;
  /** Kill once this many messages were acknowledged. */
  killAfterAcks: number;
  /** Never more than this many messages (keep it within the rate limit: burst 20 per device). */
  maxMessages: number;
  inFlight?: number;
}

export interface KillOutcome {
  sent: number;
  acknowledged: number;
  /** Acknowledged messages without a row, as device:seq. */
  lost: string[];
}

export async function killUnderLoad(options: KillOptions): Promise<KillOutcome> {
  const adminKey = 'kill-under-load-admin-key';
  const mqttPort = await freePort();
  const env = {
    PULSE_DATA_DIR: options.dataDir,
    MQTT_PORT: String(mqttPort),
    ADMIN_KEY: adminKey,
    ...(options.databaseUrl && { DATABASE_URL: options.databaseUrl }),
  };
  const first = await startPulse('up', ['up'], env);
  const plan = Array.from({ length: options.devices }, (_, i) => ({
    tenant_id: 'acme',
    device_id: `d${i}`,
    site_id: 's',
  }));
  const tokens = await provisionDevices(first.base, adminKey, plan);

  const acknowledged: string[] = [];
  const publisher = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 });
  publisher.on('error', () => undefined);
  // mqtt.js keeps unacknowledged QoS 1 messages for a reconnect: their promises never settle on close.
  const closed = new Promise<'closed'>((resolve) => publisher.once('close', () => resolve('closed')));
  let sent = 0;
  let killed: Promise<void> | undefined;
  const publishFromOneSlot = async (): Promise<void> => {
    while (sent < options.maxMessages && !killed) {
      const n = sent++;
      const device = `d${n % options.devices}`;
      const body = JSON.stringify({
        site_id: 's',
        provision_token: tokens.get(`acme/${device}`),
        seq: n,
        metrics: { v: n },
      });
      const outcome = await Promise.race([
        publisher.publishAsync(`tenant/acme/device/${device}/telemetry`, body, { qos: 1 }).catch(() => 'closed'),
        closed,
      ]);
      if (outcome === 'closed') return; // the connection died with the process: not acknowledged
      acknowledged.push(`${device}:${n}`);
      if (acknowledged.length === options.killAfterAcks) killed = first.kill('SIGKILL');
    }
  };
  await Promise.all(Array.from({ length: options.inFlight ?? 64 }, publishFromOneSlot));
  await killed;
  publisher.end(true);
  if (!killed) throw new Error(`only ${acknowledged.length} messages were acknowledged: the kill never came`);

  // The same data starts again (recovering from the kill), then is read directly.
  const second = await startPulse('up-again', ['up'], env);
  await second.kill('SIGTERM');
  const connection = await connect({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });
  try {
    const { rows } = await connection.pool.query<{ key: string }>(
      `SELECT device_id || ':' || seq AS key FROM telemetry WHERE tenant_id = 'acme'`,
    );
    const stored = new Set(rows.map((row) => row.key));
    return { sent, acknowledged: acknowledged.length, lost: acknowledged.filter((key) => !stored.has(key)) };
  } finally {
    await connection.close();
  }
}
