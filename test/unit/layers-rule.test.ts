// The lint rule that holds the floors of ADR 001 (eslint/layers.js), on code it must refuse and allow.
import path from 'node:path';
import { ESLint, Linter } from 'eslint';
import { describe, expect, it } from 'vitest';
import { layersPlugin } from '../../eslint/layers.js';

const cwd = path.resolve(import.meta.dirname, '../..');
const linter = new Linter({ cwd });
const config = [{ files: ['**/*.ts'], plugins: { pulse: layersPlugin }, rules: { 'pulse/layers': 'error' as const } }];
const problems = (file: string, code: string) =>
  linter.verify(code, config, path.join(cwd, file)).map((message) => message.message);

describe('layers lint rule', () => {
  it('refuses a role importing another role, also by export and dynamic import', () => {
    expect(problems('src/api/x.ts', `import { start } from '../ingest/index.js';`)).toEqual([
      'api may not import ingest (docs/adr/001): move what both need down a floor',
    ]);
    expect(problems('src/ingest/x.ts', `export { sha256Hex } from '../provision/service.js';`)).toHaveLength(1);
    expect(problems('src/delivery/x.ts', `const m = await import('../evaluator/engine.js');`)).toHaveLength(1);
    expect(problems('src/api/x.ts', `import '../broker-logins/sync.js';`)).toHaveLength(1);
  });

  it('refuses any module below the app importing the app', () => {
    expect(problems('src/bus/x.ts', `import '../app/platform.js';`)).toHaveLength(1);
    expect(problems('src/ingest/x.ts', `import '../app/data-dir.js';`)).toHaveLength(1);
    expect(problems('src/roles.ts', `import './app/platform.js';`)).toHaveLength(1);
  });

  it('refuses the model and the adapters importing upwards, and adapters importing each other', () => {
    expect(problems('src/model/x.ts', `import '../api/index.js';`)).toHaveLength(1);
    expect(problems('src/model/x.ts', `import '../bus/index.js';`)).toHaveLength(1);
    expect(problems('src/bus/x.ts', `import { ALERT_COLUMNS } from '../model/alerts.js';`)).toEqual([
      'bus may not import model (docs/adr/001): move what both need down a floor',
    ]);
    expect(problems('src/broker/x.ts', `import '../model/provisioning.js';`)).toHaveLength(1);
    expect(problems('src/http/x.ts', `import '../db/database.js';`)).toHaveLength(1);
    expect(problems('src/broker/x.ts', `import '../bus/index.js';`)).toHaveLength(1);
    expect(problems('src/channels/x.ts', `import '../roles.js';`)).toHaveLength(1);
  });

  it('refuses the ground importing anything above it', () => {
    expect(problems('src/lib/x.ts', `import '../model/routes.js';`)).toHaveLength(1);
    expect(problems('src/contracts/x.ts', `import '../model/telemetry.js';`)).toHaveLength(1);
    expect(problems('src/lib/x.ts', `import '../config.js';`)).toHaveLength(1);
  });

  it('refuses a folder or file under src/ that stands on no floor', () => {
    expect(problems('src/stray/x.ts', `export const x = 1;`)).toEqual([
      'src/stray stands on no floor: give it one in eslint/layers.js (docs/adr/001)',
    ]);
    expect(problems('src/stray.ts', `export const x = 1;`)).toHaveLength(1);
  });

  it('allows imports down the floors, within a layer, and the app anything', () => {
    expect(problems('src/api/customer/x.ts', `import '../../model/routes.js'; import '../auth.js';`)).toEqual([]);
    expect(problems('src/api/x.ts', `import '../broker/dynsec.js'; import '../identity/users.js';`)).toEqual([]);
    expect(
      problems('src/model/x.ts', `import '../db/database.js'; import '../errors.js'; import './alerts.js';`),
    ).toEqual([]);
    expect(
      problems('src/bus/x.ts', `import '../contracts/messages.js'; import '../lib/uuid.js'; import './index.js';`),
    ).toEqual([]);
    expect(problems('src/commands/x.ts', `import '../roles.js'; import '../model/commands.js';`)).toEqual([]);
    expect(problems('src/app/cli.ts', `import '../ingest/index.js'; import '../api/index.js';`)).toEqual([]);
    expect(problems('test/x.ts', `import '../src/ingest/index.js';`)).toEqual([]);
  });

  it("fails the project's own lint on a wrong-way import planted in src/", async () => {
    const eslint = new ESLint({ cwd });
    const [planted] = await eslint.lintText(
      `import type { AcceptedMessage } from '../model/telemetry.js';\nexport type Planted = AcceptedMessage;\n`,
      { filePath: path.join(cwd, 'src/bus/planted.ts') },
    );
    expect(planted!.messages.map((message) => [message.ruleId, message.severity])).toEqual([['pulse/layers', 2]]);
  });
});
