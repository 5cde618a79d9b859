// The worker side of the engine: what workers/engine.worker.ts exposes over Comlink. Comlink
// cannot carry an async iterator or a function inside an object, so this adapter differs from the
// engine in three places, and src/api/client.ts turns it back into the engine's shape:
//
//   reload(model, config, onProgress)   progress arrives through a Comlink.proxy callback
//   chatCompletionStream(req, onChunk)  each chunk goes to a Comlink.proxy callback, awaited, so a
//                                       slow page slows generation instead of piling up messages;
//                                       resolves when the reply ends
//   every call                          resolves to {ok, value} | {ok: false, error} (wire.ts)

import * as Comlink from 'comlink';
import { createEngine, type ReloadConfig, type WebMoeEngine } from './engine.ts';
import type { AppConfig } from './models.ts';
import type { WebMoeInitProgressReport } from './progress.ts';
import type { EngineStats } from './stats.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam, ChatCompletionRequest } from './types.ts';
import { envelope, type Envelope } from './wire.ts';

type Callback<T> = ((value: T) => unknown) & Partial<Record<typeof Comlink.releaseProxy, () => void>>;

function release(cb: Callback<never> | undefined): void {
  try {
    cb?.[Comlink.releaseProxy]?.();
  } catch {
    // already released, or a plain function (same-realm use)
  }
}

export class EngineHost {
  constructor(readonly engine: WebMoeEngine = createEngine()) {}

  setAppConfig(appConfig: AppConfig): void {
    this.engine.setAppConfig(appConfig);
  }

  async reload(model: string, config: Omit<ReloadConfig, 'initProgressCallback'> = {}, onProgress?: Callback<WebMoeInitProgressReport>): Promise<Envelope<void>> {
    try {
      return await envelope(() => this.engine.reload(model, { ...config, ...(onProgress ? { initProgressCallback: (r) => onProgress(r) } : {}) }));
    } finally {
      release(onProgress);
    }
  }

  chatCompletion(request: ChatCompletionRequest): Promise<Envelope<ChatCompletion>> {
    return envelope(() => this.engine.chatCompletion({ ...request, stream: false }));
  }

  async chatCompletionStream(request: ChatCompletionRequest, onChunk: Callback<ChatCompletionChunk>): Promise<Envelope<void>> {
    try {
      return await envelope(async () => {
        const chunks = await this.engine.chatCompletion({ ...request, stream: true });
        for await (const c of chunks) await onChunk(c);
      });
    } finally {
      release(onChunk);
    }
  }

  interruptGenerate(): void {
    this.engine.interruptGenerate();
  }

  resetChat(keepStats?: boolean): Promise<Envelope<void>> {
    return envelope(() => this.engine.resetChat(keepStats));
  }

  unload(): Promise<Envelope<void>> {
    return envelope(() => this.engine.unload());
  }

  getMessage(): Promise<Envelope<string>> {
    return envelope(() => this.engine.getMessage());
  }

  getConversation(): Promise<Envelope<ChatCompletionMessageParam[]>> {
    return envelope(() => this.engine.getConversation());
  }

  runtimeStatsText(): Promise<Envelope<string>> {
    return envelope(() => this.engine.runtimeStatsText());
  }

  getStats(): Promise<Envelope<EngineStats>> {
    return envelope(() => this.engine.getStats());
  }

  hasModelInCache(modelId: string): Promise<Envelope<boolean>> {
    return envelope(() => this.engine.hasModelInCache(modelId));
  }

  deleteModelFromCache(modelId: string): Promise<Envelope<void>> {
    return envelope(() => this.engine.deleteModelFromCache(modelId));
  }
}

/** Expose an engine on `endpoint` (default: the worker's global scope). */
export function exposeEngine(engine: WebMoeEngine = createEngine(), endpoint?: Comlink.Endpoint): EngineHost {
  const host = new EngineHost(engine);
  Comlink.expose(host, endpoint);
  return host;
}
