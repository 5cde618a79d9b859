// The chat app (index.html, src/ui) in real Chromium against the Vite dev server: a tiny test
// model (e2e/ui-helpers.ts) downloaded from a package server of another origin into IndexedDB,
// greedy replies compared with the CPU reference computed in Node, stop mid-stream, regenerate,
// new chat, reload keeps the conversation, storage and delete, a phone-width layout and dark
// mode. Screenshots of the main states go to test-results/ui-screens/.

import { expect, test, type Page } from '@playwright/test';
import { appUrl, referenceReply, sendMessage, servedPackage, visibleText, waitReady, waitTurnEnd, type Reference } from './ui-helpers.ts';

const SHOTS = 'test-results/ui-screens';
const PROMPT = 'hello world';
const MAX_TOKENS = 16;
const LONG = 3000;

const pkg = servedPackage();
let ref: Reference;
let refLong: Reference;

test.beforeAll(async () => {
  ref = await referenceReply(pkg.pkgDir, [{ role: 'user', content: PROMPT }], MAX_TOKENS);
  refLong = await referenceReply(pkg.pkgDir, [{ role: 'user', content: PROMPT }], LONG);
});
test.beforeEach(() => pkg.server.reset());

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

test('download with progress, then a streamed greedy reply equal to the CPU reference; stats filled in', async ({ page }) => {
  expect(ref.completionTokens).toBe(MAX_TOKENS);
  pkg.server.throttle = 16 * 1024; // bytes per second per response: the progress bar has time to show
  await page.goto(appUrl('/', pkg.modelUrl, MAX_TOKENS));
  const progress = page.getByTestId('load-progress');
  await expect(progress).toHaveAttribute('data-phase', 'download');
  await expect(page.getByTestId('load-bytes')).toContainText(/of .*B · .*\/s · .* left/);
  await shot(page, '1-downloading');
  await waitReady(page);
  pkg.server.throttle = 0;
  await expect(progress).toHaveCount(0);
  await shot(page, '2-ready');

  const msg = await sendMessage(page, PROMPT);
  expect(await waitTurnEnd(msg)).toBe('done');
  expect(visibleText(await msg.getByTestId('assistant-content').innerText())).toBe(visibleText(ref.content));
  await expect(page.getByTestId('user-message')).toHaveText(PROMPT);
  await expect(page.getByTestId('stat-tokens')).toHaveText(new RegExp(`/ ${MAX_TOKENS}$`));
  await expect(page.getByTestId('stat-ttft')).toContainText('ms');
  await expect(page.getByTestId('stat-decode')).toContainText('tok/s');
  await shot(page, '3-reply');
  // WebGPU (SwiftShader here): GPU memory, expert cache and the heatmap (all experts resident)
  await expect(page.getByTestId('stat-backend')).toHaveText('webgpu');
  await expect(page.getByTestId('stat-gpu-memory')).toContainText(/\d B|KB|MB/);
  await expect(page.getByTestId('stat-hit-rate')).toHaveText(/%|all resident/);
  await expect(page.getByTestId('expert-heatmap').getByRole('img')).toHaveAttribute('aria-label', /2 layers by 4 experts; 8 of 8 resident; every expert resident, nothing streamed; last token routed to 4, all hits/);
  await page.locator('section[aria-labelledby="stats-title"]').screenshot({ path: `${SHOTS}/3b-stats-heatmap.png` });
});

test('a small expert budget (settings, reload to apply): misses in the heatmap, the same greedy reply', async ({ page }) => {
  await page.goto(appUrl('/', pkg.modelUrl, MAX_TOKENS));
  await waitReady(page);
  await page.getByTestId('setting-expert-budget').fill('0.004'); // 4 KiB: 2 of 4 expert slots per layer
  await page.getByTestId('apply-reload').click();
  await expect(page.getByTestId('apply-reload')).toHaveCount(0);
  await waitReady(page);
  const msg = await sendMessage(page, PROMPT);
  expect(await waitTurnEnd(msg)).toBe('done');
  expect(visibleText(await msg.getByTestId('assistant-content').innerText())).toBe(visibleText(ref.content));
  const heat = page.getByTestId('expert-heatmap').getByRole('img');
  await expect(heat).toHaveAttribute('aria-label', /4 of 8 resident; last token \d hits, \d misses/);
  const rate = Number((await page.getByTestId('stat-hit-rate').innerText()).replace('%', ''));
  expect(rate).toBeLessThan(100);
  await page.locator('section[aria-labelledby="stats-title"]').screenshot({ path: `${SHOTS}/3c-stats-small-budget.png` });
});

test('stop mid-stream keeps a prefix of the greedy reply; regenerate and new chat', async ({ page }) => {
  await page.goto(appUrl('/', pkg.modelUrl, LONG));
  await waitReady(page);
  const msg = await sendMessage(page, PROMPT);
  const stop = page.getByTestId('stop-button');
  await expect(stop).toBeVisible();
  await expect(msg.getByTestId('assistant-content')).toHaveText(/\S{3}/);
  await shot(page, '4-streaming');
  await stop.click();
  expect(await waitTurnEnd(msg)).toBe('stopped');
  await expect(page.getByTestId('send-button')).toBeVisible();
  const partial = visibleText(await msg.getByTestId('assistant-content').innerText());
  expect(partial.length).toBeGreaterThan(0);
  expect(partial.length).toBeLessThan(visibleText(refLong.content).length);
  expect(visibleText(refLong.content).startsWith(partial)).toBe(true);
  await expect(msg).toContainText('Stopped.');
  await shot(page, '5-stopped');

  // regenerate replaces the turn: greedy again, so the same text (short this time)
  await page.getByTestId('setting-max-tokens').fill(String(MAX_TOKENS));
  await page.getByTestId('regenerate-button').click();
  await expect(page.getByTestId('assistant-message')).toHaveCount(1);
  const again = page.getByTestId('assistant-message').first();
  expect(await waitTurnEnd(again)).toBe('done');
  expect(visibleText(await again.getByTestId('assistant-content').innerText())).toBe(visibleText(ref.content));

  await page.getByTestId('new-chat-button').click();
  await expect(page.getByTestId('assistant-message')).toHaveCount(0);
});

test('a reload keeps the conversation (IndexedDB) and loads the model from the cache without downloading', async ({ page }) => {
  await page.goto(appUrl('/', pkg.modelUrl, MAX_TOKENS));
  await waitReady(page);
  const msg = await sendMessage(page, PROMPT);
  await waitTurnEnd(msg);
  const text = await msg.getByTestId('assistant-content').innerText();
  const fetched = pkg.server.requests.length;
  expect(fetched).toBeGreaterThan(1);

  await page.reload();
  await waitReady(page);
  expect(pkg.server.requests.length).toBe(fetched); // weights came from IndexedDB
  await expect(page.getByTestId('user-message')).toHaveText(PROMPT);
  await expect(page.getByTestId('assistant-message')).toHaveCount(1);
  await expect(page.getByTestId('assistant-message').getByTestId('assistant-content')).toHaveText(text);
  await shot(page, '6-after-reload');
});

test('storage lists the model with its size, delete removes it; Shift+Enter adds a line, Enter sends', async ({ page }) => {
  await page.goto(appUrl('/', pkg.modelUrl, 4));
  await waitReady(page);
  const item = page.getByTestId('storage-item').filter({ hasText: 'letters-moe' });
  await expect(item).toContainText(/\d+(\.\d+)? KB/);

  const input = page.getByTestId('chat-input');
  await input.fill('ab');
  await input.press('Shift+Enter');
  await input.pressSequentially('cd');
  await expect(input).toHaveValue('ab\ncd');
  await expect(page.getByTestId('assistant-message')).toHaveCount(0);
  await input.press('Enter');
  await expect(page.getByTestId('assistant-message')).toHaveCount(1);
  await waitTurnEnd(page.getByTestId('assistant-message').first());

  await item.getByTestId('storage-delete').click();
  await item.getByTestId('storage-delete-confirm').click();
  await expect(page.getByTestId('storage-item')).toHaveCount(0);
  await expect(page.getByTestId('model-status')).toHaveText('No model loaded');
});

test('phone width in dark mode: the panel is a drawer, the chat works', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 780 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(appUrl('/', pkg.modelUrl, MAX_TOKENS));
  await waitReady(page);
  await expect(page.locator('#side-panel')).toBeHidden();
  const msg = await sendMessage(page, PROMPT);
  await waitTurnEnd(msg);
  expect(visibleText(await msg.getByTestId('assistant-content').innerText())).toBe(visibleText(ref.content));
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(bg).toBe('rgb(11, 17, 32)');
  await shot(page, '7-phone-dark');
  await page.getByRole('button', { name: 'Model & settings' }).click();
  await expect(page.locator('#side-panel')).toBeVisible();
  await shot(page, '8-phone-drawer');
});
