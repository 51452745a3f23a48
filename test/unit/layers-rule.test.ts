// The lint rule that holds the layers of ADR 001 (eslint/layers.js), on code it must refuse and allow.
import path from 'node:path';
import { Linter } from 'eslint';
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
      'api may not import ingest (docs/adr/001): move what both need into model/ or lib/',
    ]);
    expect(problems('src/ingest/x.ts', `export { sha256Hex } from '../provision/service.js';`)).toHaveLength(1);
    expect(problems('src/delivery/x.ts', `const m = await import('../evaluator/engine.js');`)).toHaveLength(1);
  });

  it('refuses a shared layer importing a role or the wiring, and model or lib importing upwards', () => {
    expect(problems('src/model/x.ts', `import '../api/index.js';`)).toHaveLength(1);
    expect(problems('src/bus/x.ts', `import '../platform.js';`)).toHaveLength(1);
    expect(problems('src/lib/x.ts', `import '../model/routes.js';`)).toHaveLength(1);
    expect(problems('src/model/x.ts', `import '../bus/index.js';`)).toHaveLength(1);
  });

  it('allows roles to use shared layers, layers to import themselves, and the wiring anything', () => {
    expect(problems('src/api/customer/x.ts', `import '../../model/routes.js'; import '../auth.js';`)).toEqual([]);
    expect(
      problems('src/model/x.ts', `import '../db/database.js'; import '../errors.js'; import './alerts.js';`),
    ).toEqual([]);
    expect(problems('src/cli.ts', `import './ingest/index.js'; import './api/index.js';`)).toEqual([]);
    expect(problems('test/x.ts', `import '../src/ingest/index.js';`)).toEqual([]);
  });
});
