// NATS wholly unreachable: ingest keeps storing, /health says the bus is degraded, nothing crashes; when
// NATS is back, the stored messages' events (kept in the outbox) reach the evaluator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/databases.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats.js';
import { startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { provisionDevices } from '../helpers/provision.js';
import { waitFor } from '../helpers/wait.js';

describe.each(ENGINES)('NATS outage (%s, every role in one process over NATS)', (engine) => {
  let nats: NatsCluster;
  let pulse: TestPlatform;
  let token: string;

  beforeAll(async () => {
    nats = await startNatsCluster(1);
    pulse = await startTestPlatform(engine, { NATS_URL: nats.urls, EVALUATOR_PARTITIONS: '4' });
    const tokens = await provisionDevices(pulse.base, TEST_ADMIN_KEY, [
      { tenant_id: 'acme', device_id: 'd1', site_id: 's' },
    ]);
    token = tokens.get('acme/d1')!;
  });
  afterAll(async () => {
    await pulse?.close();
    await nats?.close();
  });

  const send = (seq: number) =>
    pulse.call('/ingest/v1/tenant/acme/device/d1/telemetry', {
      admin: false,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-provision-token': token },
      body: JSON.stringify({ site_id: 's', seq, metrics: { t: seq } }),
    });
  const deviceState = async () =>
    (
      await pulse.db.withService((tx) =>
        tx.query<{ state: { t?: number } }>(`SELECT state FROM device_state WHERE device_id = 'd1'`),
      )
    ).rows[0]?.state.t;

  it('keeps storing while NATS is down and evaluates what was stored once it is back', async () => {
    expect((await send(1)).status).toBe(202);
    await waitFor(async () => (await deviceState()) === 1, 10_000);

    await nats.nodes[0]!.kill();
    for (let seq = 2; seq <= 20; seq++) expect((await send(seq)).status).toBe(202);
    const stored = await pulse.db.withService((tx) =>
      tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM telemetry WHERE device_id = 'd1'`),
    );
    expect(stored.rows[0]!.n).toBe(20);
    const health = await pulse.call('/health');
    expect(health.status).toBe(503);
    expect(health.body.components.bus).toMatchObject({ status: 'degraded', connected: false });
    expect(health.body.components.bus.outbox.events).toBeGreaterThan(0);
    expect(health.body.components.ingest.status).toBe('ok');
    expect(await deviceState()).toBe(1); // the evaluator has not heard of them yet

    await nats.nodes[0]!.start();
    await waitFor(async () => (await deviceState()) === 20, 30_000);
    await waitFor(async () => (await pulse.call('/health')).body.components.bus.outbox.events === 0, 10_000);
  }, 60_000);
});
