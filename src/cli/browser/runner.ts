// `--backend browser`: the engine runs in a real headless Chromium page (WebGPU; SwiftShader here),
// driven over Playwright. A Vite dev server serves the page and our modules; the model directory is
// served at /__model/ with HTTP range support — weights reach the page over HTTP, never pasted.

import { createReadStream, readdirSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import type { ModelSpec } from '../../format/spec.ts';
import { WebMoeError } from '../../format/errors.ts';
import type { ExpertCacheStats, ModelRunner } from '../../model/runner.ts';
import { isPackageDir, type RunnerOptions } from '../load.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--enable-unsafe-webgpu'];

export class BrowserBackendError extends WebMoeError {
  constructor(message: string) {
    super('browser_backend', message);
  }
}

/** Serve `dir` at /__model/: files with Range support and a __list.json listing. */
function serveDir(dir: string) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const url = decodeURIComponent((req.url ?? '/').split('?')[0]);
    if (url === '/__list.json') {
      const files = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isFile()).map((d) => ({ name: d.name, size: statSync(join(dir, d.name)).size }));
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(files));
      return;
    }
    const path = resolve(dir, `.${url}`);
    if (!path.startsWith(resolve(dir)) || !statSync(path, { throwIfNoEntry: false })?.isFile()) return next();
    const size = statSync(path).size;
    const range = /^bytes=(\d+)-(\d+)?$/.exec(req.headers.range ?? '');
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'no-store');
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(range[2] ? Number(range[2]) : size - 1, size - 1);
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
      res.setHeader('Content-Length', String(end - start + 1));
      createReadStream(path, { start, end }).pipe(res);
    } else {
      res.setHeader('Content-Length', String(size));
      createReadStream(path).pipe(res);
    }
  };
}

export async function openBrowserRunner(dir: string, opts: RunnerOptions): Promise<ModelRunner> {
  const { createServer } = await import('vite');
  const { chromium } = await import('playwright');
  const modelDir = resolve(dir);
  const server = await createServer({
    root: ROOT,
    configFile: false,
    logLevel: 'error',
    cacheDir: join(ROOT, 'node_modules', '.vite-webmoe-cli'),
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
    plugins: [{ name: 'webmoe-model', configureServer: (s) => void s.middlewares.use('/__model', serveDir(modelDir)) }],
  });
  await server.listen();
  const addr = server.httpServer!.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS }).catch(async (e) => {
    await server.close();
    throw new BrowserBackendError(`could not start Chromium (${(e as Error).message.split('\n')[0]}); install Debian's chromium or set CHROMIUM_PATH`);
  });
  const close = async () => {
    await browser.close().catch(() => {});
    await server.close().catch(() => {});
  };
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${port}/src/cli/browser/page.html`);
    await page.waitForFunction(() => (globalThis as { __webmoe?: unknown }).__webmoe, null, { timeout: 180_000 }).catch(() => {
      throw new BrowserBackendError(`the engine page did not start${errors.length ? `: ${errors.join('; ')}` : ''}`);
    });
    const call = async <T>(fn: string, ...args: unknown[]): Promise<T> => {
      try {
        return await page.evaluate(([f, a]) => (globalThis as any).__webmoe[f as string](...(a as unknown[])), [fn, args] as const);
      } catch (e) {
        const msg = (e as Error).message.replace(/^page\.evaluate: (Error: )?/, '').split('\n')[0];
        throw new BrowserBackendError(`in Chromium: ${msg}`);
      }
    };
    const { spec } = await call<{ spec: ModelSpec; adapter: string }>('init', {
      modelUrl: '/__model/',
      isPackage: isPackageDir(modelDir),
      expertBudget: opts.expertBudget,
      maxLen: opts.maxLen,
    });
    let length = 0;
    let stats: ExpertCacheStats | null = null;
    const runner: ModelRunner = {
      spec,
      backend: 'browser',
      get length() {
        return length;
      },
      reset() {
        length = 0;
        void call('reset');
      },
      async forward(tokens, allLogits = false) {
        const rows = await call<string[]>('forward', tokens, allLogits);
        length += tokens.length;
        stats = await call<ExpertCacheStats>('stats');
        return rows.map((b) => {
          const buf = Buffer.from(b, 'base64');
          return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
        });
      },
      expertCacheStats: () => stats ?? { hits: 0, misses: 0, bytesStreamed: 0, stallMs: 0, budgetBytes: 0 },
      dispose() {
        void call('dispose').finally(close);
      },
    };
    return runner;
  } catch (e) {
    await close();
    throw e;
  }
}
