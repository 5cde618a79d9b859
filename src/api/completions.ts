// chatTurn results -> OpenAI objects: `chat.completion` for a whole reply, `chat.completion.chunk`
// for each message delta of a stream. Pure functions; the engine feeds both from the same
// iteration of chatTurn, so a stream's deltas always add up to the non-streamed message.
//
// Stream shape (OpenAI's): a first chunk with {role: "assistant", content: ""}, one chunk per
// delta (reasoning_content, content, or whole tool calls), a chunk with an empty delta and the
// finish_reason, then — with stream_options.include_usage — one chunk with `choices: []` and usage.

import type { ChatFinishReason, ChatTurnResult } from '../generate/chat.ts';
import type { MessageDelta } from '../generate/output-parser.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionChunkDelta, ChatCompletionMessage, CompletionUsage } from './types.ts';

/** What every object of one request shares. */
export interface CompletionMeta {
  id: string;
  /** unix seconds */
  created: number;
  model: string;
}

export function newCompletionMeta(model: string): CompletionMeta {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return { id: `chatcmpl-${hex}`, created: Math.floor(Date.now() / 1000), model };
}

/** Token counts and WebLLM's timing extras, from the generation stats and the request's start. */
export function usageOf(result: ChatTurnResult, requestStart: number, now = performance.now()): CompletionUsage {
  const s = result.generation.stats;
  const decoded = Math.max(0, s.completionTokens - 1);
  return {
    prompt_tokens: s.promptTokens,
    completion_tokens: s.completionTokens,
    total_tokens: s.promptTokens + s.completionTokens,
    extra: {
      e2e_latency_s: (now - requestStart) / 1000,
      prefill_tokens_per_s: s.prefillTokensPerSecond,
      decode_tokens_per_s: s.decodeTokensPerSecond,
      time_to_first_token_s: s.ttftMs / 1000,
      time_per_output_token_s: decoded > 0 ? s.decodeMs / 1000 / decoded : 0,
    },
  };
}

/** The reply as an assistant message (reasoning apart from content). */
export function messageOf(result: ChatTurnResult): ChatCompletionMessage {
  const m = result.message;
  return {
    role: 'assistant',
    content: m.content,
    ...(m.reasoning_content !== null ? { reasoning_content: m.reasoning_content } : {}),
    ...(m.tool_calls.length ? { tool_calls: m.tool_calls.map((c) => ({ id: c.id, type: 'function' as const, function: { ...c.function } })) } : {}),
  };
}

export function completionOf(meta: CompletionMeta, result: ChatTurnResult, usage: CompletionUsage): ChatCompletion {
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message: messageOf(result), finish_reason: result.finishReason, logprobs: null }],
    usage,
  };
}

function chunk(meta: CompletionMeta, delta: ChatCompletionChunkDelta, finishReason: ChatFinishReason | null): ChatCompletionChunk {
  return {
    id: meta.id,
    object: 'chat.completion.chunk',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
  };
}

export function roleChunk(meta: CompletionMeta): ChatCompletionChunk {
  return chunk(meta, { role: 'assistant', content: '' }, null);
}

/**
 * One message delta as a chunk. Tool calls arrive whole (the parser emits a call once its block
 * closes), so each carries id, name and all its arguments; `index` counts calls in the reply.
 */
export function deltaChunk(meta: CompletionMeta, d: MessageDelta, toolCallsBefore: number): ChatCompletionChunk {
  const delta: ChatCompletionChunkDelta = {};
  if (d.reasoning) delta.reasoning_content = d.reasoning;
  if (d.content) delta.content = d.content;
  if (d.toolCalls?.length)
    delta.tool_calls = d.toolCalls.map((c, k) => ({ index: toolCallsBefore + k, id: c.id, type: 'function' as const, function: { name: c.function.name, arguments: c.function.arguments } }));
  return chunk(meta, delta, null);
}

export function finishChunk(meta: CompletionMeta, finishReason: ChatFinishReason): ChatCompletionChunk {
  return chunk(meta, {}, finishReason);
}

export function usageChunk(meta: CompletionMeta, usage: CompletionUsage): ChatCompletionChunk {
  return { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, choices: [], usage };
}
