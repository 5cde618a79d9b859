// createEngine(): the public surface, shaped like WebLLM's MLCEngineInterface so a WebLLM app can
// switch by changing one import. A thin layer over src/generate (chatTurn: template -> loop ->
// parser) and src/api (validation, errors, OpenAI objects):
//
//   reload(model, config)       resolve (models.ts) -> chat parts -> runner (backends.ts) -> ready
//   chat.completions.create(r)  validate -> chatTurn -> chat.completion | chat.completion.chunk*
//   interruptGenerate()         the reply ends with finish_reason "abort"
//   unload() / reload()         a reply in flight ends with GenerationInterruptedError
//
// One reply at a time (a second create() while one runs is EngineBusyError). A stream is lazy: it
// generates as it is read, and leaving a for-await early interrupts the reply.

import type { MLCEngineInterface } from '@mlc-ai/web-llm';
import { chatTurn, preparePrompt, type ChatTurnOptions, type ChatTurnResult, type PreparedPrompt } from '../generate/chat.ts';
import type { ChatMessageIn } from '../generate/chat-template.ts';
import { contextLengthOf, resolveMaxTokens, type InterruptSignal } from '../generate/loop.ts';
import type { MessageDelta } from '../generate/output-parser.ts';
import { IdbShardStore } from '../store/idb.ts';
import { deleteModel, modelStatus } from '../store/registry.ts';
import type { ShardStore } from '../store/types.ts';
import { defaultRunnerFactory, type BackendChoice, type RunnerFactory } from './backends.ts';
import { completionOf, deltaChunk, finishChunk, messageOf, newCompletionMeta, roleChunk, usageChunk, usageOf, type CompletionMeta } from './completions.ts';
import { EngineBusyError, GenerationInterruptedError, ModelNotFoundError, ModelNotLoadedError } from './errors.ts';
import { chatModelOf, loadChatParts, resolveModel, type AppConfig, type LoadedChatModel, type LocalOpener } from './models.ts';
import { InitProgress, type WebMoeInitProgressCallback } from './progress.ts';
import { StatsCollector, statsText, type EngineStats } from './stats.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionRequest,
  ChatCompletionRequestNonStreaming,
  ChatCompletionRequestStreaming,
} from './types.ts';
import { validateChatRequest, type ValidatedRequest } from './validate.ts';
import { yieldToEventLoop } from './yield.ts';

export interface EngineOptions {
  /** 'auto' (default): WebGPU when a GPU runner is registered and WebGPU is present, else CPU */
  backend?: BackendChoice;
  /** where downloaded models live; default IndexedDB where it exists; null: no store */
  store?: ShardStore | null;
  /** WebLLM's appConfig: model ids -> package URLs */
  appConfig?: AppConfig;
  initProgressCallback?: WebMoeInitProgressCallback;
  /** how a runner is built (default: defaultRunnerFactory) */
  runnerFactory?: RunnerFactory;
  /** Node: open local directories (see createNodeEngine) */
  openLocal?: LocalOpener;
  fetch?: typeof fetch;
}

/** reload()'s second argument (WebLLM's ChatOptions, where fields carry over). */
export interface ReloadConfig {
  initProgressCallback?: WebMoeInitProgressCallback;
  backend?: BackendChoice;
  /** GPU expert cache budget in bytes (GPU runner) */
  expertBudgetBytes?: number;
  /** KV capacity in tokens (default: the runner's, at most the model's max_position_embeddings) */
  context_window_size?: number;
  /** the id a package URL is stored under (default: the URL's last path segment) */
  modelId?: string;
  /** sha256 of every tensor and blob read (default true) */
  verify?: boolean;
}

interface Loaded {
  id: string;
  chat: LoadedChatModel;
  note: string | null;
  loadMs: number;
}

interface Generation {
  signal: InterruptSignal & { aborted: boolean };
  /** set by unload()/reload(): why the reply was cut off (it then throws) */
  cutOff: string | null;
  started: boolean;
  done: Promise<void>;
  finish: () => void;
}

export class WebMoeEngine {
  readonly chat: { completions: { create: WebMoeEngine['chatCompletion'] } };
  private readonly store: ShardStore | null;
  private readonly runnerFactory: RunnerFactory;
  private appConfig: AppConfig | undefined;
  private progressCallback: WebMoeInitProgressCallback | undefined;
  private loaded: Loaded | null = null;
  /** what the loaded model was loaded with, to load it again after a lost GPU device */
  private lastLoad: { model: string; config: ReloadConfig } | null = null;
  private loading: Promise<void> = Promise.resolve();
  private generation: Generation | null = null;
  private history: ChatCompletionMessageParam[] = [];
  private lastMessage = '';
  private readonly stats = new StatsCollector();

  constructor(private readonly opts: EngineOptions = {}) {
    this.store = opts.store !== undefined ? opts.store : typeof indexedDB !== 'undefined' ? new IdbShardStore() : null;
    this.runnerFactory = opts.runnerFactory ?? defaultRunnerFactory;
    this.appConfig = opts.appConfig;
    this.progressCallback = opts.initProgressCallback;
    this.chat = { completions: { create: this.chatCompletion.bind(this) as WebMoeEngine['chatCompletion'] } };
  }

  setInitProgressCallback(cb: WebMoeInitProgressCallback): void {
    this.progressCallback = cb;
  }

  getInitProgressCallback(): WebMoeInitProgressCallback | undefined {
    return this.progressCallback;
  }

  setAppConfig(appConfig: AppConfig): void {
    this.appConfig = appConfig;
  }

  /** The loaded model's id, or null. */
  get modelId(): string | null {
    return this.loaded?.id ?? null;
  }

  // ---- loading ---------------------------------------------------------------------------------

  /** Load a model (package URL, cached id, app-config id, or a local directory in Node). */
  reload(model: string, config: ReloadConfig = {}): Promise<void> {
    const run = this.loading.catch(() => {}).then(() => this.load(model, config));
    this.loading = run;
    return run;
  }

  private async load(model: string, config: ReloadConfig): Promise<void> {
    await this.cutOff('the model was reloaded');
    this.release();
    const t0 = performance.now();
    const progress = new InitProgress(config.initProgressCallback ?? this.progressCallback);
    const backend = config.backend ?? this.opts.backend ?? 'auto';
    const files = await resolveModel(model, {
      store: this.store ?? undefined,
      appConfig: this.appConfig,
      openLocal: this.opts.openLocal,
      modelId: config.modelId,
      verify: config.verify,
      fetch: this.opts.fetch,
      onDownloadStart: () => progress.withDownload(),
      onDownload: (p) => progress.download(p),
      onVerify: (id) => progress.report('verify', 0, `Checking ${id} in ${this.store?.name ?? 'the store'}`),
    });
    progress.report('verify', 1, `Opened ${files.id} (${files.origin === 'local' ? files.dir.name : this.store?.name})`);
    const parts = await loadChatParts(files);
    const { runner, note } = await this.runnerFactory(backend, {
      modelId: files.id,
      weights: files.weights,
      packed: files.packed,
      store: files.store,
      expertBudgetBytes: config.expertBudgetBytes,
      maxLength: config.context_window_size,
      onProgress: (f, text) => progress.report('load', f, `Loading ${files.id}: ${text}`),
    });
    const loadMs = performance.now() - t0;
    this.loaded = { id: files.id, chat: chatModelOf(parts, runner), note, loadMs };
    this.lastLoad = { model, config };
    this.stats.reset();
    progress.report('ready', 1, `Finish loading ${files.id} on ${runner.backend} in ${(loadMs / 1000).toFixed(1)} s${note ? `. ${note}` : ''}`);
  }

  /** Stop any reply, free the runner. */
  async unload(): Promise<void> {
    await this.cutOff('the model was unloaded');
    await this.loading.catch(() => {});
    await this.cutOff('the model was unloaded');
    this.release();
  }

  private release(): void {
    this.loaded?.chat.runner.dispose();
    this.loaded = null;
    this.history = [];
    this.lastMessage = '';
    this.stats.reset();
  }

  /** End the reply in flight with GenerationInterruptedError and wait until it has stopped. */
  private async cutOff(reason: string): Promise<void> {
    const g = this.generation;
    if (!g) return;
    g.cutOff = reason;
    g.signal.aborted = true;
    if (!g.started) g.finish();
    await g.done;
  }

  // ---- chat ------------------------------------------------------------------------------------

  /** Stop the reply in flight; it ends with finish_reason "abort". */
  interruptGenerate(): void {
    if (this.generation) this.generation.signal.aborted = true;
  }

  /** Forget the conversation (and, unless keepStats, the statistics). */
  async resetChat(keepStats = false): Promise<void> {
    this.history = [];
    this.lastMessage = '';
    if (!keepStats) this.stats.reset();
  }

  /** The text of the last reply. */
  async getMessage(): Promise<string> {
    return this.lastMessage;
  }

  /** The conversation so far: the last request's messages and the reply. */
  async getConversation(): Promise<ChatCompletionMessageParam[]> {
    return structuredClone(this.history);
  }

  chatCompletion(request: ChatCompletionRequestNonStreaming): Promise<ChatCompletion>;
  chatCompletion(request: ChatCompletionRequestStreaming): Promise<AsyncIterable<ChatCompletionChunk>>;
  chatCompletion(request: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
  async chatCompletion(request: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const t0 = performance.now();
    await this.loading.catch(() => {});
    // A lost GPU device (driver reset, tab suspended): load the model again and carry on.
    if (this.loaded?.chat.runner.deviceLost?.() && this.lastLoad && !this.generation) await this.reload(this.lastLoad.model, this.lastLoad.config);
    const loaded = this.loaded;
    if (!loaded) throw new ModelNotLoadedError();
    const model = loaded.chat;
    const v = validateChatRequest(request, { vocabSize: model.tokenizer.vocabSize, defaults: model.defaults.sampling });
    if (v.model !== null && v.model !== loaded.id) throw new ModelNotFoundError(v.model, [loaded.id]);
    if (this.generation) throw new EngineBusyError();
    const turn = this.turnOptions(v);
    // Template and context errors belong to create(), not to the first read of a stream.
    const prompt = preparePrompt(model, turn);
    resolveMaxTokens(prompt.ids.length, turn.maxTokens, contextLengthOf(model.runner));
    const gen = this.begin(turn.signal as Generation['signal']);
    const meta = newCompletionMeta(loaded.id);
    if (v.stream) return this.stream(loaded, v, turn, prompt, gen, meta, t0);
    const it = this.run(loaded, v, turn, prompt, gen);
    let r = await it.next();
    while (!r.done) r = await it.next();
    return completionOf(meta, r.value, usageOf(r.value, t0));
  }

  private turnOptions(v: ValidatedRequest): ChatTurnOptions {
    return {
      messages: v.messages as ChatMessageIn[],
      // tool_choice "none": the tools are neither rendered nor parsed
      tools: v.toolChoice === 'auto' && v.tools.length ? v.tools : undefined,
      templateKwargs: v.templateKwargs,
      sampling: v.sampling,
      seed: v.seed,
      maxTokens: v.maxTokens,
      stop: v.stop,
      ignoreEos: v.ignoreEos,
      signal: { aborted: false },
    };
  }

  private begin(signal: Generation['signal']): Generation {
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const g: Generation = {
      signal,
      cutOff: null,
      started: false,
      done,
      finish: () => {
        if (this.generation === g) this.generation = null;
        finish();
      },
    };
    this.generation = g;
    return g;
  }

  /** chatTurn with the engine's bookkeeping: event-loop turns, stats, history, the busy flag. */
  private async *run(loaded: Loaded, v: ValidatedRequest, turn: ChatTurnOptions, prompt: PreparedPrompt, g: Generation): AsyncGenerator<MessageDelta, ChatTurnResult> {
    try {
      if (g.cutOff) throw new GenerationInterruptedError(g.cutOff);
      g.started = true;
      const it = chatTurn(loaded.chat, turn, prompt);
      let lastYield = performance.now();
      let r = await it.next();
      while (!r.done) {
        yield r.value;
        // Let messages in (interruptGenerate over Comlink) even when the runner never waits.
        if (performance.now() - lastYield > 8) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
        r = await it.next();
      }
      if (g.cutOff) throw new GenerationInterruptedError(g.cutOff);
      const result = r.value;
      this.stats.record(result.generation.stats, result.finishReason);
      this.history = [...v.messages, messageOf(result)];
      this.lastMessage = result.message.content ?? '';
      return result;
    } finally {
      g.finish();
    }
  }

  private async *stream(loaded: Loaded, v: ValidatedRequest, turn: ChatTurnOptions, prompt: PreparedPrompt, g: Generation, meta: CompletionMeta, t0: number): AsyncGenerator<ChatCompletionChunk> {
    const it = this.run(loaded, v, turn, prompt, g);
    let finished = false;
    try {
      yield roleChunk(meta);
      let toolCalls = 0;
      let r = await it.next();
      while (!r.done) {
        yield deltaChunk(meta, r.value, toolCalls);
        toolCalls += r.value.toolCalls?.length ?? 0;
        r = await it.next();
      }
      finished = true;
      yield finishChunk(meta, r.value.finishReason);
      if (v.includeUsage) yield usageChunk(meta, usageOf(r.value, t0));
    } finally {
      if (!finished) {
        // the reader left early: stop the reply and let it wind down so the runner stays consistent
        g.signal.aborted = true;
        if (!g.started) g.finish();
        else while (!(await it.next().catch(() => ({ done: true }))).done);
      }
    }
  }

  // ---- stats and cache -------------------------------------------------------------------------

  async getStats(): Promise<EngineStats> {
    const l = this.loaded;
    return this.stats.snapshot(l ? { id: l.id, runner: l.chat.runner, note: l.note, loadMs: l.loadMs } : null);
  }

  async runtimeStatsText(): Promise<string> {
    return statsText(await this.getStats());
  }

  /** Is the model (an id, or an app-config id) completely in the store? */
  async hasModelInCache(modelId: string): Promise<boolean> {
    if (!this.store) return false;
    return (await modelStatus(this.store, modelId)).complete;
  }

  /** Remove a model from the store (waits for a download of it in another tab). */
  async deleteModelFromCache(modelId: string): Promise<void> {
    if (!this.store) return;
    if (this.loaded?.id === modelId) await this.unload();
    await deleteModel(this.store, modelId);
  }
}

/** The WebLLM methods whose signatures WebMoeEngine keeps (checked at compile time below). */
export type WebLlmSharedMethods = 'interruptGenerate' | 'runtimeStatsText' | 'resetChat' | 'getMessage' | 'unload' | 'setInitProgressCallback';
/** Compiles only when T keeps WebLLM's signatures of the shared methods (also used by remote.ts, client.ts). */
export type SameAsWebLlm<T extends Pick<MLCEngineInterface, WebLlmSharedMethods>> = T;
export type WebLlmCompatibleEngine = SameAsWebLlm<WebMoeEngine>;

export function createEngine(opts?: EngineOptions): WebMoeEngine {
  return new WebMoeEngine(opts);
}
