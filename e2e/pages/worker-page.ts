// The worker round trip from a page: the engine runs in workers/engine.worker.ts, the page holds
// only the Comlink client, exactly as the chat UI does. e2e/worker.spec.ts calls window.engineTest.

import { createWorkerEngine } from '../../src/api/client.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../../src/api/types.ts';
import type { WebMoeInitProgressReport } from '../../src/api/progress.ts';
import type { ReloadConfig } from '../../src/api/engine.ts';

const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module' });
const engine = createWorkerEngine(worker);

type Result<T> = { ok: true; value: T } | { ok: false; error: { name: string; message: string; param?: unknown; code?: unknown; isInstance: boolean } };

async function settle<T>(p: Promise<T>, cls?: new (...a: never[]) => Error): Promise<Result<T>> {
  try {
    return { ok: true, value: await p };
  } catch (e) {
    const err = e as Error & { param?: unknown; code?: unknown };
    return { ok: false, error: { name: err.name, message: err.message, param: err.param, code: err.code, isInstance: cls ? err instanceof cls : err instanceof Error } };
  }
}

const api = {
  async reload(model: string, config: Omit<ReloadConfig, 'initProgressCallback'> = {}) {
    const reports: WebMoeInitProgressReport[] = [];
    const r = await settle(engine.reload(model, { ...config, initProgressCallback: (p) => reports.push(p) }));
    await new Promise((res) => setTimeout(res, 50)); // progress messages are fire-and-forget
    return { result: r, reports };
  },
  chat: (req: ChatCompletionRequest) => settle(engine.chat.completions.create({ ...req, stream: false }) as Promise<ChatCompletion>),
  /** stream; with interruptAfter, call interruptGenerate once that many chunks have arrived */
  async stream(req: ChatCompletionRequest, interruptAfter?: number) {
    return settle(
      (async () => {
        const chunks: ChatCompletionChunk[] = [];
        for await (const c of await engine.chat.completions.create({ ...req, stream: true })) {
          chunks.push(c);
          if (chunks.length === interruptAfter) engine.interruptGenerate();
        }
        return chunks;
      })(),
    );
  },
  async badRequest(req: ChatCompletionRequest) {
    const { InvalidRequestError } = await import('../../src/api/errors.ts');
    return settle(engine.chat.completions.create(req) as Promise<unknown>, InvalidRequestError);
  },
  stats: () => engine.getStats(),
  statsText: () => engine.runtimeStatsText(),
  getMessage: () => engine.getMessage(),
  hasModelInCache: (id: string) => engine.hasModelInCache(id),
  deleteModelFromCache: (id: string) => engine.deleteModelFromCache(id),
  unload: () => engine.unload(),
};

declare global {
  interface Window {
    engineTest: typeof api;
  }
}
window.engineTest = api;
// one round trip first: the worker has loaded its modules and answers (tests go offline later)
await engine.getStats();
document.title = 'engine-ready';
