#!/usr/bin/env node
// `npm run bench -- <name> [options]`: runs bench/main.ts through tsx (no build step). The raw
// hooks make `import code from './k.wgsl?raw'` work outside Vite.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('../src/gpu/raw-hooks.mjs', import.meta.url);
const { main } = await import('../bench/main.ts');
process.exitCode = await main(process.argv.slice(2));
