// Node module hooks that make `import text from './file.wgsl?raw'` work outside Vite (the CLI and
// benchmarks run TypeScript through tsx). Register after tsx:
//   import { register } from 'node:module';
//   register('../src/gpu/raw-hooks.mjs', import.meta.url);
import { readFile } from 'node:fs/promises';

export async function resolve(specifier, context, nextResolve) {
  if (specifier.endsWith('?raw')) {
    const r = await nextResolve(specifier.slice(0, -4), context);
    return { url: `${r.url}?raw`, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (url.endsWith('?raw')) {
    const text = await readFile(new URL(url.slice(0, -4)), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
