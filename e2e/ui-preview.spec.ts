// The built app, as it ships: `npm run build`, then `vite preview` of dist/ on 127.0.0.1:4173.
// The widget (dist/widget.js) embedded in a page of another origin chats; the app chats, and
// after the preview server is stopped and the browser is offline, a reload starts the app from
// the service worker's precache, loads the model from IndexedDB and chats on.

import { expect, test } from '@playwright/test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { PackageServer } from '../src/store/testing/package-server.ts';
import { checkWidget } from './widget-checks.ts';
import { appUrl, removeTempDirs, lettersPackage, referenceReply, sendMessage, servePackage, serveHostPages, visibleText, waitReady, waitTurnEnd, widgetHostPage, type Reference } from './ui-helpers.ts';

const PREVIEW = 'http://127.0.0.1:4173';
const MAX_TOKENS = 12;

let pkgDir: string;
let server: PackageServer;
let modelUrl: string;
let host: Awaited<ReturnType<typeof serveHostPages>>;
let preview: ChildProcess | null = null;
let ref: Reference;

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

async function startPreview(): Promise<void> {
  if (await answers(`${PREVIEW}/`)) throw new Error(`${PREVIEW} is already taken: stop the other vite preview first (this spec serves the dist/ it builds).`);
  preview = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', '4173', '--strictPort'], { stdio: 'ignore', detached: true });
  for (let i = 0; i < 150 && !(await answers(`${PREVIEW}/widget.js`)); i++) await new Promise((r) => setTimeout(r, 200));
  if (!(await answers(`${PREVIEW}/widget.js`))) throw new Error('vite preview did not serve dist/widget.js');
}

async function stopPreview(): Promise<void> {
  const p = preview;
  preview = null;
  if (!p?.pid) return;
  const exited = new Promise((r) => p.once('exit', r));
  process.kill(-p.pid, 'SIGTERM'); // npx and the vite it started (own process group)
  await exited;
  for (let i = 0; i < 50 && (await answers(`${PREVIEW}/`)); i++) await new Promise((r) => setTimeout(r, 100));
}

test.beforeAll(async () => {
  test.setTimeout(300_000);
  const build = spawnSync('npm', ['run', 'build'], { encoding: 'utf8', timeout: 240_000 });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
  pkgDir = await lettersPackage();
  ({ server, url: modelUrl } = await servePackage(pkgDir));
  ref = await referenceReply(pkgDir, [{ role: 'user', content: 'hello world' }], MAX_TOKENS);
  host = await serveHostPages({ '/': widgetHostPage(`${PREVIEW}/widget.js`, modelUrl, MAX_TOKENS) });
  await startPreview();
});
test.afterAll(async () => {
  await stopPreview();
  await host?.close();
  await server?.close();
  removeTempDirs();
});

test('built widget.js in a page of another origin chats, isolated from the host', async ({ page }) => {
  await checkWidget(page, host.url + '/', PREVIEW, ref, 'preview');
});

test('built app chats; with the server stopped and the browser offline, a reload loads app and model and chats', async ({ page, context }) => {
  const second = await referenceReply(
    pkgDir,
    [
      { role: 'user', content: 'hello world' },
      { role: 'assistant', content: ref.content },
      { role: 'user', content: 'the end' },
    ],
    MAX_TOKENS,
  );
  await page.goto(appUrl(`${PREVIEW}/`, modelUrl, MAX_TOKENS));
  await waitReady(page);
  await expect(page.locator('html')).toHaveAttribute('data-offline-ready', 'true');
  const msg = await sendMessage(page, 'hello world');
  expect(await waitTurnEnd(msg)).toBe('done');
  expect(visibleText(await msg.getByTestId('assistant-content').innerText())).toBe(visibleText(ref.content));

  await stopPreview();
  await server.close();
  await context.setOffline(true);
  await page.reload();
  await waitReady(page);
  await expect(page.getByTestId('assistant-message')).toHaveCount(1);
  const reply = await sendMessage(page, 'the end');
  expect(await waitTurnEnd(reply)).toBe('done');
  expect(visibleText(await reply.getByTestId('assistant-content').innerText())).toBe(visibleText(second.content));
  await page.screenshot({ path: 'test-results/ui-screens/preview-offline-reply.png' });
  await context.setOffline(false);
});
