import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigurationDoc, withConfigurationTable } from '../../src/app/config-doc.js';

describe('configuration docs (regenerate with `npm run config-docs`)', () => {
  it('docs/configuration.md matches the schema', () => {
    expect(readFileSync('docs/configuration.md', 'utf8')).toBe(renderConfigurationDoc());
  });

  it('the README table matches the schema', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toBe(withConfigurationTable(readme));
  });

  it('the README opens with the two commands', () => {
    const commands = [...readFileSync('README.md', 'utf8').matchAll(/```sh\n(.*)\n```/g)].slice(0, 2).map((m) => m[1]);
    expect(commands).toEqual(['npm install && npm start', 'npm install && npm test']);
  });
});
