// Writes docs/configuration.md and the README's configuration table from the zod schema in
// src/config.ts (`npm run config-docs`); a test fails when either disagrees with the schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigurationDoc, withConfigurationTable } from '../src/app/config-doc.js';

writeFileSync('docs/configuration.md', renderConfigurationDoc());
writeFileSync('README.md', withConfigurationTable(readFileSync('README.md', 'utf8')));
console.log('wrote docs/configuration.md and the table in README.md');
