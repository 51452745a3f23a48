// The floors of src/ (docs/adr/001), from the top. A local ESLint rule, so that it reads our `.js` import
// specifiers of `.ts` files without a resolver plugin: it compares the first path segment under src/.
//
//   app        the program: CLI commands, the wiring (platform.ts), the     may import anything
//              control route
//   roles      api, provision, ingest, evaluator, delivery, simulator,      never another role
//              broker-logins
//   shared     roles.ts (the role contract), commands, identity, import     what roles share, above the model
//   model      one module per entity: its SQL, rows and use cases
//   adapters   db, bus, broker, http, channels                              never each other
//   ground     contracts, lib, config.ts, errors.ts
//
// Every folder and file directly under src/ stands on one floor: a new one fails the lint until it is given one.
import path from 'node:path';

const APP = 'app';
const ROLES = new Set(['api', 'provision', 'ingest', 'evaluator', 'delivery', 'simulator', 'broker-logins']);
const GROUND = ['contracts', 'lib', 'config.ts', 'errors.ts'];
const ADAPTERS = ['db', 'bus', 'broker', 'http', 'channels'];
/** What each module below the roles may import besides itself: only what stands below it. */
const BELOW = {
  'roles.ts': [...ADAPTERS, ...GROUND],
  commands: ['roles.ts', 'model', ...ADAPTERS, ...GROUND],
  identity: ['model', ...ADAPTERS, ...GROUND],
  import: ['model', ...ADAPTERS, ...GROUND],
  model: ['db', 'channels', ...GROUND],
  ...Object.fromEntries(ADAPTERS.map((adapter) => [adapter, GROUND])),
  contracts: [],
  lib: [],
  'config.ts': ['lib'],
  'errors.ts': [],
};

/** The first path segment under src/ ("api", "roles.ts"), or undefined outside src/. */
function layerOf(file, srcDir) {
  const relative = path.relative(srcDir, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  return relative.split(path.sep)[0].replace(/\.js$/, '.ts');
}

const onAFloor = (layer) => layer === APP || ROLES.has(layer) || layer in BELOW;

function allowed(from, to) {
  if (from === to || from === APP) return true;
  if (ROLES.has(to) || to === APP) return false; // roles are started by the app alone
  if (ROLES.has(from)) return true;
  return BELOW[from].includes(to);
}

export const layersPlugin = {
  rules: {
    layers: {
      meta: {
        type: 'problem',
        docs: { description: 'Imports point down the floors of src/; roles never import each other (ADR 001).' },
        schema: [],
      },
      create(context) {
        const srcDir = path.join(context.cwd, 'src');
        const from = layerOf(context.filename, srcDir);
        if (!from) return {};
        if (!onAFloor(from)) {
          return {
            Program(node) {
              context.report({
                node,
                message: `src/${from} stands on no floor: give it one in eslint/layers.js (docs/adr/001)`,
              });
            },
          };
        }
        const check = (node) => {
          const spec = node.source && node.source.type === 'Literal' ? node.source.value : undefined;
          if (typeof spec !== 'string' || !spec.startsWith('.')) return;
          const to = layerOf(path.resolve(path.dirname(context.filename), spec), srcDir);
          if (to && onAFloor(to) && !allowed(from, to))
            context.report({
              node: node.source,
              message: `${from} may not import ${to} (docs/adr/001): move what both need down a floor`,
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
