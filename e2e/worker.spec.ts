// The engine in a real Web Worker in Chromium, through the Comlink client: reload a package served
// by the dev server (downloaded into IndexedDB), chat non-streaming and streaming, interrupt
// mid-stream, reload from the cache offline. On the CPU backend the worker's replies are compared
// with the same engine run in Node on the same package (greedy decoding); with backend 'auto' the
// worker picks the WebGPU runner (SwiftShader here) and the same API holds.
// Run: npx playwright test e2e/worker.spec.ts

import { expect, test, type Page } from '@playwright/test';
import { createNodeEngine } from '../src/api/node.ts';
import type { ChatCompletionRequest } from '../src/api/types.ts';
import { PACKAGE_ID, PACKAGE_PATH, enginePackage } from './engine-package.ts';

const PAGE = '/e2e/pages/worker.html';
const ASK: ChatCompletionRequest = { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Tell me a story.' }], max_tokens: 24, ignore_eos: true };

let packageDir: string;

test.setTimeout(120_000);

test.beforeAll(async () => {
  packageDir = await enginePackage();
});

async function open(page: Page): Promise<void> {
  await page.goto(PAGE);
  await expect(page).toHaveTitle('engine-ready');
}

test('worker round trip: download into IndexedDB, chat, stream, interrupt, stats, reload offline', async ({ page, context }) => {
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await open(page);
  await page.evaluate((id) => window.engineTest.deleteModelFromCache(id), PACKAGE_ID);

  // reload: package URL -> download -> verify -> load (CPU reference in the worker)
  const { result, reports } = await page.evaluate((u) => window.engineTest.reload(u, { backend: 'cpu' }), PACKAGE_PATH);
  expect(result.ok, JSON.stringify(result) + logs.join('\n')).toBe(true);
  const phases = [...new Set(reports.map((r) => r.phase))];
  expect(phases).toEqual(['download', 'verify', 'load', 'ready']);
  expect(reports[reports.length - 1].progress).toBe(1);
  for (let i = 1; i < reports.length; i++) expect(reports[i].progress).toBeGreaterThanOrEqual(reports[i - 1].progress);
  expect(await page.evaluate((id) => window.engineTest.hasModelInCache(id), PACKAGE_ID)).toBe(true);

  // greedy: the worker's reply equals the Node engine's on the same package
  const node = createNodeEngine({ backend: 'cpu' });
  await node.reload(packageDir);
  const want = await node.chat.completions.create({ ...ASK, temperature: 0 });
  await node.unload();
  const greedy = await page.evaluate((r) => window.engineTest.chat(r), { ...ASK, temperature: 0 });
  expect(greedy.ok, JSON.stringify(greedy)).toBe(true);
  if (!greedy.ok) return;
  expect(greedy.value.model).toBe(PACKAGE_ID);
  expect(greedy.value.choices[0].message.content).toBe(want.choices[0].message.content);
  expect(greedy.value.usage).toMatchObject({ prompt_tokens: want.usage!.prompt_tokens, completion_tokens: 24 });

  // sampling with a seed: streaming equals non-streaming
  const sampled = { ...ASK, temperature: 1, seed: 5, stream_options: { include_usage: true } };
  const whole = await page.evaluate((r) => window.engineTest.chat({ ...r, stream_options: undefined }), sampled);
  const streamed = await page.evaluate((r) => window.engineTest.stream(r), sampled);
  expect(whole.ok && streamed.ok, JSON.stringify([whole, streamed])).toBe(true);
  if (!whole.ok || !streamed.ok) return;
  const chunks = streamed.value;
  expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
  expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(whole.value.choices[0].message.content);
  expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('length');
  expect(chunks[chunks.length - 1]).toMatchObject({ choices: [], usage: { completion_tokens: 24 } });
  expect(await page.evaluate(() => window.engineTest.getMessage())).toBe(whole.value.choices[0].message.content);

  // interrupt mid-stream
  const cut = await page.evaluate((r) => window.engineTest.stream(r, 3), { ...ASK, temperature: 1, seed: 9, max_tokens: 200, stream_options: { include_usage: true } });
  expect(cut.ok, JSON.stringify(cut)).toBe(true);
  if (!cut.ok) return;
  expect(cut.value[cut.value.length - 2].choices[0].finish_reason).toBe('abort');
  expect(cut.value[cut.value.length - 1].usage!.completion_tokens).toBeLessThan(200);

  // a bad request: the named class, rebuilt on the page side
  const bad = await page.evaluate((r) => window.engineTest.badRequest(r), { ...ASK, temperature: -1 });
  expect(bad.ok ? null : bad.error).toMatchObject({ name: 'InvalidRequestError', param: 'temperature', isInstance: true });

  const stats = await page.evaluate(() => window.engineTest.stats());
  expect(stats).toMatchObject({ model: PACKAGE_ID, backend: 'cpu' });
  expect(stats.backendNote).toBeNull();
  expect(stats.decodeTokensPerSecond).toBeGreaterThan(0);
  expect(await page.evaluate(() => window.engineTest.statsText())).toMatch(/^prefill: .* decode: /);

  // a fresh page offline: the model loads from IndexedDB by its id
  const second = await context.newPage();
  await open(second);
  await context.setOffline(true);
  try {
    const again = await second.evaluate((id) => window.engineTest.reload(id, { backend: 'cpu' }), PACKAGE_ID);
    expect(again.result.ok, JSON.stringify(again.result)).toBe(true);
    expect(again.reports.map((r) => r.phase)).not.toContain('download');
    const offline = await second.evaluate((r) => window.engineTest.chat(r), { ...ASK, temperature: 0 });
    expect(offline.ok && offline.value.choices[0].message.content).toBe(want.choices[0].message.content);
  } finally {
    await context.setOffline(false);
  }
});

test("backend 'auto' in Chromium: the WebGPU runner in the worker, same API (stream = whole, interrupt, GPU stats)", async ({ page }) => {
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  await open(page);
  const { result, reports } = await page.evaluate((u) => window.engineTest.reload(u), PACKAGE_PATH);
  expect(result.ok, JSON.stringify(result) + logs.join('\n')).toBe(true);
  expect(reports.some((r) => r.phase === 'load' && /GPU/.test(r.text))).toBe(true);
  const loaded = await page.evaluate(() => window.engineTest.stats());
  expect(loaded, JSON.stringify(loaded)).toMatchObject({ backend: 'webgpu', backendNote: null });

  const sampled = { ...ASK, temperature: 1, seed: 5, max_tokens: 12 };
  const whole = await page.evaluate((r) => window.engineTest.chat(r), sampled);
  const streamed = await page.evaluate((r) => window.engineTest.stream(r), sampled);
  expect(whole.ok && streamed.ok, JSON.stringify([whole, streamed])).toBe(true);
  if (!whole.ok || !streamed.ok) return;
  expect(streamed.value.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(whole.value.choices[0].message.content);
  expect(whole.value.usage!.completion_tokens).toBe(12);

  const cut = await page.evaluate((r) => window.engineTest.stream(r, 3), { ...ASK, temperature: 1, seed: 9, max_tokens: 200, stream_options: { include_usage: true } });
  expect(cut.ok, JSON.stringify(cut)).toBe(true);
  if (!cut.ok) return;
  expect(cut.value[cut.value.length - 2].choices[0].finish_reason).toBe('abort');
  expect(cut.value[cut.value.length - 1].usage!.completion_tokens).toBeLessThan(200);

  const stats = await page.evaluate(() => window.engineTest.stats());
  expect(stats.gpuMemoryBytes).toBeGreaterThan(0);
  expect(stats.expertCache!.hits + stats.expertCache!.misses).toBeGreaterThan(0);
  expect(await page.evaluate(() => window.engineTest.statsText())).toMatch(/expert cache: .*GPU memory: .*backend: webgpu/);
  await page.evaluate(() => window.engineTest.unload());
});
