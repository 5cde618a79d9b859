// The built library (dist/lib, `vite build -c vite.lib.config.ts`, part of `npm run build`) used by
// "another app": a plain static server (no Vite, no bundler) serves dist/lib under /lib/, a tiny
// page (e2e/pages/lib.html + lib-page.js) and the test package; the page imports /lib/index.js,
// starts /lib/worker.js, and chats — in the worker (backend 'auto': WebGPU on SwiftShader here)
// and on the page's own thread (backend 'cpu': compared with the same engine in Node).
// Run: npx playwright test e2e/lib.spec.ts

import { expect, test } from '@playwright/test';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { promisify } from 'node:util';
import { createNodeEngine } from '../src/api/node.ts';
import { enginePackage } from './engine-package.ts';

const ROOT = join(import.meta.dirname, '..');
const LIB = join(ROOT, 'dist', 'lib');
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html', '.json': 'application/json', '.map': 'application/json' };
const REQUEST = { messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 16, temperature: 0, ignore_eos: true };

let server: Server;
let origin: string;
let want: string;

/** Static files: /lib/* from dist/lib, /app/* from e2e/pages, /models/tiny-m2/* from the package. */
function staticServer(mounts: Record<string, string>): Server {
  return createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const mount = Object.keys(mounts).find((m) => path.startsWith(m));
    const file = mount ? normalize(join(mounts[mount], path.slice(mount.length))) : '';
    if (!mount || !file.startsWith(mounts[mount] + sep) || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
    res.end(readFileSync(file));
  });
}

test.setTimeout(120_000);

/** Newest modification time of the files the library is built from. */
function newestSource(): number {
  let newest = statSync(join(ROOT, 'vite.lib.config.ts')).mtimeMs;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|wgsl|json)$/.test(e.name)) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(ROOT, 'src'));
  walk(join(ROOT, 'workers'));
  return newest;
}

test.beforeAll(async () => {
  // reuse dist/lib when it is newer than every source file (`npm run build` made it), else build it
  const built = join(LIB, 'index.js');
  if (!existsSync(built) || statSync(built).mtimeMs < newestSource())
    await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '-c', 'vite.lib.config.ts'], { cwd: ROOT });
  const pkg = await enginePackage();
  server = staticServer({ '/lib/': LIB, '/app/': join(ROOT, 'e2e', 'pages'), '/models/tiny-m2/': pkg });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const node = createNodeEngine({ backend: 'cpu' });
  await node.reload(pkg);
  want = (await node.chat.completions.create(REQUEST as never)).choices[0].message.content ?? '';
  await node.unload();
});

test.afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

test('the built library chats from a page of another app: in its worker (WebGPU) and in the page (CPU)', async ({ page }) => {
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  expect(readFileSync(join(LIB, 'index.js'), 'utf8')).not.toMatch(/from ["'](?!\.\/)/); // self-contained: relative imports only
  expect(existsSync(join(LIB, 'index.d.ts'))).toBe(true);
  await page.goto(`${origin}/app/lib.html`);
  await expect(page).toHaveTitle('lib-ready');
  const modelUrl = `${origin}/models/tiny-m2/`;

  const inWorker = await page.evaluate(([u, r]) => window.libTest.worker(u, r, 'auto'), [modelUrl, REQUEST] as const);
  expect(inWorker.ok, JSON.stringify(inWorker) + logs.join('\n')).toBe(true);
  if (!inWorker.ok) return;
  expect(inWorker.value).toMatchObject({ phases: ['download', 'verify', 'load', 'ready'], finish: 'length', backend: 'webgpu' });
  expect(inWorker.value.content.length).toBeGreaterThan(0);
  expect(inWorker.value.streamed).toBe(inWorker.value.content);
  expect(inWorker.value.bad).toMatchObject({ ok: false, error: { name: 'InvalidRequestError', param: 'temperature', isInstance: true } });
  expect(inWorker.value.stats).toMatch(/^prefill: .*backend: webgpu/);

  const inPage = await page.evaluate(([u, r]) => window.libTest.inPage(u, r, 'cpu'), [modelUrl, REQUEST] as const);
  expect(inPage.ok, JSON.stringify(inPage) + logs.join('\n')).toBe(true);
  if (!inPage.ok) return;
  // cached by the worker's download; the CPU reference here equals the one in Node
  expect(inPage.value).toMatchObject({ phases: ['verify', 'load', 'ready'], content: want, streamed: want, backend: 'cpu' });
  expect(inPage.value.bad).toMatchObject({ ok: false, error: { name: 'InvalidRequestError', isInstance: true } });
});

declare global {
  interface Window {
    libTest: {
      worker(url: string, req: unknown, backend: string): Promise<LibResult>;
      inPage(url: string, req: unknown, backend: string): Promise<LibResult>;
    };
  }
}

type LibResult =
  | { ok: true; value: { phases: string[]; content: string; finish: string; streamed: string; bad: unknown; stats: string; backend: string } }
  | { ok: false; error: { name: string; message: string } };
