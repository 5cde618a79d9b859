// The chat app and the widget with a remote endpoint: real `webmoe serve` processes on other
// ports (other origins) serving the UI specs' test package, the app on the Vite dev server.
// Greedy replies equal the CPU reference; an API key entered in the app is kept in IndexedDB and
// sent only to its endpoint; CORS, auth and network failures show messages that say what to do.

import { expect, test, type Page, type Request } from '@playwright/test';
import { startServe, type ServeProcess } from '../tests/serve/serve-process.ts';
import { lettersPackage, referenceReply, sendMessage, serveHostPages, visibleText, waitReady, waitTurnEnd, type Reference } from './ui-helpers.ts';

const APP = 'http://127.0.0.1:5173';
const MAX_TOKENS = 12;
const PROMPT = 'hello world';
const KEY = 'e2e-secret-key';

let pkgDir: string;
let ref: Reference;
/** open to the app's origin */
let open: ServeProcess;
/** needs KEY */
let keyed: ServeProcess;

test.beforeAll(async () => {
  pkgDir = await lettersPackage();
  ref = await referenceReply(pkgDir, [{ role: 'user', content: PROMPT }], MAX_TOKENS);
  [open, keyed] = await Promise.all([
    startServe(['--model', pkgDir, '--cors', APP, '--quiet']),
    startServe(['--model', pkgDir, '--cors', APP, '--api-key', KEY, '--quiet']),
  ]);
});
test.afterAll(async () => {
  await Promise.all([open?.stop(), keyed?.stop()]);
});

function remoteAppUrl(endpoint: string, model: string): string {
  const q = new URLSearchParams({ endpoint, model, temperature: '0', top_p: '1', max_tokens: String(MAX_TOKENS) });
  return `/?${q}`;
}

async function serverCompletions(s: ServeProcess, key?: string): Promise<number> {
  const r = await fetch(`${s.url}/stats`, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  return ((await r.json()) as { server: { completions: number } }).server.completions;
}

function recordAuth(page: Page): { url: string; auth: string }[] {
  const seen: { url: string; auth: string }[] = [];
  page.on('request', (r: Request) => {
    const auth = r.headers()['authorization'];
    if (auth) seen.push({ url: r.url(), auth });
  });
  return seen;
}

test('chat app with ?endpoint=: a webmoe serve on another origin answers the greedy reply of the CPU reference', async ({ page }) => {
  const before = await serverCompletions(open);
  await page.goto(remoteAppUrl(open.baseUrl, 'letters-moe'));
  await waitReady(page, 60_000);
  const port = new URL(open.url).port;
  await expect(page.getByTestId('model-status')).toHaveText(`letters-moe @ 127.0.0.1:${port} ready (remote)`);
  const msg = await sendMessage(page, PROMPT);
  expect(await waitTurnEnd(msg)).toBe('done');
  expect(visibleText(await msg.getByTestId('assistant-content').innerText())).toBe(visibleText(ref.content));
  await expect(page.getByTestId('stat-tokens')).toHaveText(new RegExp(`/ ${MAX_TOKENS}$`));
  expect(await serverCompletions(open)).toBe(before + 1);
  await page.screenshot({ path: 'test-results/ui-screens/remote-1-app.png' });
});

test('an endpoint added in the panel with an API key: the key is kept in this browser and sent only to that endpoint', async ({ page }) => {
  const seen = recordAuth(page);
  await page.goto(remoteAppUrl(open.baseUrl, 'letters-moe'));
  await waitReady(page, 60_000);

  // a wrong key first: the error says what to do
  const panel = page.getByTestId('remote-endpoints');
  await panel.locator('summary').click();
  await page.getByTestId('remote-url').fill(keyed.baseUrl);
  await page.getByTestId('remote-model').fill('letters-moe');
  await page.getByTestId('remote-key').fill('wrong-key');
  await page.getByTestId('remote-add').click();
  await expect(page.getByTestId('load-error')).toContainText('rejected the API key');

  await page.getByTestId('remote-key').fill(KEY);
  await page.getByTestId('remote-add').click();
  await waitReady(page, 60_000);
  const port = new URL(keyed.url).port;
  await expect(page.getByTestId('model-status')).toContainText(`letters-moe @ 127.0.0.1:${port} ready`);
  await expect(page.getByTestId('remote-item')).toHaveCount(1);
  const before = await serverCompletions(keyed, KEY);
  const msg = await sendMessage(page, PROMPT);
  expect(await waitTurnEnd(msg)).toBe('done');
  expect(visibleText(await msg.getByTestId('assistant-content').innerText())).toBe(visibleText(ref.content));
  expect(await serverCompletions(keyed, KEY)).toBe(before + 1);

  // every request that carried a key went to that endpoint
  expect(seen.length).toBeGreaterThanOrEqual(2);
  for (const s of seen) {
    expect(s.url.startsWith(keyed.baseUrl + '/')).toBe(true);
    expect(['Bearer wrong-key', `Bearer ${KEY}`]).toContain(s.auth);
  }
  expect(seen.filter((s) => s.auth === `Bearer ${KEY}`).length).toBeGreaterThanOrEqual(2);

  // a reload without parameters reconnects to it with the stored key
  seen.length = 0;
  await page.goto('/');
  await waitReady(page, 60_000);
  await expect(page.getByTestId('model-status')).toContainText(`letters-moe @ 127.0.0.1:${port} ready`);
  expect(seen.some((s) => s.auth === `Bearer ${KEY}` && s.url === `${keyed.baseUrl}/models`)).toBe(true);
  await page.screenshot({ path: 'test-results/ui-screens/remote-2-keyed.png', fullPage: true });

  // forget it: gone from the picker, and from storage
  await page.getByTestId('remote-endpoints').locator('summary').click();
  await page.getByRole('button', { name: /^Forget letters-moe/ }).click();
  await expect(page.getByTestId('remote-item')).toHaveCount(0);
  await expect(page.getByTestId('model-status')).toHaveText('No model loaded');
});

test('CORS, network and missing-key failures say what to do', async ({ page }) => {
  const noCors = await startServe(['--model', pkgDir, '--cors', 'http://elsewhere.example', '--quiet']);
  try {
    await page.goto(remoteAppUrl(noCors.baseUrl, 'letters-moe'));
    await expect(page.getByTestId('load-error')).toContainText(`does not allow requests from this page's origin (${APP})`, { timeout: 60_000 });
    await expect(page.getByTestId('load-error')).toContainText(`webmoe serve --cors ${APP}`);
  } finally {
    await noCors.stop();
  }
  // the server is gone now: nothing answers at that address
  await page.goto(remoteAppUrl(noCors.baseUrl, 'letters-moe'));
  await expect(page.getByTestId('load-error')).toContainText(`Could not reach ${noCors.baseUrl}`, { timeout: 60_000 });

  await page.goto(remoteAppUrl(keyed.baseUrl, 'letters-moe'));
  await expect(page.getByTestId('load-error')).toContainText('needs an API key', { timeout: 60_000 });
  await page.goto(remoteAppUrl(open.baseUrl, 'gpt-4'));
  await expect(page.getByTestId('load-error')).toContainText('does not serve "gpt-4". It serves: "letters-moe"', { timeout: 60_000 });
});

test('widget with data-endpoint on a page of another origin: the frame talks to webmoe serve', async ({ page }) => {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Remote widget host</title></head><body>
<h1>Another site</h1>
<script src="${APP}/widget.js" data-endpoint="${open.baseUrl}" data-model="letters-moe" data-title="Help desk" data-temperature="0" data-max-tokens="${MAX_TOKENS}" async></script>
</body></html>`;
  const host = await serveHostPages({ '/': html });
  try {
    expect(new URL(host.url).origin).not.toBe(APP);
    const before = await serverCompletions(open);
    await page.goto(host.url + '/');
    await page.getByTestId('widget-open').click();
    const frame = page.frameLocator('[data-testid="widget-frame"]');
    await waitReady(frame, 60_000);
    const chatFrame = page.frames().find((f) => f.url().includes('embed=1'))!;
    const q = new URL(chatFrame.url()).searchParams;
    expect(q.get('endpoint')).toBe(open.baseUrl);
    expect(q.get('model')).toBe('letters-moe');
    const msg = await sendMessage(frame, PROMPT);
    expect(await waitTurnEnd(msg)).toBe('done');
    expect(visibleText(await msg.getByTestId('assistant-content').innerText())).toBe(visibleText(ref.content));
    expect(await serverCompletions(open)).toBe(before + 1);
    await page.screenshot({ path: 'test-results/ui-screens/remote-3-widget.png' });
  } finally {
    await host.close();
  }
});
