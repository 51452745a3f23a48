#!/usr/bin/env node
// Thin launcher so `npx pulse` works from a checkout: the build (run by `npm install`) puts the CLI in dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('pulse: dist/cli.js is missing; run `npm install` (or `npm run build`) in the checkout first');
  process.exit(1);
}
await import(cli);
