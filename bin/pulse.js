#!/usr/bin/env -S node --max-semi-space-size=64
// --max-semi-space-size: ingest allocates many short-lived objects per message; a larger young generation
// spends less time in garbage collection (+15-20% ingest throughput measured, ADR 008).
// Thin launcher so `npx pulse` works from a checkout: the build (run by `npm install`) puts the CLI in dist/.
// Its bin is declared by bin/package.json, a workspace, so `npm install` links node_modules/.bin/pulse and
// `npx pulse` runs that link at once; a bin of the root package would make npx load the whole dependency
// tree twice (the checkout's and its npx cache's) on every call (issue 35).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/app/cli.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('pulse: dist/app/cli.js is missing; run `npm install` (or `npm run build`) in the checkout first');
  process.exit(1);
}
await import(cli);
