// Renders the configuration reference from the schema, so the docs cannot drift from the code.
import { variables } from '../config.js';

/** The table alone, also embedded in the README between its configuration markers. */
export function renderConfigurationTable(): string {
  const rows = Object.entries(variables).map(([name, variable]) => {
    const parsed = variable.schema.safeParse(undefined);
    const fallback =
      'defaultDoc' in variable && variable.defaultDoc
        ? variable.defaultDoc
        : parsed.success && parsed.data !== undefined
          ? `\`${String(parsed.data)}\``
          : 'required';
    return `| \`${name}\` | ${fallback} | ${variable.doc} |`;
  });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export function renderConfigurationDoc(): string {
  return [
    '# Configuration',
    '',
    'Pulse reads these environment variables once at start and stops with one line per invalid value,',
    'naming the variable and what is allowed. An empty value counts as unset.',
    'This file is generated from `src/config.ts` by `npm run config-docs`.',
    '',
    renderConfigurationTable(),
    '',
    'Runtime settings that operators change without a restart (ingest mode, payload limits, device rate',
    'limits) live in the `app_settings` table, not in the environment.',
    '',
  ].join('\n');
}

const START = '<!-- configuration:start -->';
const END = '<!-- configuration:end -->';

/** The README with its configuration table replaced by the current one. */
export function withConfigurationTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md needs the markers ${START} and ${END}`);
  return `${readme.slice(0, start + START.length)}\n${renderConfigurationTable()}\n${readme.slice(end)}`;
}
