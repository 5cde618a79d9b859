// The CPU fallback: Chromium launched without --enable-unsafe-webgpu has no WebGPU adapter. The
// app says so, loads the model on the CPU backend, says that too, and chats (the reply equals
// the CPU reference computed in Node).

import { expect, test } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { appUrl, referenceReply, sendMessage, servedPackage, visibleText, waitReady, waitTurnEnd } from './ui-helpers.ts';

const MAX_TOKENS = 10;

test.use({ launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu') } });

const pkg = servedPackage();

test('without WebGPU the app falls back to the CPU backend, says so, and chats', async ({ page }) => {
  const ref = await referenceReply(pkg.pkgDir, [{ role: 'user', content: 'hello world' }], MAX_TOKENS);
  await page.goto(appUrl('/', pkg.modelUrl, MAX_TOKENS));
  expect(await page.evaluate(async () => !(navigator as Navigator & { gpu?: GPU }).gpu || (await navigator.gpu.requestAdapter()) === null)).toBe(true);
  await waitReady(page);
  await expect(page.getByTestId('model-status')).toContainText('(CPU)');
  const notice = page.getByTestId('backend-notice');
  await expect(notice).toContainText('WebGPU is not available here');
  await expect(notice).toContainText('CPU backend');
  const msg = await sendMessage(page, 'hello world');
  expect(await waitTurnEnd(msg)).toBe('done');
  expect(visibleText(await msg.getByTestId('assistant-content').innerText())).toBe(visibleText(ref.content));
  await expect(page.getByTestId('stat-backend')).toHaveText('cpu');
  await page.screenshot({ path: 'test-results/ui-screens/11-cpu-fallback.png' });
});
