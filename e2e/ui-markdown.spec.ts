// How a reply is shown: a model with an exact reply in the MiniMax-M2 format (reasoning, then
// markdown with bold text, a code block and raw HTML) streams into a collapsible reasoning block
// and rendered markdown; raw HTML stays text; the code block's copy button copies the code.

import { expect, test } from '@playwright/test';
import { appUrl, markdownPackage, referenceReply, sendMessage, servedPackage, waitReady, waitTurnEnd } from './ui-helpers.ts';

const pkg = servedPackage(markdownPackage, 'markdown-moe');

test('reasoning is collapsible, markdown renders without raw HTML, code blocks copy', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const ref = await referenceReply(pkg.pkgDir, [{ role: 'user', content: 'hi' }], 32);
  expect(ref.reasoning).toBe('Let me look');

  await page.goto(appUrl('/', pkg.modelUrl, 32));
  await waitReady(page);
  const msg = await sendMessage(page, 'hi');
  expect(await waitTurnEnd(msg)).toBe('done');

  // reasoning: collapsed once the answer is there, opens on click
  const reasoning = msg.getByTestId('reasoning');
  await expect(reasoning).not.toHaveAttribute('open', '');
  await expect(reasoning.locator('summary')).toHaveText('Reasoning');
  await expect(reasoning.locator('.reasoning-body')).toBeHidden();
  await reasoning.locator('summary').click();
  await expect(reasoning.locator('.reasoning-body')).toHaveText(ref.reasoning!);

  // markdown: bold, a code block; raw HTML escaped (shown as text, no <b> element)
  const content = msg.getByTestId('assistant-content');
  await expect(content.locator('strong')).toHaveText('bold');
  await expect(content.locator('pre code')).toHaveText('console.log(1);\n');
  await expect(content.locator('b')).toHaveCount(0);
  await expect(content).toContainText('Raw <b>html</b> stays text.');
  await page.screenshot({ path: 'test-results/ui-screens/12-markdown-reasoning.png' });

  await content.locator('.code-block').getByTestId('copy-button').click();
  await expect(content.locator('.code-block').getByTestId('copy-button')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('console.log(1);\n');
});
