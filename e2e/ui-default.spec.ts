// The embedded default model (public/models/index.json names it): the app preselects it with no
// ?model= in the URL, downloads it from its own origin into IndexedDB, loads it (WebGPU on
// SwiftShader here) and chats; the greedy reply equals the CPU reference of the same package.

import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { referenceReply, sendMessage, visibleText, waitReady, waitTurnEnd } from './ui-helpers.ts';

const MAX_TOKENS = 12;
const PROMPT = 'Once upon a time, there was a little cat';

const index = JSON.parse(readFileSync(join(import.meta.dirname, '../public/models/index.json'), 'utf8')) as { default: string | null; models: { id: string; url: string; title?: string }[] };
const def = index.models.find((m) => m.id === index.default);

test('the embedded default model is preselected and its greedy reply equals the CPU reference', async ({ page }) => {
  test.skip(!def, 'public/models/index.json names no default model');
  const ref = await referenceReply(join(import.meta.dirname, '../public/models', def!.url), [{ role: 'user', content: PROMPT }], MAX_TOKENS);
  await page.goto(`/?temperature=0&top_p=1&max_tokens=${MAX_TOKENS}`);
  await expect(page.getByTestId('load-progress')).toBeVisible();
  await waitReady(page);
  await expect(page.getByTestId('model-status')).toContainText(def!.id);
  await expect(page.getByTestId('model-select')).toHaveValue(def!.id);
  const msg = await sendMessage(page, PROMPT);
  expect(await waitTurnEnd(msg)).toBe('done');
  expect(visibleText(await msg.getByTestId('assistant-content').innerText())).toBe(visibleText(ref.content));
  await page.screenshot({ path: 'test-results/ui-screens/0-default-model.png' });
});
