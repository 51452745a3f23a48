// `pulse command …` and `pulse job …` as a user runs them: on PostgreSQL with no Pulse running (the answer
// recorded by the test, as ingest would), and through a running `pulse up --simulate` that owns the
// embedded database, where a simulated device answers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { narrow } from '../../src/db/database.js';
import { listCommands, recordResult } from '../../src/model/commands.js';
import { createJob } from '../../src/model/jobs.js';
import { deadline, forCalls, run, startUp, stopWithin } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { waitFor } from '../helpers/wait.js';

/** The JSON a command prints (the first lines, up to a blank one). */
const printed = (stdout: string) => JSON.parse(stdout.split('\n\n')[0]!);

describe('pulse command and pulse job', () => {
  describe('on PostgreSQL, with no Pulse running', () => {
    let database: TestDatabase;
    let env: Record<string, string>;
    const pulse = (args: string[]) => run(args, env);
    beforeAll(async () => {
      database = await createTestDatabase('postgres');
      env = { DATABASE_URL: database.url! };
      const created = await pulse(['device', 'create', '--tenant', 'acme', '--device', 'cli-1', '--site', 'lab']);
      expect(created.code, created.stderr).toBe(0);
    }, forCalls(1));
    afterAll(() => database?.drop());

    it(
      'sends a command, waits for its answer, lists it, and says what is wrong with bad input',
      async () => {
        const sent = await pulse([
          'command',
          'send',
          'acme',
          'cli-1',
          'set_interval',
          '--params',
          '{"seconds": 30}',
          '--expires',
          '60',
        ]);
        expect(sent.code, sent.stderr).toBe(0);
        const queued = printed(sent.stdout);
        expect(queued).toMatchObject({
          tenant_id: 'acme',
          device_id: 'cli-1',
          name: 'set_interval',
          params: { seconds: 30 },
          state: 'QUEUED',
          created_by: 'pulse CLI',
        });
        expect(Date.parse(queued.expires_at) - Date.parse(queued.created_at)).toBeCloseTo(60_000, -3);

        // The CLI waits; the device's answer comes in meanwhile.
        const waiting = pulse(['command', 'send', 'acme', 'cli-1', 'ping', '--wait', '30']);
        let pingId: string | undefined;
        await waitFor(async () => {
          const listed = await database.db.withOperator((tx) =>
            listCommands(narrow(tx, 'acme'), 'cli-1', { limit: 5 }),
          );
          pingId = listed.find((command) => command.name === 'ping')?.command_id;
          return pingId !== undefined;
        }, forCalls(1));
        await database.db.withService((tx) =>
          recordResult(
            tx,
            { tenant_id: 'acme', device_id: 'cli-1' },
            { id: pingId!, status: 'SUCCEEDED', result: { pong: true }, error: null },
          ),
        );
        const answered = await waiting;
        expect(answered.code, answered.stderr).toBe(0);
        expect(printed(answered.stdout)).toMatchObject({
          command_id: pingId,
          state: 'SUCCEEDED',
          result: { pong: true },
        });

        const listed = await pulse(['command', 'list', 'acme', 'cli-1']);
        const [header, , ...rows] = listed.stdout.trim().split('\n');
        expect(header).toMatch(/^COMMAND_ID\s+NAME\s+STATE\s+CREATED_AT\s+FINISHED_AT\s+ANSWER$/);
        expect(rows[0]).toMatch(new RegExp(`^${pingId}\\s+ping\\s+SUCCEEDED\\s+.*\\{"pong":true\\}$`));
        expect(rows[1]).toMatch(new RegExp(`^${queued.command_id}\\s+set_interval\\s+QUEUED\\s`));

        const badParams = await pulse(['command', 'send', 'acme', 'cli-1', 'ping', '--params', '{oops']);
        expect(badParams).toMatchObject({
          code: 2,
          stderr: `pulse: --params must be JSON, such as '{"seconds": 30}'\n`,
        });
        const ghost = await pulse(['command', 'send', 'acme', 'ghost', 'ping']);
        expect(ghost).toMatchObject({ code: 2, stderr: 'pulse: No device ghost in this tenant\n' });
        const firmware = await pulse(['command', 'send', 'acme', 'cli-1', 'firmware_update']);
        expect(firmware.code).toBe(2);
        expect(firmware.stderr).toMatch(/firmware_update is sent by firmware update jobs/);
      },
      forCalls(7),
    );

    it(
      "lists, shows and cancels a tenant's jobs, and finds none of another tenant",
      async () => {
        const job = await database.db.withOperator((tx) =>
          createJob(
            narrow(tx, 'acme'),
            {
              name: 'reboot the lab',
              kind: 'command',
              command_name: 'reboot',
              params: {},
              selector: { site_ids: ['lab'] },
              rate_per_minute: null,
              max_in_flight: 10,
              timeout_seconds: 600,
              abort_failure_percent: null,
              abort_min_devices: 10,
              created_by: 'test',
            },
            ['cli-1'],
          ),
        );

        const listed = await pulse(['job', 'list', 'acme']);
        const [header, , row] = listed.stdout.trim().split('\n');
        expect(header).toMatch(/^JOB_ID\s+NAME\s+KIND\s+STATE\s+DEVICES\s+SUCCEEDED\s+FAILED\s+LEFT\s+CREATED_AT$/);
        expect(row).toMatch(
          new RegExp(`^${job.job_id}\\s+reboot the lab\\s+command\\s+RUNNING\\s+1\\s+0\\s+0\\s+1\\s`),
        );

        const shown = await pulse(['job', 'show', 'acme', job.job_id]);
        expect(shown.code, shown.stderr).toBe(0);
        expect(printed(shown.stdout)).toMatchObject({ job_id: job.job_id, state: 'RUNNING', counts: { total: 1 } });
        expect(shown.stdout).toMatch(
          /DEVICE_ID\s+STATE\s+PROGRESS\s+STARTED_AT\s+FINISHED_AT\s+ANSWER\n[- ]+\ncli-1\s+PENDING/,
        );

        const canceled = await pulse(['job', 'cancel', 'acme', job.job_id]);
        expect(canceled.stdout.trim()).toBe(`canceled job "reboot the lab" (${job.job_id})`);
        const again = await pulse(['job', 'cancel', 'acme', job.job_id]);
        expect(again).toMatchObject({
          code: 2,
          stderr: 'pulse: The job is CANCELED: only a RUNNING job can be canceled\n',
        });
        const elsewhere = await pulse(['job', 'show', 'other', job.job_id]);
        expect(elsewhere).toMatchObject({ code: 2, stderr: `pulse: No job ${job.job_id} in tenant other\n` });
        const malformed = await pulse(['job', 'show', 'acme', '42']);
        expect(malformed).toMatchObject({
          code: 2,
          stderr: 'pulse: 42 is not a job id: pulse job list <tenant> shows them\n',
        });
      },
      forCalls(6),
    );
  });

  describe('through a running `pulse up --simulate`', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'pulse-commands-'));
    afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

    it(
      'sends a simulated device commands through the process that owns the database, which it answers',
      async () => {
        const env = { PULSE_DATA_DIR: dataDir };
        const up = await startUp(env, ['--simulate', '3']);
        try {
          const pong = await run(['command', 'send', 'tenant-a', 'dev-0001', 'ping', '--wait', '30'], env);
          expect(pong.code, pong.stderr).toBe(0);
          expect(printed(pong.stdout)).toMatchObject({
            state: 'SUCCEEDED',
            result: { pong: true, fw_version: '1.0.0' },
          });
          const refused = await run(
            ['command', 'send', 'tenant-a', 'dev-0001', 'set_interval', '--params', '{"seconds": 0}', '--wait', '30'],
            env,
          );
          expect(printed(refused.stdout)).toMatchObject({
            state: 'FAILED',
            error: expect.stringMatching(/from 1 to 3600/),
          });
          const listed = await run(['command', 'list', 'tenant-a', 'dev-0001'], env);
          expect(listed.stdout).toMatch(/set_interval\s+FAILED/);
          expect(listed.stdout).toMatch(/ping\s+SUCCEEDED/);
          expect((await run(['job', 'list', 'tenant-a'], env)).stdout.trim()).toBe('no jobs in tenant tenant-a');
        } finally {
          expect((await stopWithin(up.child, 'SIGTERM')).code, up.output()).toBe(0);
        }
      },
      deadline({ ups: 1, calls: 4 }),
    );
  });
});
