// Restarts under QoS 1 load lose no acknowledged message (issue 36 item 1): a client that reconnects at
// once keeps publishing (anonymous, DEV, the token in the payload, as the original's devices do) through
// graceful restarts and `kill -9`s of `pulse up` on each engine, knocking while each new process starts;
// every message the broker acknowledged has its row.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { createPostgresDatabase, releaseDatabase, uniqueName, urlFor } from '../helpers/databases.js';
import { restartUnderLoad } from '../helpers/kill-under-load.js';

const DEVICES = 200;

describe.each(['pglite', 'postgres'] as Engine[])('restarts of pulse up on %s', (engine) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pulse-restart-'));
  const database = uniqueName('pulse_test_restart');
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (engine === 'postgres') await releaseDatabase(database);
  });

  it('lose no message the broker acknowledged, graceful or killed', async () => {
    if (engine === 'postgres') await createPostgresDatabase({ migrated: true, name: database });
    const outcome = await restartUnderLoad({
      dataDir,
      databaseUrl: engine === 'postgres' ? urlFor(database) : undefined,
      devices: DEVICES,
      restarts: ['SIGTERM', 'SIGKILL'],
      killAfterAcks: DEVICES,
      // At most 6 messages per device: inside the default rate limit (burst 20), so none is RATE_LIMITED.
      maxMessages: DEVICES * 6,
    });
    expect(outcome.restarts).toBe(2);
    expect(outcome.acknowledged).toBeGreaterThan(DEVICES * 2);
    expect(outcome.lost, `${outcome.lost.length} of ${outcome.acknowledged} acknowledged messages lost`).toEqual([]);
  }, 300_000);
});
