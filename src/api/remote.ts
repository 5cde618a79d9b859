// RemoteEngine: the engine's surface (chat.completions.create, interruptGenerate, resetChat,
// getMessage, runtimeStatsText, reload, unload, ...) over any OpenAI-compatible endpoint — vLLM,
// SGLang, `webmoe serve` — for models that outgrow a tab. Browser-safe (fetch only); works in
// Node 20 as well.
//
//   const engine = new RemoteEngine({ baseUrl: 'http://gpu-box:8000/v1', model: 'MiniMaxAI/MiniMax-M2' });
//   await engine.reload();                              // GET /models: is the model served?
//   for await (const c of await engine.chat.completions.create({ messages, stream: true })) ...
//
// Streams arrive as the in-tab engine's do: reasoning in `reasoning_content` (also when the
// endpoint sends `reasoning` or a `<think>` block inside the content), tool calls as OpenAI
// deltas (or whole, with wholeToolCalls). interruptGenerate() aborts the HTTP request — the
// server sees the client leave and stops — and the stream ends with finish_reason "abort".
// Failures are typed (src/api/remote-errors.ts): network, CORS, mixed content, auth, 404, 429, 5xx.
// The API key goes in the Authorization header of requests to baseUrl, and nowhere else.

import type { ReloadConfig, SameAsWebLlm } from './engine.ts';
import { GenerationInterruptedError, ModelNotLoadedError } from './errors.ts';
import { InitProgress, type WebMoeInitProgressCallback } from './progress.ts';
import { RemoteCorsError, RemoteMixedContentError, RemoteModelNotFoundError, RemoteNetworkError, RemoteProtocolError, RemoteServerError, httpStatusError } from './remote-errors.ts';
import { RemoteChunkTransform, absorb, normalizeCompletion, sseEvents, wholeCalls, type RemoteTransformOptions, type WholeCall } from './remote-stream.ts';
import { StatsCollector, statsText, type EngineStats } from './stats.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
  ChatCompletionRequest,
  ChatCompletionRequestNonStreaming,
  ChatCompletionRequestStreaming,
  CompletionUsage,
} from './types.ts';

export interface RemoteEngineOptions extends RemoteTransformOptions {
  /** the OpenAI base URL, e.g. http://localhost:8000/v1 (a bare origin gets /v1 appended) */
  baseUrl: string;
  /** the served model's name; default: the endpoint's only model (reload() asks /models) */
  model?: string | null;
  /** sent as "Authorization: Bearer KEY" to baseUrl only */
  apiKey?: string | null;
  /** more headers for every request (e.g. a proxy's) */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
  initProgressCallback?: WebMoeInitProgressCallback;
  /** how long reload() keeps asking a server that answers 503 (still loading); default 120 s */
  loadTimeoutMs?: number;
}

type Abort = 'interrupt' | 'unload';

interface InFlight {
  controller: AbortController;
  reason: Abort | null;
}

/** Normalize a base URL: no trailing slash; a bare origin means its /v1. */
export function normalizeBaseUrl(input: string): string {
  const u = new URL(input.trim());
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RangeError(`"${input}" is not an http(s) URL.`);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1';
  return u.href.replace(/\/+$/, '');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RemoteEngine {
  readonly chat: { completions: { create: RemoteEngine['chatCompletion'] } };
  readonly baseUrl: string;
  private model: string | null;
  private loaded = false;
  private loadMs: number | null = null;
  private readonly apiKey: string | null;
  private readonly fetchFn: typeof fetch;
  private progressCallback: WebMoeInitProgressCallback | undefined;
  private readonly inFlight = new Set<InFlight>();
  private readonly stats = new StatsCollector();
  private history: ChatCompletionMessageParam[] = [];
  private lastMessage = '';

  constructor(private readonly opts: RemoteEngineOptions) {
    this.baseUrl = normalizeBaseUrl(opts.baseUrl);
    this.model = opts.model?.trim() || null;
    this.apiKey = opts.apiKey?.trim() || null;
    this.fetchFn = opts.fetch ?? ((...a: Parameters<typeof fetch>) => globalThis.fetch(...a));
    this.progressCallback = opts.initProgressCallback;
    this.chat = { completions: { create: this.chatCompletion.bind(this) as RemoteEngine['chatCompletion'] } };
  }

  setInitProgressCallback(cb: WebMoeInitProgressCallback): void {
    this.progressCallback = cb;
  }

  getInitProgressCallback(): WebMoeInitProgressCallback | undefined {
    return this.progressCallback;
  }

  /** The model requests go to (after reload(), the one the endpoint confirmed). */
  get modelId(): string | null {
    return this.loaded ? this.model : null;
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private headers(json: boolean): Record<string, string> {
    return {
      ...this.opts.headers,
      ...(json ? { 'Content-Type': 'application/json' } : {}),
      ...(this.apiKey ? { Authorization: `Bearer ${this.apiKey}` } : {}),
    };
  }

  /** fetch baseUrl + path; a response that is not 2xx becomes the typed error for its status. */
  private async call(path: string, init: RequestInit): Promise<Response> {
    const url = this.baseUrl + path;
    let res: Response;
    try {
      res = await this.fetchFn(url, init);
    } catch (e) {
      if (init.signal?.aborted) throw e;
      throw await this.noResponse(url, e);
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: the text is the message
    }
    throw httpStatusError(url, res.status, body, text, !!this.apiKey, res.headers.get('retry-after'));
  }

  /** fetch() threw: a browser says only "TypeError: Failed to fetch" — find out whether it was CORS. */
  private async noResponse(url: string, e: unknown): Promise<Error> {
    const page = typeof location !== 'undefined' && /^https?:$/.test(location.protocol) ? location : null;
    const target = new URL(url);
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(target.hostname);
    if (page && page.protocol === 'https:' && target.protocol === 'http:' && !loopback) return new RemoteMixedContentError(url, page.origin);
    if (page && target.origin !== page.origin) {
      // an opaque (no-cors) request succeeds when the server answers at all: then CORS blocked the real one
      const reachable = await this.fetchFn(url, { mode: 'no-cors', signal: AbortSignal.timeout(5000) }).then(
        () => true,
        () => false,
      );
      if (reachable) return new RemoteCorsError(this.baseUrl, page.origin);
    }
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return new RemoteNetworkError(this.baseUrl, cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e)));
  }

  private begin(): InFlight {
    const f: InFlight = { controller: new AbortController(), reason: null };
    this.inFlight.add(f);
    return f;
  }

  private abortAll(reason: Abort): void {
    for (const f of this.inFlight) {
      f.reason ??= reason;
      f.controller.abort();
    }
  }

  // ---- models ----------------------------------------------------------------------------------

  /** GET /models: the names the endpoint serves. */
  async listModels(signal?: AbortSignal): Promise<string[]> {
    const res = await this.call('/models', { headers: this.headers(false), signal });
    const body = (await res.json().catch(() => null)) as { data?: { id?: unknown }[] } | null;
    if (!body || !Array.isArray(body.data)) throw new RemoteProtocolError(this.baseUrl + '/models', 'no "data" list of models');
    return body.data.map((m) => m.id).filter((id): id is string => typeof id === 'string');
  }

  /**
   * Check that the endpoint serves `model` (default: the constructor's, else its only model) and
   * use it. Waits while the server answers 503 (loading), up to loadTimeoutMs. Load options of
   * the in-tab engine (backend, expert budget, ...) are the server's business and are ignored.
   */
  async reload(model?: string | null, config: Pick<ReloadConfig, 'initProgressCallback'> & Partial<ReloadConfig> = {}): Promise<void> {
    this.abortAll('unload');
    this.loaded = false;
    const t0 = performance.now();
    const progress = new InitProgress(config.initProgressCallback ?? this.progressCallback);
    const want = model?.trim() || this.model;
    progress.report('verify', 0, `Connecting to ${this.baseUrl}`);
    const deadline = Date.now() + (this.opts.loadTimeoutMs ?? 120_000);
    let ids: string[];
    for (;;) {
      try {
        ids = await this.listModels();
        break;
      } catch (e) {
        if (!(e instanceof RemoteServerError && e.status === 503) || Date.now() > deadline) throw e;
        const wait = Math.min(10, e.retryAfterSeconds ?? 2);
        progress.report('load', 0, `${this.baseUrl} is loading its model; asking again in ${wait} s`);
        await sleep(wait * 1000);
      }
    }
    if (want ? !ids.includes(want) : ids.length !== 1) throw new RemoteModelNotFoundError(this.baseUrl, want, ids);
    this.model = want ?? ids[0];
    this.loaded = true;
    this.loadMs = performance.now() - t0;
    this.stats.reset();
    this.history = [];
    this.lastMessage = '';
    progress.report('ready', 1, `Connected to ${this.model} at ${this.baseUrl}`);
  }

  /** Stop requests in flight (they end with GenerationInterruptedError) and forget the model. */
  async unload(): Promise<void> {
    this.abortAll('unload');
    this.loaded = false;
    this.history = [];
    this.lastMessage = '';
    this.stats.reset();
  }

  // ---- chat ------------------------------------------------------------------------------------

  /** Stop the replies in flight: a stream ends with finish_reason "abort", a whole reply comes back empty with it. */
  interruptGenerate(): void {
    this.abortAll('interrupt');
  }

  async resetChat(keepStats = false): Promise<void> {
    this.history = [];
    this.lastMessage = '';
    if (!keepStats) this.stats.reset();
  }

  async getMessage(): Promise<string> {
    return this.lastMessage;
  }

  async getConversation(): Promise<ChatCompletionMessageParam[]> {
    return structuredClone(this.history);
  }

  chatCompletion(request: ChatCompletionRequestNonStreaming): Promise<ChatCompletion>;
  chatCompletion(request: ChatCompletionRequestStreaming): Promise<AsyncIterable<ChatCompletionChunk>>;
  chatCompletion(request: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
  async chatCompletion(request: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    if (!this.loaded && !this.model) throw new ModelNotLoadedError();
    const model = request.model ?? this.model;
    const flight = this.begin();
    const t0 = performance.now();
    try {
      if (!request.stream) return await this.whole({ ...request, model, stream: false }, flight, t0);
      // usage is always asked for (for the stats); handed out only when the caller asked
      const wantUsage = !!request.stream_options?.include_usage;
      const body = { ...request, model, stream: true, stream_options: { ...request.stream_options, include_usage: true } };
      const res = await this.call('/chat/completions', { method: 'POST', headers: this.headers(true), body: JSON.stringify(body), signal: flight.controller.signal });
      if (!res.body) throw new RemoteProtocolError(this.baseUrl + '/chat/completions', 'a streamed reply without a body', res.status);
      if (!(res.headers.get('content-type') ?? '').includes('text/event-stream'))
        throw new RemoteProtocolError(this.baseUrl + '/chat/completions', `expected text/event-stream, got ${res.headers.get('content-type') ?? 'no content type'}`, res.status);
      return this.stream(res.body, request.messages, flight, t0, wantUsage);
    } catch (e) {
      this.inFlight.delete(flight);
      if (flight.reason === 'unload') throw new GenerationInterruptedError('the model was unloaded');
      if (flight.reason === 'interrupt' && request.stream) return this.abortedStream(model);
      throw e;
    }
  }

  private async whole(request: ChatCompletionRequestNonStreaming, flight: InFlight, t0: number): Promise<ChatCompletion> {
    try {
      const res = await this.call('/chat/completions', { method: 'POST', headers: this.headers(true), body: JSON.stringify(request), signal: flight.controller.signal });
      const raw = (await res.json().catch(() => null)) as ChatCompletion | null;
      if (!raw || !Array.isArray(raw.choices)) throw new RemoteProtocolError(this.baseUrl + '/chat/completions', 'no "choices" in the reply', res.status);
      const c = normalizeCompletion(raw, this.opts);
      const end = performance.now();
      this.finishTurn(request.messages, c.choices[0]?.message, c.choices[0]?.finish_reason ?? 'stop', c.usage ?? null, t0, end, end, 1);
      return c;
    } catch (e) {
      if (flight.reason === 'interrupt') {
        const created = Math.floor(Date.now() / 1000);
        return { id: 'chatcmpl-interrupted', object: 'chat.completion', created, model: request.model ?? '', choices: [{ index: 0, message: { role: 'assistant', content: '' }, finish_reason: 'abort', logprobs: null }] };
      }
      throw e;
    } finally {
      this.inFlight.delete(flight);
    }
  }

  /** A stream interrupted before its response began: just the finish. */
  private async *abortedStream(model: string | null | undefined): AsyncGenerator<ChatCompletionChunk> {
    yield { id: 'chatcmpl-interrupted', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: model ?? '', choices: [{ index: 0, delta: {}, finish_reason: 'abort', logprobs: null }] };
  }

  private async *stream(body: ReadableStream<Uint8Array>, messages: ChatCompletionMessageParam[], flight: InFlight, t0: number, wantUsage: boolean): AsyncGenerator<ChatCompletionChunk> {
    const transform = new RemoteChunkTransform(this.opts);
    let first: number | null = null;
    let pieces = 0;
    let finish: string | null = null;
    let usage: CompletionUsage | null = null;
    let last: ChatCompletionChunk | null = null;
    let content = '';
    let reasoning = '';
    const calls = new Map<number, WholeCall>(); // tool calls, whole or merged from deltas
    let ended = false;
    const url = this.baseUrl + '/chat/completions';
    const take = (c: ChatCompletionChunk) => {
      const ch = c.choices[0];
      if (ch) {
        const d = ch.delta;
        if (d.content || d.reasoning_content || d.tool_calls?.length) {
          first ??= performance.now();
          pieces++;
        }
        content += d.content ?? '';
        reasoning += d.reasoning_content ?? '';
        for (const t of d.tool_calls ?? []) absorb(calls, t);
        if (ch.finish_reason) finish = ch.finish_reason;
      }
      if (c.usage) usage = c.usage;
      last = c;
    };
    try {
      try {
        for await (const data of sseEvents(body)) {
          if (data.trim() === '[DONE]') break;
          let raw: ChatCompletionChunk & { error?: unknown };
          try {
            raw = JSON.parse(data);
          } catch {
            throw new RemoteProtocolError(url, `an event that is not JSON: ${data.slice(0, 80)}`);
          }
          if (raw.error) throw new RemoteServerError(url, null, errorMessage(raw.error), null);
          const c = transform.push(raw);
          if (!c) continue;
          take(c);
          // the usage-only chunk we asked for on our own
          if (!wantUsage && c.usage && c.choices.length === 0) continue;
          if (!wantUsage && c.usage) delete c.usage;
          yield c;
        }
      } catch (e) {
        if (flight.reason === 'unload') throw new GenerationInterruptedError('the model was unloaded');
        if (flight.reason !== 'interrupt') throw e;
      }
      // interrupted (or cut off without a finish): release held text and end with a finish chunk
      if (finish === null) {
        const template = last ?? { id: 'chatcmpl-interrupted', object: 'chat.completion.chunk' as const, created: Math.floor(Date.now() / 1000), model: this.model ?? '', choices: [] };
        const c = transform.flush(template, 'abort') ?? { ...template, choices: [{ index: 0, delta: {}, finish_reason: 'abort' as const, logprobs: null }] };
        take(c);
        yield c;
      }
      ended = true;
      const end = performance.now();
      const toolCalls = wholeCalls(calls).map(({ index: _, ...c }) => c);
      const message = { role: 'assistant' as const, content, ...(reasoning ? { reasoning_content: reasoning } : {}), ...(toolCalls.length ? { tool_calls: toolCalls } : {}) };
      this.finishTurn(messages, message, finish ?? 'abort', usage, t0, first ?? end, end, pieces);
    } finally {
      this.inFlight.delete(flight);
      // the caller left the for-await early: let the server see the client go
      if (!ended) flight.controller.abort();
    }
  }

  /** Bookkeeping after a reply: history, last message, stats (token counts from usage when sent). */
  private finishTurn(
    messages: ChatCompletionMessageParam[],
    message: { content?: string | null; reasoning_content?: string | null; tool_calls?: ChatCompletionMessageToolCall[] } | undefined,
    finishReason: string,
    usage: CompletionUsage | null,
    t0: number,
    firstAt: number,
    end: number,
    pieces: number,
  ): void {
    const text = message?.content ?? '';
    this.lastMessage = text;
    this.history = [
      ...messages,
      {
        role: 'assistant',
        content: text,
        ...(message?.reasoning_content ? { reasoning_content: message.reasoning_content } : {}),
        ...(message?.tool_calls?.length ? { tool_calls: message.tool_calls } : {}),
      },
    ];
    const promptTokens = usage?.prompt_tokens ?? 0;
    const completionTokens = usage?.completion_tokens ?? pieces;
    const ttftMs = firstAt - t0;
    const decodeMs = end - firstAt;
    this.stats.record(
      {
        promptTokens,
        completionTokens,
        ttftMs,
        prefillMs: ttftMs,
        decodeMs,
        totalMs: end - t0,
        prefillTokensPerSecond: ttftMs > 0 ? promptTokens / (ttftMs / 1000) : 0,
        decodeTokensPerSecond: decodeMs > 0 && completionTokens > 1 ? (completionTokens - 1) / (decodeMs / 1000) : 0,
      },
      finishReason,
    );
  }

  // ---- stats and cache -------------------------------------------------------------------------

  /** Timings measured here (network included); token counts from the endpoint's usage. */
  async getStats(): Promise<EngineStats> {
    return { ...this.stats.snapshot(null), model: this.modelId, backend: this.loaded ? 'remote' : null, backendNote: this.loaded ? this.baseUrl : null, loadMs: this.loadMs };
  }

  async runtimeStatsText(): Promise<string> {
    return statsText(await this.getStats());
  }

  /** Nothing of a remote model is stored in this browser. */
  async hasModelInCache(_modelId: string): Promise<boolean> {
    return false;
  }

  async deleteModelFromCache(_modelId: string): Promise<void> {}
}

function errorMessage(e: unknown): string {
  if (typeof e === 'string') return e;
  const m = (e as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : JSON.stringify(e);
}

/** The WebLLM methods RemoteEngine shares with WebMoeEngine keep WebLLM's signatures. */
export type WebLlmCompatibleRemoteEngine = SameAsWebLlm<RemoteEngine>;

export {
  RemoteEndpointError,
  RemoteNetworkError,
  RemoteMixedContentError,
  RemoteCorsError,
  RemoteAuthError,
  RemoteNotFoundError,
  RemoteModelNotFoundError,
  RemoteRateLimitError,
  RemoteServerError,
  RemoteProtocolError,
} from './remote-errors.ts';

export function createRemoteEngine(opts: RemoteEngineOptions): RemoteEngine {
  return new RemoteEngine(opts);
}
