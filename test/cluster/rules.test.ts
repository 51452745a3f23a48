// Text, geofence and scoped rules over the production adapters (issue 31): one NATS node and Pulse as
// separate `pulse run` processes — api+provision, ingest, evaluator. A `door == "open"` rule with a duration
// watches the devices tagged cold; a geofence rule with hysteresis watches one truck. Messages cross from
// the ingest process to the evaluator over NATS, and a tag set through the api process reaches the
// evaluator's scopes over NATS (device.changed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseDatabase, urlFor } from '../helpers/databases.js';
import { bearer, tokenFor } from '../helpers/identity.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats.js';
import { migratedDatabase, startPulse, type PulseProcess } from '../helpers/processes.js';
import { provisionDevices } from '../helpers/provision.js';
import { waitFor } from '../helpers/wait.js';
import { connect as connectDatabase, type Connection } from '../../src/db/connection.js';
import { createDatabase } from '../../src/db/database.js';
import { createSecretBox } from '../../src/lib/secrets.js';

const ADMIN_KEY = 'rules-cluster-admin-key-0001';
const SECRETS_KEY = 'e'.repeat(64);
const TENANT = 'rules-cluster';
const run = `${process.pid}-${Date.now().toString(36)}`;
/** The depot: a circle of 1 km; the truck must come 100 m inside it for its alert to close. */
const DEPOT = { lat: 52.0, lon: 5.0 };

describe('text, geofence and scoped rules over NATS and separate processes', () => {
  let nats: NatsCluster;
  let databaseName: string;
  let connection: Connection;
  let api: PulseProcess;
  let ingest: PulseProcess;
  let evaluator: PulseProcess;
  let tokens: Map<string, string>;
  let adminToken: string;

  const env = () => ({
    DATABASE_URL: urlFor(databaseName),
    NATS_URL: nats.urls,
    MQTT_URL: 'mqtt://127.0.0.1:1883',
    MQTT_SHARED_GROUP: `rules-${run}`,
    MQTT_CLIENT_ID: `rules-ingest-${run}`,
    ADMIN_KEY,
    SECRETS_KEY,
    API_RATE_LIMIT: '100000',
    HEARTBEAT_STALE_SECONDS: '3600',
    FLUSH_INTERVAL_MS: '50',
  });
  const customer = async (path: string, method = 'GET', body?: unknown) => {
    const response = await fetch(`${api.base}${path}`, {
      method,
      headers: { ...bearer(adminToken), ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  /** Publishes over HTTP; its status (a device publishing in a tight loop meets the per-device rate: 429). */
  const send = async (deviceId: string, metrics: object) =>
    (
      await fetch(`${ingest.base}/ingest/v1/tenant/${TENANT}/device/${deviceId}/telemetry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-provision-token': tokens.get(`${TENANT}/${deviceId}`)! },
        body: JSON.stringify({ site_id: 'site-1', metrics }),
      })
    ).status;
  /** Publishes until accepted (202), as a device would after a 429. */
  const publish = (deviceId: string, metrics: object) =>
    waitFor(async () => (await send(deviceId, metrics)) === 202, 10_000);
  const alertOf = async (deviceId: string, status = 'OPEN') =>
    ((await customer(`/customer/alerts?status=${status}&limit=100`)).body.alerts as any[]).find(
      (alert) => alert.device_id === deviceId && alert.alert_type === 'THRESHOLD',
    );

  beforeAll(async () => {
    nats = await startNatsCluster(1);
    databaseName = await migratedDatabase('pulse_test_rules');
    [api, ingest, evaluator] = await Promise.all([
      startPulse('api', ['run', 'api', 'provision'], env()),
      startPulse('ingest', ['run', 'ingest'], env()),
      startPulse('evaluator', ['run', 'evaluator'], env()),
    ]);
    tokens = await provisionDevices(
      api.base,
      ADMIN_KEY,
      ['fridge-1', 'fridge-2', 'truck-1', 'truck-2'].map((device_id) => ({
        tenant_id: TENANT,
        device_id,
        site_id: 'site-1',
      })),
    );
    connection = await connectDatabase({ databaseUrl: urlFor(databaseName), dataDir: 'memory://' });
    adminToken = await tokenFor(
      { db: createDatabase(connection), deps: { secrets: createSecretBox(Buffer.from(SECRETS_KEY, 'hex')) } },
      { username: 'rules-admin', role: 'customer_admin', tenantId: TENANT },
    );
  }, 180_000);

  afterAll(async () => {
    await Promise.all([api, ingest, evaluator].map((p) => p?.kill('SIGKILL')));
    await connection?.close();
    if (databaseName) await releaseDatabase(databaseName);
    await nats?.close();
  });

  it('opens a door alert after its duration for the tagged devices only, and closes it when the door shuts', async () => {
    expect((await customer('/customer/devices/fridge-1', 'PATCH', { tags: ['cold'] })).status).toBe(200);
    const rule = await customer('/customer/alert-rules', 'POST', {
      name: 'door left open',
      metric_name: 'door',
      operator: 'EQ',
      values: ['open'],
      duration_seconds: 2,
      selector: { tags_any: ['cold'] },
    });
    expect(rule.status).toBe(201);
    // Once the evaluator process has the rule, an open door waits its 2 s before the alert.
    await waitFor(async () => {
      await send('fridge-1', { door: 'open' });
      await send('fridge-2', { door: 'open' });
      return !!(await alertOf('fridge-1'));
    }, 20_000);
    const opened = await alertOf('fridge-1');
    expect(new Date(opened.created_at).getTime()).toBeGreaterThan(new Date(rule.body.created_at).getTime() + 2000);
    expect(await alertOf('fridge-2', 'ALL')).toBeUndefined();

    await publish('fridge-1', { door: 'closed' });
    await waitFor(async () => !!(await alertOf('fridge-1', 'CLOSED')), 10_000);

    // Tagged through the api process, fridge-2 is watched by the evaluator process from then on.
    expect((await customer('/customer/devices/fridge-2', 'PATCH', { add_tags: ['cold'] })).status).toBe(200);
    await waitFor(async () => {
      await send('fridge-2', { door: 'open' });
      return !!(await alertOf('fridge-2'));
    }, 20_000);
  });

  it('opens a geofence alert when the truck leaves, keeps it within the hysteresis, closes it well inside', async () => {
    const rule = await customer('/customer/alert-rules', 'POST', {
      name: 'left the depot',
      metric_name: 'position',
      operator: 'OUTSIDE',
      geofence: { type: 'circle', ...DEPOT, radius_m: 1000 },
      hysteresis: 100,
      selector: { device_ids: ['truck-1'] },
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    // 0.018° of latitude is about 2 km: outside. truck-2 is outside too, and not watched.
    await waitFor(async () => {
      await send('truck-1', { position: { lat: DEPOT.lat + 0.018, lon: DEPOT.lon } });
      await send('truck-2', { position: { lat: DEPOT.lat + 0.018, lon: DEPOT.lon } });
      return !!(await alertOf('truck-1'));
    }, 20_000);
    // 950 m from the centre: inside, but within 100 m of the edge — the alert stays open once the
    // evaluator has taken the position (its latest state shows it).
    const near = { lat: DEPOT.lat + 0.00854, lon: DEPOT.lon };
    await publish('truck-1', { position: near });
    await waitFor(
      async () => (await customer('/customer/devices/truck-1')).body.device.state.position?.lat === near.lat,
      10_000,
    );
    expect(await alertOf('truck-1')).toBeDefined();
    // 500 m: well inside — it closes.
    await publish('truck-1', { position: { lat: DEPOT.lat + 0.0045, lon: DEPOT.lon } });
    await waitFor(async () => !!(await alertOf('truck-1', 'CLOSED')), 10_000);
    const closed = await alertOf('truck-1', 'CLOSED');
    expect(closed.details).toBeDefined();
    expect(await alertOf('truck-2', 'ALL')).toBeUndefined();
  });
});
