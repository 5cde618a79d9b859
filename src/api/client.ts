// The page side of a worker engine: same surface as WebMoeEngine, so UI code reads the same as
// with an in-page engine (or WebLLM's CreateWebWorkerMLCEngine):
//
//   const engine = createWorkerEngine(new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module' }));
//   await engine.reload(url, { initProgressCallback: (r) => console.log(r.text) });
//   for await (const chunk of await engine.chat.completions.create({ messages, stream: true })) ...
//
// Streaming: the worker pushes each chunk into a Comlink.proxy callback (EngineHost
// .chatCompletionStream); here the callback fills a queue that an async generator drains. create()
// resolves once the first chunk (or an error) arrives, so a bad request rejects create() itself,
// as it does in-page. Leaving the for-await early interrupts the reply in the worker.

import * as Comlink from 'comlink';
import type { ReloadConfig, SameAsWebLlm } from './engine.ts';
import type { EngineHost } from './host.ts';
import type { AppConfig } from './models.ts';
import type { WebMoeInitProgressCallback } from './progress.ts';
import type { EngineStats } from './stats.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionRequest,
  ChatCompletionRequestNonStreaming,
  ChatCompletionRequestStreaming,
} from './types.ts';
import { fromWireError, unwrap } from './wire.ts';

/** Chunks pushed by the worker, read by one async iterator. */
class ChunkQueue<T> {
  private readonly items: T[] = [];
  private ended = false;
  private error: unknown = null;
  private wake: (() => void) | null = null;
  private readonly first: Promise<void>;
  private settleFirst!: (e?: unknown) => void;

  constructor() {
    this.first = new Promise<void>((resolve, reject) => (this.settleFirst = (e) => (e === undefined ? resolve() : reject(e))));
    this.first.catch(() => {});
  }

  private poke(): void {
    this.wake?.();
    this.wake = null;
  }

  push(item: T): void {
    this.items.push(item);
    this.settleFirst();
    this.poke();
  }

  end(): void {
    this.ended = true;
    this.settleFirst();
    this.poke();
  }

  fail(e: unknown): void {
    this.error = e;
    this.ended = true;
    this.settleFirst(this.items.length ? undefined : e);
    this.poke();
  }

  /** Resolves at the first chunk or a clean end; rejects when the stream failed before any chunk. */
  started(): Promise<void> {
    return this.first;
  }

  async *drain(onCancel: () => void): AsyncGenerator<T> {
    try {
      for (;;) {
        if (this.items.length) yield this.items.shift()!;
        else if (this.error !== null) throw this.error;
        else if (this.ended) return;
        else await new Promise<void>((r) => (this.wake = r));
      }
    } finally {
      if (!this.ended) onCancel();
    }
  }
}

export class WorkerEngine {
  readonly chat: { completions: { create: WorkerEngine['chatCompletion'] } };
  private readonly remote: Comlink.Remote<EngineHost>;
  private progressCallback: WebMoeInitProgressCallback | undefined;

  constructor(endpoint: Comlink.Endpoint) {
    this.remote = Comlink.wrap<EngineHost>(endpoint);
    this.chat = { completions: { create: this.chatCompletion.bind(this) as WorkerEngine['chatCompletion'] } };
  }

  setInitProgressCallback(cb: WebMoeInitProgressCallback): void {
    this.progressCallback = cb;
  }

  getInitProgressCallback(): WebMoeInitProgressCallback | undefined {
    return this.progressCallback;
  }

  setAppConfig(appConfig: AppConfig): void {
    void this.remote.setAppConfig(appConfig);
  }

  async reload(model: string, config: ReloadConfig = {}): Promise<void> {
    const { initProgressCallback, ...rest } = config;
    const cb = initProgressCallback ?? this.progressCallback;
    unwrap(await this.remote.reload(model, rest, cb ? Comlink.proxy(cb) : undefined));
  }

  chatCompletion(request: ChatCompletionRequestNonStreaming): Promise<ChatCompletion>;
  chatCompletion(request: ChatCompletionRequestStreaming): Promise<AsyncIterable<ChatCompletionChunk>>;
  chatCompletion(request: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
  async chatCompletion(request: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    if (!request.stream) return unwrap(await this.remote.chatCompletion(request));
    const queue = new ChunkQueue<ChatCompletionChunk>();
    const onChunk = Comlink.proxy((c: ChatCompletionChunk) => queue.push(c));
    this.remote.chatCompletionStream(request, onChunk).then(
      (env) => (env.ok ? queue.end() : queue.fail(fromWireError(env.error))),
      (e) => queue.fail(e),
    );
    await queue.started();
    return queue.drain(() => this.interruptGenerate());
  }

  /** Stop the reply in flight (it ends with finish_reason "abort"). */
  interruptGenerate(): void {
    void this.remote.interruptGenerate();
  }

  async resetChat(keepStats?: boolean): Promise<void> {
    unwrap(await this.remote.resetChat(keepStats));
  }

  async unload(): Promise<void> {
    unwrap(await this.remote.unload());
  }

  async getMessage(): Promise<string> {
    return unwrap(await this.remote.getMessage());
  }

  async getConversation(): Promise<ChatCompletionMessageParam[]> {
    return unwrap(await this.remote.getConversation());
  }

  async runtimeStatsText(): Promise<string> {
    return unwrap(await this.remote.runtimeStatsText());
  }

  async getStats(): Promise<EngineStats> {
    return unwrap(await this.remote.getStats());
  }

  async hasModelInCache(modelId: string): Promise<boolean> {
    return unwrap(await this.remote.hasModelInCache(modelId));
  }

  async deleteModelFromCache(modelId: string): Promise<void> {
    unwrap(await this.remote.deleteModelFromCache(modelId));
  }

  /** Close the Comlink connection (the worker itself stays: terminate it if you own it). */
  dispose(): void {
    this.remote[Comlink.releaseProxy]();
  }
}

/** The WebLLM methods WorkerEngine shares with WebMoeEngine keep WebLLM's signatures. */
export type WebLlmCompatibleWorkerEngine = SameAsWebLlm<WorkerEngine>;

/** An engine running in `worker` (a module worker whose script calls exposeEngine()). */
export function createWorkerEngine(worker: Worker | Comlink.Endpoint): WorkerEngine {
  return new WorkerEngine(worker);
}
