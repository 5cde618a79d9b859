// Kernel test page: imports every kernel test file (and the GPU layer's), runs the collected tests
// one by one on the page's WebGPU device, and publishes the results on `window.__kernelResults`
// for e2e/kernels.spec.ts. `?filter=substring` runs a subset.

import { collected } from './vitest-shim.ts';

interface Result {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

declare global {
  interface Window {
    __kernelResults?: { done: boolean; results: Result[]; adapter: string; error?: string };
  }
}

const state: NonNullable<Window['__kernelResults']> = { done: false, results: [], adapter: '' };
window.__kernelResults = state;
const log = document.getElementById('log')!;

async function main(): Promise<void> {
  const files = import.meta.glob(['/src/kernels/**/*.test.ts', '/src/gpu/*.test.ts']);
  for (const path of Object.keys(files).sort()) await files[path]();
  const { testContext } = await import('../../src/kernels/testing/harness.ts');
  const ctx = await testContext();
  state.adapter = `${ctx.adapterInfo.vendor} ${ctx.adapterInfo.architecture} ${ctx.adapterInfo.description}`.trim();
  const filter = new URLSearchParams(location.search).get('filter') ?? '';
  for (const t of collected) {
    if (filter && !t.name.includes(filter)) continue;
    const t0 = performance.now();
    try {
      await t.fn();
      state.results.push({ name: t.name, ok: true, ms: performance.now() - t0 });
    } catch (e) {
      state.results.push({ name: t.name, ok: false, ms: performance.now() - t0, error: `${(e as Error).name}: ${(e as Error).message}` });
    }
    const r = state.results[state.results.length - 1];
    log.textContent += `${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.ms.toFixed(0)} ms)${r.error ? `\n     ${r.error}` : ''}\n`;
  }
}

main()
  .catch((e) => {
    state.error = `${(e as Error).name}: ${(e as Error).message}`;
    log.textContent += `runner error: ${state.error}\n`;
  })
  .finally(() => {
    state.done = true;
  });
