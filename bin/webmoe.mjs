#!/usr/bin/env node
// `npx webmoe`: runs the TypeScript CLI directly through tsx, so no build step is needed after `npm ci`.
import { register as registerTsx } from 'tsx/esm/api';
import { register } from 'node:module';

registerTsx();
// `import shader from './k.wgsl?raw'` (Vite syntax) outside Vite
register('../src/gpu/raw-hooks.mjs', import.meta.url);
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
