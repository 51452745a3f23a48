import { defineConfig } from 'vitest/config';

// Tests that start a fleet of processes of their own (a NATS cluster, several `pulse run` processes)
// measure nothing but still need the machine's two cores: they run after everything else, one at a time.
const MULTI_PROCESS = [
  'test/cluster/**/*.test.ts',
  'test/ingest/scale-down.test.ts',
  'test/ingest/kill.test.ts',
  'test/ingest/restart.test.ts',
  'test/deploy/**/*.test.ts',
];

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 90_000,
    globalSetup: ['./test/helpers/global-setup.ts'],
    // Every answer of every Pulse the tests start (in process or as a child) is checked against its schema.
    env: { API_CHECK_RESPONSES: 'on' },
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'pulse',
          include: ['test/**/*.test.ts', 'web/test/**/*.test.{ts,tsx}'],
          exclude: MULTI_PROCESS,
          // Two cores: more workers only make each embedded database boot slower.
          maxWorkers: 2,
          // A worker keeps the modules it loaded for its next file (each file still starts its own Pulse):
          // loading them again for each of 130 files took 160 s of the workers' time.
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'processes',
          include: MULTI_PROCESS,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
