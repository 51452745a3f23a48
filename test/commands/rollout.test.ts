// A fleet job over a few hundred devices keeps its rollout rate (issue 30): the devices it starts in any
// stretch of time stay within the rate (it ramps up from its start), and a cancel withdraws the rest.
// A configuration job, so that no device needs to be connected: each execution starts as a new desired
// version. PostgreSQL, the api and dispatcher roles, a 1-second sweep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'rollout';
const DEVICES = 300;
const RATE_PER_MINUTE = 600; // ten a second

describe('a fleet job at its rollout rate', () => {
  let pulse: TestPlatform;
  const users: Record<string, string> = {};
  const call = callerFor(() => pulse, users);

  beforeAll(async () => {
    pulse = await startTestPlatform('postgres', { COMMAND_SWEEP_SECONDS: '1', API_RATE_LIMIT: '100000' }, [
      'api',
      'dispatcher',
      'delivery',
    ]);
    await pulse.db.withService(async (tx) => {
      await tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)`, [TENANT]);
      await tx.query(
        `INSERT INTO device_registry (tenant_id, device_id, site_id)
         SELECT $1, 'dev-' || lpad(i::text, 3, '0'), 'plant' FROM generate_series(1, $2) AS i`,
        [TENANT, DEVICES],
      );
    });
    users.admin = await tokenFor(pulse, { username: 'rollout-admin', role: 'customer_admin', tenantId: TENANT });
  });
  afterAll(() => pulse?.close());

  it('starts no more devices than the rate allows, and a cancel withdraws the rest', async () => {
    const job = await call('admin', '/customer/jobs', 'POST', {
      name: 'slow interval change',
      kind: 'config',
      params: { interval_seconds: 60 },
      selector: { all: true },
      rate_per_minute: RATE_PER_MINUTE,
      max_in_flight: 10_000,
      timeout_seconds: 600,
    });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    expect(job.body.counts.total).toBe(DEVICES);
    const startedAt = new Date(job.body.started_at).getTime();
    await waitFor(
      async () => (await call('admin', `/customer/jobs/${job.body.job_id}`)).body.counts.IN_PROGRESS >= 40,
      20_000,
    );

    const { rows } = await pulse.db.withService((tx) =>
      tx.query<{ started_at: Date }>(
        `SELECT started_at FROM job_executions WHERE job_id = $1 AND started_at IS NOT NULL`,
        [job.body.job_id],
      ),
    );
    const times = rows.map((row) => row.started_at.getTime()).sort((a, b) => a - b);
    // At any moment, no more started than the ramp allows: rate × elapsed, plus the one it starts at once.
    for (const [i, time] of times.entries()) {
      const allowed = Math.max(1, Math.floor((RATE_PER_MINUTE * (time - startedAt + 50)) / 60_000)) + 1;
      expect(i + 1, `execution ${i + 1} started ${time - startedAt} ms in`).toBeLessThanOrEqual(allowed);
    }
    // Nor is it much slower: the job got going at about its rate.
    const span = (times.at(-1)! - startedAt) / 1000;
    expect(times.length).toBeGreaterThan(((RATE_PER_MINUTE / 60) * span) / 2);

    const canceled = await call('admin', `/customer/jobs/${job.body.job_id}/cancel`, 'POST', {});
    expect(canceled.body.state).toBe('CANCELED');
    expect(canceled.body.counts.PENDING).toBe(0);
    expect(canceled.body.counts.CANCELED).toBeGreaterThan(0);
    expect(canceled.body.counts.CANCELED + canceled.body.counts.IN_PROGRESS + canceled.body.counts.SUCCEEDED).toBe(
      DEVICES,
    );
  });
});
