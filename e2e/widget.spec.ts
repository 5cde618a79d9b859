// The embeddable widget against the Vite dev server: a host page on another origin (a server in
// this process, 127.0.0.1 on a free port) loads http://127.0.0.1:5173/widget.js with one script
// tag. The launcher lives in an open shadow root on the host page; the chat runs in a frame on
// the widget origin (its engine worker too). The reply equals the CPU reference, and the host can
// neither read the conversation nor drive the chat.

import { expect, test } from '@playwright/test';
import { checkWidget } from './widget-checks.ts';
import { referenceReply, servedPackage, serveHostPages, widgetHostPage } from './ui-helpers.ts';

const MAX_TOKENS = 12;

const pkg = servedPackage();
let host: Awaited<ReturnType<typeof serveHostPages>>;

test.beforeAll(async () => {
  host = await serveHostPages({ '/': widgetHostPage('http://127.0.0.1:5173/widget.js', pkg.modelUrl, MAX_TOKENS) });
});
test.afterAll(async () => {
  await host.close();
});

test('widget from the dev server in a page of another origin: chat equal to the reference, isolated from the host', async ({ page }) => {
  const ref = await referenceReply(pkg.pkgDir, [{ role: 'user', content: 'hello world' }], MAX_TOKENS);
  await checkWidget(page, host.url + '/', 'http://127.0.0.1:5173', ref, 'dev');
});
