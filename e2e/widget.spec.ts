// The embeddable widget against the Vite dev server: a host page on another origin (a server in
// this process, 127.0.0.1 on a free port) loads http://127.0.0.1:5173/widget.js with one script
// tag. The launcher lives in an open shadow root on the host page; the chat runs in a frame on
// the widget origin (its engine worker too). The reply equals the CPU reference, and the host can
// neither read the conversation nor drive the chat.

import { expect, test } from '@playwright/test';
import type { PackageServer } from '../src/store/testing/package-server.ts';
import { checkWidget } from './widget-checks.ts';
import { lettersPackage, removeTempDirs, referenceReply, servePackage, serveHostPages, widgetHostPage } from './ui-helpers.ts';

const MAX_TOKENS = 12;

let pkgDir: string;
let server: PackageServer;
let modelUrl: string;
let host: Awaited<ReturnType<typeof serveHostPages>>;

test.beforeAll(async () => {
  pkgDir = await lettersPackage();
  ({ server, url: modelUrl } = await servePackage(pkgDir));
  host = await serveHostPages({ '/': widgetHostPage('http://127.0.0.1:5173/widget.js', modelUrl, MAX_TOKENS) });
});
test.afterAll(async () => {
  await host.close();
  await server.close();
  removeTempDirs();
});

test('widget from the dev server in a page of another origin: chat equal to the reference, isolated from the host', async ({ page }) => {
  const ref = await referenceReply(pkgDir, [{ role: 'user', content: 'hello world' }], MAX_TOKENS);
  await checkWidget(page, host.url + '/', 'http://127.0.0.1:5173', ref, 'dev');
});
