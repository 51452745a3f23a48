import type { ESLint } from 'eslint';

export const layersPlugin: ESLint.Plugin;
