// The layers of src/ (docs/adr/001): cli → roles → model → adapters and lib. A local ESLint rule, so
// that it reads our `.js` import specifiers of `.ts` files without a resolver plugin.
//
//   wiring   cli.ts, platform.ts, demo.ts, config-doc.ts,  may import anything
//            commands.ts, control.ts
//   roles    api, provision, ingest, evaluator, delivery,   may import shared layers, never another role
//            simulator
//   shared   model, identity, channels, bus, db, http,      never a role or the wiring; model, channels
//            broker, lib, and the root modules              and lib only what is below them
import path from 'node:path';

const WIRING = new Set(['cli.ts', 'platform.ts', 'demo.ts', 'config-doc.ts', 'commands.ts', 'control.ts']);
const ROLES = new Set(['api', 'provision', 'ingest', 'evaluator', 'delivery', 'simulator']);
/** What a lower layer may import besides itself. */
const BELOW = {
  lib: [],
  db: ['lib'],
  channels: ['lib', 'errors.ts', 'config.ts'],
  model: ['db', 'lib', 'channels', 'errors.ts'],
};

/** The first path segment under src/ ("api", "cli.ts"), or undefined outside src/. */
function layerOf(file, srcDir) {
  const relative = path.relative(srcDir, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  return relative.split(path.sep)[0].replace(/\.js$/, '.ts');
}

function allowed(from, to) {
  if (from === to || WIRING.has(from)) return true;
  if (ROLES.has(to) || WIRING.has(to)) return false; // roles are imported only by the wiring
  if (from in BELOW) return BELOW[from].includes(to);
  return true;
}

export const layersPlugin = {
  rules: {
    layers: {
      meta: {
        type: 'problem',
        docs: { description: 'Roles never import each other; shared layers never import roles (ADR 001).' },
        schema: [],
      },
      create(context) {
        const srcDir = path.join(context.cwd, 'src');
        const from = layerOf(context.filename, srcDir);
        if (!from) return {};
        const check = (node) => {
          const spec = node.source && node.source.type === 'Literal' ? node.source.value : undefined;
          if (typeof spec !== 'string' || !spec.startsWith('.')) return;
          const to = layerOf(path.resolve(path.dirname(context.filename), spec), srcDir);
          if (to && !allowed(from, to))
            context.report({
              node: node.source,
              message: `${from} may not import ${to} (docs/adr/001): move what both need into model/ or lib/`,
            });
        };
        return {
          ImportDeclaration: check,
          ImportExpression: check,
          ExportNamedDeclaration: check,
          ExportAllDeclaration: check,
        };
      },
    },
  },
};
