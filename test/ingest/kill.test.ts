// `kill -9` under QoS 1 load loses no acknowledged message: `pulse up` (embedded broker) on each engine
// takes a steady stream from 200 devices, dies mid-stream, starts again on the same data, and every
// message the broker acknowledged before the kill has its row.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { createPostgresDatabase, releaseDatabase, uniqueName, urlFor } from '../helpers/databases.js';
import { killUnderLoad } from '../helpers/kill-under-load.js';

const DEVICES = 200;

describe.each(['pglite', 'postgres'] as Engine[])('kill -9 of pulse up on %s', (engine) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pulse-kill-'));
  const database = uniqueName('pulse_test_kill');
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (engine === 'postgres') await releaseDatabase(database);
  });

  it('loses no message the broker acknowledged', async () => {
    if (engine === 'postgres') await createPostgresDatabase({ migrated: true, name: database });
    const outcome = await killUnderLoad({
      dataDir,
      databaseUrl: engine === 'postgres' ? urlFor(database) : undefined,
      devices: DEVICES,
      // At most 8 messages per device: inside the default rate limit (burst 20), so none is RATE_LIMITED.
      killAfterAcks: DEVICES * 4,
      maxMessages: DEVICES * 8,
    });
    expect(outcome.acknowledged).toBeGreaterThanOrEqual(DEVICES * 4);
    expect(outcome.sent, 'messages were still in flight at the kill').toBeGreaterThan(outcome.acknowledged);
    expect(outcome.lost, `${outcome.lost.length} of ${outcome.acknowledged} acknowledged messages lost`).toEqual([]);
  }, 180_000);
});
