// One chat turn, end to end below the API: messages -> chat template -> prompt ids -> generation
// loop -> output parser -> message deltas (reasoning, content, tool calls) and the final message.
// The engine API wraps this in OpenAI objects (chat.completion, chat.completion.chunk); streaming
// and non-streaming are the same iteration, so they cannot disagree.

import type { ModelRunner } from '../model/runner.ts';
import { ChatTemplate, toTemplateMessages, type ChatMessageIn } from './chat-template.ts';
import { skipIdsKeeping } from './detokenizer.ts';
import { contextLengthOf, generate, resolveMaxTokens, type FinishReason, type GenerationResult, type InterruptSignal } from './loop.ts';
import { OutputParser, detectChatFormat, formatMarkers, promptOpensReasoning, type ChatFormat, type MessageDelta, type ParsedMessage } from './output-parser.ts';
import type { SamplingParams } from './sampler.ts';
import type { TextTokenizer } from './tokenizer.ts';
import type { ToolDef } from './tool-calls.ts';

/** What a loaded model brings to a chat. */
export interface ChatModel {
  runner: ModelRunner;
  tokenizer: TextTokenizer;
  template: ChatTemplate;
  /** ids that end a reply (EOS / end-of-message); see stopTokenIds() in tokenizer.ts */
  stopTokenIds: readonly number[];
}

export interface ChatTurnOptions {
  messages: readonly ChatMessageIn[];
  /** OpenAI tools; rendered into the prompt and used to type parsed tool-call arguments */
  tools?: readonly ToolDef[];
  /** extra template variables (enable_thinking, ...) */
  templateKwargs?: Record<string, unknown>;
  sampling: SamplingParams;
  seed?: number;
  /** null: whatever the context window leaves */
  maxTokens: number | null;
  stop?: readonly string[];
  /** keep generating through EOS (the stop ids are banned from sampling) */
  ignoreEos?: boolean;
  signal?: InterruptSignal;
  /** default: the runner's capacity, else max_position_embeddings */
  contextLength?: number;
  makeToolCallId?: () => string;
}

export interface PreparedPrompt {
  text: string;
  ids: number[];
  format: ChatFormat;
  /** the prompt leaves a reasoning block open (M2's `<think>\n`): output starts as reasoning */
  startInReasoning: boolean;
}

export type ChatFinishReason = FinishReason | 'tool_calls';

export interface ChatTurnResult {
  message: ParsedMessage;
  /** OpenAI's: "tool_calls" when the reply called tools and ended normally */
  finishReason: ChatFinishReason;
  prompt: PreparedPrompt;
  generation: GenerationResult;
}

/** Render and tokenize the prompt. Template output already holds BOS etc.: no special tokens added. */
export function preparePrompt(model: ChatModel, opts: Pick<ChatTurnOptions, 'messages' | 'tools' | 'templateKwargs'>): PreparedPrompt {
  const renderOpts = { tools: opts.tools, addGenerationPrompt: true, kwargs: opts.templateKwargs };
  const text = model.template.render(toTemplateMessages(opts.messages), renderOpts);
  const format = detectChatFormat(model.template.sourceFor(renderOpts));
  return { text, ids: model.tokenizer.encode(text, false), format, startInReasoning: promptOpensReasoning(text, format) };
}

/**
 * Stream one assistant reply as message deltas; the return value is the whole reply. `prompt`:
 * preparePrompt(model, opts) when the caller already has it (the engine renders it up front, to
 * throw template errors from create()).
 */
export async function* chatTurn(model: ChatModel, opts: ChatTurnOptions, prompt: PreparedPrompt = preparePrompt(model, opts)): AsyncGenerator<MessageDelta, ChatTurnResult> {
  const maxTokens = resolveMaxTokens(prompt.ids.length, opts.maxTokens, contextLengthOf(model.runner, opts.contextLength));
  const sampling = opts.ignoreEos ? { ...opts.sampling, banned: [...(opts.sampling.banned ?? []), ...model.stopTokenIds] } : opts.sampling;
  const parser = new OutputParser({ format: prompt.format, startInReasoning: prompt.startInReasoning, tools: opts.tools, makeId: opts.makeToolCallId });
  const steps = generate(model.runner, model.tokenizer, {
    promptIds: prompt.ids,
    maxTokens,
    sampling,
    seed: opts.seed,
    stopTokenIds: opts.ignoreEos ? [] : model.stopTokenIds,
    stopStrings: opts.stop,
    signal: opts.signal,
    contextLength: opts.contextLength,
    skipIds: skipIdsKeeping(model.tokenizer, formatMarkers(prompt.format)),
  });
  let r = await steps.next();
  while (!r.done) {
    const d = parser.push(r.value.textDelta);
    if (d.reasoning || d.content || d.toolCalls) yield d;
    r = await steps.next();
  }
  const last = parser.finish();
  if (last.reasoning || last.content || last.toolCalls) yield last;
  const message = parser.message();
  const generation = r.value;
  const finishReason: ChatFinishReason = generation.finishReason === 'stop' && message.tool_calls.length ? 'tool_calls' : generation.finishReason;
  return { message, finishReason, prompt, generation };
}
