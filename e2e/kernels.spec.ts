// The kernel suite (src/kernels/**/*.test.ts and src/gpu/*.test.ts) in headless Chromium on
// WebGPU: the page imports the same test files as vitest does and checks every kernel against
// the CPU reference in the page. Run: npx playwright test e2e/kernels.spec.ts

import { expect, test } from '@playwright/test';
import type { ViteDevServer } from 'vite';
import { startKernelServer } from '../tests/browser/server.ts';

let server: ViteDevServer;
let url: string;

test.beforeAll(async () => {
  ({ server, url } = await startKernelServer());
});

test.afterAll(async () => {
  await server?.close();
});

test('kernel suite agrees with the CPU reference in Chromium', async ({ page }) => {
  test.setTimeout(480_000); // the suite takes 3.4-4 minutes on SwiftShader
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.__kernelResults?.done === true, undefined, { timeout: 420_000 });
  const state = await page.evaluate(() => window.__kernelResults!);
  const failed = state.results.filter((r) => !r.ok);
  const total = state.results.reduce((s, r) => s + r.ms, 0);
  console.log(`adapter: ${state.adapter}; ${state.results.length} tests, ${failed.length} failed, ${(total / 1000).toFixed(1)} s`);
  for (const f of failed) console.log(`FAIL ${f.name}\n  ${f.error}`);
  expect(state.error, `runner error; console:\n${logs.join('\n')}`).toBeUndefined();
  expect(state.results.length).toBeGreaterThan(40);
  expect(failed.map((f) => `${f.name}: ${f.error}`)).toEqual([]);
});
