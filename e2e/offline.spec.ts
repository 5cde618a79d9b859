// Offline use against the Vite dev server: one visit downloads the model into IndexedDB and lets
// the service worker cache the app shell; then, with the package server gone and the browser
// offline, a reload starts the app from the service worker's cache, loads the model from
// IndexedDB, shows the stored conversation and chats on (the reply equals the CPU reference).

import { expect, test } from '@playwright/test';
import { appUrl, referenceReply, sendMessage, servedPackage, visibleText, waitReady, waitTurnEnd } from './ui-helpers.ts';

const MAX_TOKENS = 12;

const pkg = servedPackage();

test('after one visit, a reload with the network off loads the app and the model and chats', async ({ page, context }) => {
  const { pkgDir, server, modelUrl } = pkg;
  const first = await referenceReply(pkgDir, [{ role: 'user', content: 'hello world' }], MAX_TOKENS);
  const second = await referenceReply(
    pkgDir,
    [
      { role: 'user', content: 'hello world' },
      { role: 'assistant', content: first.content },
      { role: 'user', content: 'the end' },
    ],
    MAX_TOKENS,
  );

  await page.goto(appUrl('/', modelUrl, MAX_TOKENS));
  await waitReady(page);
  await expect(page.locator('html')).toHaveAttribute('data-offline-ready', 'true');
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
  const msg = await sendMessage(page, 'hello world');
  await waitTurnEnd(msg);
  expect(visibleText(await msg.innerText())).toContain(visibleText(first.content));

  await server.close(); // the package's origin is gone for good
  await context.setOffline(true);
  await page.reload();
  await waitReady(page);
  await expect(page.getByTestId('assistant-message')).toHaveCount(1);
  await page.screenshot({ path: 'test-results/ui-screens/9-offline-ready.png' });
  // the network is really off, for the page and for the service worker (whose fetches the app
  // shell would otherwise come through)
  const probe = async () => {
    try {
      const r = await fetch(`/package.json?probe=${Date.now()}`, { cache: 'no-store' });
      return `status ${r.status}`;
    } catch {
      return 'failed';
    }
  };
  expect(await page.evaluate(probe)).toBe('failed');
  const [sw] = context.serviceWorkers();
  expect(sw, 'service worker').toBeTruthy();
  expect(await sw.evaluate(probe)).toBe('failed');

  const reply = await sendMessage(page, 'the end');
  expect(await waitTurnEnd(reply)).toBe('done');
  expect(visibleText(await reply.getByTestId('assistant-content').innerText())).toBe(visibleText(second.content));
  await page.screenshot({ path: 'test-results/ui-screens/10-offline-reply.png' });
  await context.setOffline(false);
});
