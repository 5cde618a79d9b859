// The generation loop, backend-agnostic: any ModelRunner (CPU reference, WebGPU) and any
// tokenizer. A ladder of small functions, as in gpt-fast:
//
//   prefill(prompt)        -> logits of the last prompt token (chunked, interruptible)
//   decodeOneToken(token)  -> logits after one more token
//   decodeNTokens(...)     -> sampled ids; the forward of token n is queued before n is handed
//                             out, so a GPU backend computes while the caller detokenizes
//   generate(...)          -> {tokenId, textDelta} steps, then a GenerationResult
//
// Text: ids -> IncrementalDetokenizer (complete UTF-8 only) -> StopStringMatcher (never emits a
// stop string) -> textDelta. Finish reasons: "stop" (a stop id or stop string), "length"
// (max_tokens), "abort" (the interrupt signal).

import type { ExpertCacheStats, ModelRunner } from '../model/runner.ts';
import { IncrementalDetokenizer, type DetokenizerOptions } from './detokenizer.ts';
import { ContextLengthExceededError } from './errors.ts';
import { DEFAULT_SAMPLING, TokenHistory, makeRng, sample, type SamplingParams } from './sampler.ts';
import { StopStringMatcher } from './stop.ts';
import type { TextTokenizer } from './tokenizer.ts';

export type FinishReason = 'stop' | 'length' | 'abort';

/** An AbortSignal, or anything with `aborted`. */
export interface InterruptSignal {
  readonly aborted: boolean;
}

export interface GenerateOptions {
  promptIds: readonly number[];
  /** most tokens to generate (>= 1); prompt + maxTokens must fit contextLength */
  maxTokens: number;
  sampling?: SamplingParams;
  /** RNG seed; random when absent */
  seed?: number;
  /** ids that end generation (EOS); counted as generated, never turned into text */
  stopTokenIds?: readonly number[];
  /** strings that end generation; the text before them is the output */
  stopStrings?: readonly string[];
  signal?: InterruptSignal;
  /** default: the runner's maxLength, else the model's max_position_embeddings */
  contextLength?: number;
  /** ids to skip while detokenizing (default: the tokenizer's special ids) */
  skipIds?: DetokenizerOptions['skipIds'];
  /** prompt tokens per forward call during prefill (default 512) */
  prefillChunk?: number;
}

export interface GenerateStep {
  /** the sampled id; null for text released at the end without a new token (after an abort) */
  tokenId: number | null;
  /** text this step completes ('' while a character or a possible stop string is pending) */
  textDelta: string;
}

export interface GenerationStats {
  promptTokens: number;
  completionTokens: number;
  /** time to first token: start of generate() until the first id is sampled */
  ttftMs: number;
  prefillMs: number;
  /** first sampled id until the last one */
  decodeMs: number;
  totalMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  expertCache?: ExpertCacheStats;
}

export interface GenerationResult {
  finishReason: FinishReason;
  /** generated ids, stop ids included */
  tokens: number[];
  /** all text handed out in steps */
  text: string;
  /** what stopped it: a stop id or a stop string (null for length / abort) */
  stoppedBy: { tokenId: number } | { string: string } | null;
  /** tokens in the runner's sequence afterwards (prompt + generated, possibly minus the last) */
  runnerLength: number;
  seed: number;
  stats: GenerationStats;
}

/**
 * The completion budget once the prompt is tokenized: max_tokens if prompt plus it fits the
 * context window (else ContextLengthExceededError); without max_tokens, whatever is left.
 */
export function resolveMaxTokens(promptTokens: number, maxTokens: number | null, contextLength: number): number {
  if (promptTokens >= contextLength) throw new ContextLengthExceededError(promptTokens, maxTokens ?? 1, contextLength);
  if (maxTokens === null) return contextLength - promptTokens;
  if (promptTokens + maxTokens > contextLength) throw new ContextLengthExceededError(promptTokens, maxTokens, contextLength);
  return maxTokens;
}

/** Run the prompt through the model; logits (V) of its last token, or null if interrupted. */
export async function prefill(runner: ModelRunner, ids: readonly number[], chunk: number, signal?: InterruptSignal): Promise<Float32Array | null> {
  let logits: Float32Array | null = null;
  for (let i = 0; i < ids.length; i += chunk) {
    if (signal?.aborted) return null;
    logits = (await runner.forward(ids.slice(i, i + chunk)))[0];
  }
  return logits;
}

/** One more token through the model; logits (V) after it. */
export async function decodeOneToken(runner: ModelRunner, token: number): Promise<Float32Array> {
  return (await runner.forward([token]))[0];
}

export interface DecodeContext {
  sampling: SamplingParams;
  rng: () => number;
  history: TokenHistory;
  stopIds: ReadonlySet<number>;
}

/**
 * Sample up to n ids starting from `logits`. Stops after a stop id. The forward pass of each id
 * is started before the id is yielded; if the consumer stops early, that pass is awaited so the
 * runner is left consistent.
 */
export async function* decodeNTokens(runner: ModelRunner, logits: Float32Array, n: number, ctx: DecodeContext): AsyncGenerator<number> {
  let pending: Promise<Float32Array> | null = null;
  try {
    for (let i = 0; i < n; i++) {
      const id = sample(logits, ctx.sampling, ctx.rng, ctx.history);
      ctx.history.push(id);
      const last = i + 1 === n || ctx.stopIds.has(id);
      if (!last) {
        pending = decodeOneToken(runner, id);
        pending.catch(() => {}); // surfaced by the await below
      }
      yield id;
      if (last) return;
      logits = await pending!;
      pending = null;
    }
  } finally {
    if (pending) await pending.catch(() => {});
  }
}

/** The context window: an explicit limit, else the runner's capacity, else the model's. */
export function contextLengthOf(runner: ModelRunner, explicit?: number): number {
  return explicit ?? runner.maxLength ?? runner.spec.max_position_embeddings;
}

/** Prompt ids -> streamed steps; the generator's return value is the GenerationResult. */
export async function* generate(runner: ModelRunner, tokenizer: TextTokenizer, opts: GenerateOptions): AsyncGenerator<GenerateStep, GenerationResult> {
  const t0 = performance.now();
  const prompt = opts.promptIds;
  if (prompt.length === 0) throw new RangeError('generate() needs at least one prompt token');
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 1) throw new RangeError(`maxTokens must be an integer >= 1, got ${opts.maxTokens}`);
  resolveMaxTokens(prompt.length, opts.maxTokens, contextLengthOf(runner, opts.contextLength));

  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
  const ctx: DecodeContext = {
    sampling: opts.sampling ?? DEFAULT_SAMPLING,
    rng: makeRng(seed),
    history: new TokenHistory(prompt),
    stopIds: new Set(opts.stopTokenIds ?? []),
  };
  const detok = new IncrementalDetokenizer(tokenizer, { skipIds: opts.skipIds, context: prompt.slice(-6) });
  const stops = new StopStringMatcher(opts.stopStrings ?? []);
  const tokens: number[] = [];
  let text = '';
  let finishReason: FinishReason = 'length';
  let stoppedBy: GenerationResult['stoppedBy'] = null;
  let tFirst = 0;

  runner.reset();
  const logits = await prefill(runner, prompt, opts.prefillChunk ?? 512, opts.signal);
  const tPrefill = performance.now();
  if (logits === null) finishReason = 'abort';
  else {
    const ids = decodeNTokens(runner, logits, opts.maxTokens, ctx);
    for await (const id of ids) {
      if (tokens.length === 0) tFirst = performance.now();
      tokens.push(id);
      const isStopId = ctx.stopIds.has(id);
      let delta = isStopId ? '' : stops.push(detok.push(id)).text;
      if (stops.matched !== null) {
        finishReason = 'stop';
        stoppedBy = { string: stops.matched };
      } else if (isStopId || tokens.length === opts.maxTokens) {
        // last token: release what the detokenizer and the stop matcher hold
        delta += stops.push(detok.flush()).text;
        if (stops.matched !== null) stoppedBy = { string: stops.matched };
        else {
          delta += stops.flush();
          if (isStopId) stoppedBy = { tokenId: id };
        }
        finishReason = stoppedBy ? 'stop' : 'length';
      }
      text += delta;
      yield { tokenId: id, textDelta: delta };
      if (stoppedBy || tokens.length === opts.maxTokens) break;
      if (opts.signal?.aborted) {
        finishReason = 'abort';
        break;
      }
    }
    if (finishReason === 'abort') {
      const tail = stops.push(detok.flush()).text + stops.flush();
      if (tail) {
        text += tail;
        yield { tokenId: null, textDelta: tail };
      }
    }
  }

  const tEnd = performance.now();
  const prefillMs = tPrefill - t0;
  const decodeMs = tokens.length ? tEnd - tFirst : 0;
  return {
    finishReason,
    tokens,
    text,
    stoppedBy,
    runnerLength: runner.length,
    seed,
    stats: {
      promptTokens: prompt.length,
      completionTokens: tokens.length,
      ttftMs: tokens.length ? tFirst - t0 : 0,
      prefillMs,
      decodeMs,
      totalMs: tEnd - t0,
      prefillTokensPerSecond: prefillMs > 0 ? prompt.length / (prefillMs / 1000) : 0,
      decodeTokensPerSecond: tokens.length > 1 && decodeMs > 0 ? (tokens.length - 1) / (decodeMs / 1000) : 0,
      ...(runner.expertCacheStats ? { expertCache: runner.expertCacheStats() } : {}),
    },
  };
}

/** Run generate() to the end; the steps' text is in result.text. */
export async function generateAll(runner: ModelRunner, tokenizer: TextTokenizer, opts: GenerateOptions): Promise<GenerationResult> {
  const it = generate(runner, tokenizer, opts);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}
