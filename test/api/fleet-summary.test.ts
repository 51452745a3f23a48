// GET /api/v2/fleet/summary on both engines: the dashboard's every count in one call — devices by status
// (OFFLINE: registered, never heard from; REVOKED whatever it last did) and alerts not yet closed — of the
// caller's tenant only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { bearer, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedAlert, seedDevice } from '../helpers/seed.js';

describe.each<Engine>(['postgres', 'pglite'])('/api/v2/fleet/summary on %s', (engine) => {
  let pulse: TestPlatform;
  let token: string;

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, {}, ['api']);
    const { db } = pulse;
    await seedDevice(db, 'fleet-a', 'on-1');
    await seedDevice(db, 'fleet-a', 'on-2');
    await seedDevice(db, 'fleet-a', 'stale-1', 'site-1', 'STALE');
    await seedDevice(db, 'fleet-a', 'revoked-1');
    await seedDevice(db, 'fleet-b', 'other-1');
    await db.withService(async (tx) => {
      await tx.query(`UPDATE device_registry SET status = 'REVOKED' WHERE device_id = 'revoked-1'`);
      await tx.query(
        `INSERT INTO device_registry (tenant_id, device_id, site_id) VALUES ('fleet-a', 'new-1', 'site-1')`,
      );
    });
    for (const status of ['OPEN', 'OPEN', 'ACKNOWLEDGED', 'CLOSED'])
      await seedAlert(db, { tenantId: 'fleet-a', deviceId: 'on-1', status });
    await seedAlert(db, { tenantId: 'fleet-b', deviceId: 'other-1' });
    token = await tokenFor(pulse, { username: 'fleet-viewer', role: 'customer_viewer', tenantId: 'fleet-a' });
  }, 60_000);
  afterAll(() => pulse?.close());

  it("counts the tenant's devices by status and its open and acknowledged alerts, in one answer", async () => {
    const answer = await pulse.call('/api/v2/fleet/summary', { admin: false, headers: bearer(token) });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      tenant_id: 'fleet-a',
      devices: { ONLINE: 2, STALE: 1, OFFLINE: 1, REVOKED: 1, total: 5 },
      alerts: { OPEN: 2, ACKNOWLEDGED: 1 },
    });
  });

  it('is described in the OpenAPI document', async () => {
    const docs = (await pulse.call('/api/docs/json')).body;
    const schema = docs.paths['/api/v2/fleet/summary'].get.responses['200'].content['application/json'].schema;
    expect(Object.keys(schema.properties)).toEqual(['tenant_id', 'devices', 'alerts']);
  });
});
