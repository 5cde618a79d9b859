// `webmoe serve`'s HTTP server: an OpenAI-compatible API over one engine (src/api/engine.ts),
// on Node's http module.
//
//   GET  /v1/models              the loaded model (OpenAI's list shape)
//   GET  /v1/models/{id}         one model, 404 for any other id
//   POST /v1/chat/completions    JSON, or SSE with stream: true (`data: {chunk}` ... `data: [DONE]`)
//   GET  /health                 200 {"status":"ok"} when ready, 503 while loading or shutting down
//   GET  /stats                  server counters (requests, aborts, queue) and the engine's stats
//   OPTIONS *                    CORS preflight (--cors)
//
// Each chat request: auth -> bounded JSON body -> validation (400 naming `param`, before queueing)
// -> the queue (one generation at a time, FIFO, 429 + Retry-After beyond --max-queue) -> the
// engine. A client that disconnects stops its generation (interruptGenerate; a stream is left,
// which the engine winds down) and the queue moves on. shutdown(): stop accepting, refuse the
// waiters (503), let the reply in flight finish for `graceMs`, then interrupt it, then close.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ModelNotFoundError } from '../api/errors.ts';
import type { EngineStats } from '../api/stats.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../api/types.ts';
import { validateChatRequest } from '../api/validate.ts';
import { ClientGoneError, MethodNotAllowedError, ModelLoadingError, RouteNotFoundError, ShuttingDownError, httpErrorOf } from './errors.ts';
import { applyCors, checkBearer, clientGone, preflight, readJson, sendError, sendJson, SseWriter, type CorsPolicy } from './http.ts';
import { GenerationQueue } from './queue.ts';

/** What the server needs of an engine (WebMoeEngine has it; so would any engine of the same shape). */
export interface ServeEngine {
  readonly modelId: string | null;
  chat: { completions: { create(request: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> } };
  interruptGenerate(): void;
  getStats(): Promise<EngineStats>;
}

export interface ServeOptions {
  /** interface to bind (default 127.0.0.1: this machine only) */
  host?: string;
  /** 0: any free port */
  port?: number;
  /** bearer token every /v1 and /stats request must carry; null: none */
  apiKey?: string | null;
  /** requests that may wait while one generates (default 8) */
  maxQueue?: number;
  /** largest request body in bytes (default 1 MiB) */
  maxBodyBytes?: number;
  cors?: CorsPolicy;
  /** how long shutdown() lets the reply in flight finish before interrupting it (default 10 s) */
  graceMs?: number;
  /** one line per request and event (default: nothing) */
  log?: (line: string) => void;
}

export interface ServerCounters {
  requests: number;
  completions: number;
  /** chat requests whose client disconnected before the reply was complete */
  clientAborts: number;
  /** responses by status class */
  status: Record<string, number>;
}

type State = 'loading' | 'ready' | 'failed' | 'closing';

const ROUTES: Record<string, string[]> = { '/v1/models': ['GET'], '/v1/chat/completions': ['POST'], '/health': ['GET'], '/stats': ['GET'] };

export class WebMoeServer {
  readonly queue: GenerationQueue;
  private readonly http: Server;
  private state: State = 'loading';
  private failure: string | null = null;
  private readonly counters: ServerCounters = { requests: 0, completions: 0, clientAborts: 0, status: {} };
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly opts: Required<Omit<ServeOptions, 'apiKey' | 'log'>> & Pick<ServeOptions, 'apiKey' | 'log'>;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly engine: ServeEngine,
    opts: ServeOptions = {},
  ) {
    this.opts = {
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 8000,
      apiKey: opts.apiKey ?? null,
      maxQueue: opts.maxQueue ?? 8,
      maxBodyBytes: opts.maxBodyBytes ?? 1 << 20,
      cors: opts.cors ?? { kind: 'none' },
      graceMs: opts.graceMs ?? 10_000,
      log: opts.log,
    };
    this.queue = new GenerationQueue(this.opts.maxQueue);
    this.http = createServer((req, res) => void this.handle(req, res));
  }

  /** Start listening; resolves with the base URL (http://host:port). */
  listen(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.opts.port, this.opts.host, () => {
        this.http.off('error', reject);
        resolve(this.url);
      });
    });
  }

  get url(): string {
    const a = this.http.address() as AddressInfo | null;
    if (!a) throw new Error('the server is not listening');
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  /** The engine has its model: start serving chat requests. */
  setReady(): void {
    if (this.state === 'loading') this.state = 'ready';
  }

  /** Loading failed: every request gets 503 with the reason until the server is stopped. */
  setFailed(reason: string): void {
    if (this.state === 'loading') {
      this.state = 'failed';
      this.failure = reason;
    }
  }

  stats(): ServerCounters & { state: State; queue: ReturnType<GenerationQueue['stats']> } {
    return { ...this.counters, status: { ...this.counters.status }, state: this.state, queue: this.queue.stats() };
  }

  // ---- requests --------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counters.requests++;
    const t0 = performance.now();
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '') || '/';
    res.on('close', () => {
      const ms = (performance.now() - t0).toFixed(0);
      if (!res.writableFinished) return this.opts.log?.(`${method} ${path} client disconnected after ${ms} ms`);
      const cls = `${Math.floor(res.statusCode / 100)}xx`;
      this.counters.status[cls] = (this.counters.status[cls] ?? 0) + 1;
      this.opts.log?.(`${method} ${path} ${res.statusCode} ${ms} ms`);
    });
    const corsOk = applyCors(req, res, this.opts.cors);
    try {
      if (method === 'OPTIONS') return preflight(req, res, corsOk);
      const model = /^\/v1\/models\/(.+)$/.exec(path);
      const allow = model ? ['GET'] : ROUTES[path];
      if (!allow) throw new RouteNotFoundError(method, path);
      if (!allow.includes(method)) throw new MethodNotAllowedError(method, path, allow);
      if (path === '/health') return this.health(res);
      if (this.opts.apiKey) checkBearer(req, this.opts.apiKey);
      if (path === '/stats') return sendJson(res, 200, { server: this.stats(), engine: await this.engine.getStats() });
      this.checkState();
      if (model) return this.model(res, decodeURIComponent(model[1]));
      if (path === '/v1/models') return sendJson(res, 200, { object: 'list', data: [this.modelCard()] });
      await this.chat(req, res);
    } catch (e) {
      if (e instanceof ClientGoneError || clientGone(res)) return void res.destroy();
      if (!(e instanceof Error && 'code' in e)) this.opts.log?.(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      sendError(res, e);
      // a refused upload is not read to its end: close the connection after the answer
      if (httpErrorOf(e).status === 413) res.once('finish', () => req.destroy());
    }
  }

  private checkState(): void {
    if (this.state === 'closing') throw new ShuttingDownError();
    if (this.state === 'loading') throw new ModelLoadingError();
    if (this.state === 'failed') throw new ModelLoadingError(this.failure);
  }

  private health(res: ServerResponse): void {
    if (this.state === 'ready') return sendJson(res, 200, { status: 'ok', model: this.engine.modelId });
    try {
      this.checkState();
    } catch (e) {
      sendError(res, e);
    }
  }

  private modelCard() {
    return { id: this.engine.modelId, object: 'model', created: this.created, owned_by: 'webmoe' };
  }

  private model(res: ServerResponse, id: string): void {
    if (id !== this.engine.modelId) throw new ModelNotFoundError(id, this.engine.modelId ? [this.engine.modelId] : []);
    sendJson(res, 200, this.modelCard());
  }

  private async chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req, this.opts.maxBodyBytes);
    // bad requests are answered now, not after waiting their turn (the engine checks again,
    // with the tokenizer's vocabulary and the model's defaults)
    const v = validateChatRequest(body);
    const loaded = this.engine.modelId;
    if (v.model !== null && v.model !== loaded) throw new ModelNotFoundError(v.model, loaded ? [loaded] : []);

    // the client leaving: while waiting, leave the queue; while generating, stop the generation
    const gone = new AbortController();
    let holding = false;
    const onClose = () => {
      if (res.writableFinished) return;
      gone.abort();
      this.counters.clientAborts++;
      if (holding) this.engine.interruptGenerate();
    };
    res.on('close', onClose);
    const release = await this.queue.acquire(gone.signal);
    holding = true;
    try {
      this.checkState(); // shutdown may have begun while this request waited
      const request = body as ChatCompletionRequest;
      if (!v.stream) {
        const completion = (await this.engine.chat.completions.create({ ...request, stream: false })) as ChatCompletion;
        if (gone.signal.aborted || clientGone(res)) return;
        this.counters.completions++;
        sendJson(res, 200, completion);
        return;
      }
      const chunks = (await this.engine.chat.completions.create({ ...request, stream: true })) as AsyncIterable<ChatCompletionChunk>;
      const sse = new SseWriter(res);
      sse.open();
      try {
        for await (const chunk of chunks) {
          // leaving the loop ends the engine's stream: it interrupts and winds down the reply
          if (!(await sse.data(chunk)) || gone.signal.aborted) break;
        }
      } catch (e) {
        // headers are out: the error becomes the stream's last event (as vLLM does)
        await sse.data(httpErrorOf(e).body);
      }
      if (gone.signal.aborted) return;
      this.counters.completions++;
      await sse.done();
    } finally {
      holding = false;
      res.off('close', onClose);
      release();
    }
  }

  // ---- shutdown --------------------------------------------------------------------------------

  /** Stop accepting, refuse the waiting, finish (or after graceMs interrupt) the reply in flight, close. */
  shutdown(): Promise<void> {
    this.closing ??= this.close();
    return this.closing;
  }

  private async close(): Promise<void> {
    this.state = 'closing';
    this.queue.close();
    const closed = new Promise<void>((r) => this.http.close(() => r()));
    this.http.closeIdleConnections();
    if (this.queue.active) {
      const timer = setTimeout(() => {
        this.opts.log?.(`shutdown: interrupting the reply in flight after ${this.opts.graceMs} ms`);
        this.engine.interruptGenerate();
      }, this.opts.graceMs);
      await this.queue.idle();
      clearTimeout(timer);
    }
    // answered keep-alive connections would hold close() open until their timeout
    setImmediate(() => this.http.closeAllConnections());
    await closed;
  }
}
