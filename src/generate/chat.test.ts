import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuRunner } from '../reference/runner.ts';
import { chatTurn, preparePrompt, type ChatModel, type ChatTurnOptions, type ChatTurnResult } from './chat.ts';
import { ChatTemplate } from './chat-template.ts';
import { ContextLengthExceededError } from './errors.ts';
import type { MessageDelta } from './output-parser.ts';
import { m2Chain, m2TokenizerJson, singleTokenId, successorModel, tinyRandomModel } from './testing.ts';
import { stopTokenIds, tokenizerFromJson } from './tokenizer.ts';

const DIR = join(import.meta.dirname, '../../tests/fixtures/templates');
const tok = tokenizerFromJson(m2TokenizerJson(), { eos_token: '[e~[' });
const id = (s: string) => singleTokenId(tok, s);
// the model is built to give M2_REPLY, token after token, after the prompt's last "\n"
const chain = m2Chain(tok);
const template = ChatTemplate.fromString(readFileSync(join(DIR, 'minimax-m2.jinja'), 'utf8'));
const model: ChatModel = { runner: new CpuRunner(successorModel(tok.vocabSize, chain), 1024), tokenizer: tok, template, stopTokenIds: stopTokenIds(tok) };
const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
const base: ChatTurnOptions = {
  messages: [{ role: 'user', content: 'Weather in Oslo?' }],
  tools,
  sampling: { temperature: 0, top_p: 1, top_k: 0, min_p: 0 },
  maxTokens: null,
  makeToolCallId: () => 'call_1',
};

async function turn(m: ChatModel, opts: Partial<ChatTurnOptions> = {}): Promise<{ deltas: MessageDelta[]; result: ChatTurnResult }> {
  const it = chatTurn(m, { ...base, ...opts });
  const deltas: MessageDelta[] = [];
  let r = await it.next();
  while (!r.done) {
    deltas.push(r.value);
    r = await it.next();
  }
  return { deltas, result: r.value };
}

function merge(deltas: MessageDelta[]) {
  return {
    reasoning: deltas.map((d) => d.reasoning ?? '').join(''),
    content: deltas.map((d) => d.content ?? '').join(''),
    toolCalls: deltas.flatMap((d) => d.toolCalls ?? []),
  };
}

describe('chatTurn (M2 format, a model with a known reply)', () => {
  it('prompt: rendered with tools and the open <think>, tokenized without extra special tokens', () => {
    const p = preparePrompt(model, base);
    expect(p.text.endsWith(']~b]user\nWeather in Oslo?[e~[\n]~b]ai\n<think>\n')).toBe(true);
    expect(p.ids[0]).toBe(id(']~!b['));
    expect(p.ids[p.ids.length - 1]).toBe(chain[0]);
    expect(p.startInReasoning).toBe(true);
    expect(p.format.toolCalls?.name).toBe('minimax_xml');
  });

  it('reasoning, content and a typed tool call; streamed deltas add up to the message', async () => {
    const { deltas, result } = await turn(model);
    expect(result.generation.tokens).toEqual(chain.slice(1));
    expect(result.message).toEqual({
      reasoning_content: 'Plan',
      content: 'Sure',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }],
    });
    expect(result.finishReason).toBe('tool_calls');
    const m = merge(deltas);
    expect(m).toEqual({ reasoning: 'Plan', content: 'Sure', toolCalls: result.message.tool_calls });
    expect(deltas[0]).toEqual({ reasoning: 'Plan' });
  });

  it('enable_thinking=false: the prompt closes <think>, the reply is content from the start', async () => {
    const { result } = await turn(model, { templateKwargs: { enable_thinking: false } });
    expect(result.prompt.startInReasoning).toBe(false);
    expect(result.message).toMatchObject({ reasoning_content: null, content: 'Sure' });
    expect(result.message.tool_calls).toHaveLength(1);
  });

  it('max_tokens cuts the reply ("length"); a stop string ends it ("stop") before the string', async () => {
    const cut = await turn(model, { maxTokens: 3 });
    expect(cut.result.finishReason).toBe('length');
    expect(cut.result.message).toEqual({ reasoning_content: 'Plan', content: '', tool_calls: [] });
    const stopped = await turn(model, { stop: ['ure'] });
    expect(stopped.result.finishReason).toBe('stop');
    expect(stopped.result.message).toEqual({ reasoning_content: 'Plan', content: 'S', tool_calls: [] });
  });

  it('ignore_eos bans the stop ids and runs to max_tokens', async () => {
    const { result } = await turn(model, { ignoreEos: true, maxTokens: 14 });
    expect(result.finishReason).toBe('length');
    expect(result.generation.tokens).toHaveLength(14);
    expect(result.generation.tokens).not.toContain(id('[e~['));
  });

  it('a prompt that leaves no room is refused with the numbers', async () => {
    await expect(turn(model, { maxTokens: 1000 })).rejects.toBeInstanceOf(ContextLengthExceededError);
    await expect(turn(model, { contextLength: 100 })).rejects.toThrow(/context window is 100 tokens/);
  });

  it('an interrupt ends with "abort" and keeps what was generated', async () => {
    const signal = { aborted: false };
    const it = chatTurn(model, { ...base, signal });
    const first = await it.next();
    expect(first.value).toEqual({ reasoning: 'Plan' });
    signal.aborted = true;
    let r = await it.next();
    while (!r.done) r = await it.next();
    expect(r.value.finishReason).toBe('abort');
    expect(r.value.message.reasoning_content).toBe('Plan');
  });
});

describe('chatTurn (story template, random model)', () => {
  it('plain continuation: all content, no reasoning, same text streamed and whole', async () => {
    const story = ChatTemplate.fromString(readFileSync(join(DIR, 'story.jinja'), 'utf8'), { bos_token: ']~!b[' });
    const m: ChatModel = { runner: new CpuRunner(tinyRandomModel(tok.vocabSize, 2), 128), tokenizer: tok, template: story, stopTokenIds: [] };
    const { deltas, result } = await turn(m, { tools: undefined, messages: [{ role: 'user', content: 'Once' }], maxTokens: 10, sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0 }, seed: 1 });
    expect(result.prompt.text).toBe(']~!b[Once');
    expect(result.message.reasoning_content).toBeNull();
    expect(merge(deltas).content).toBe(result.message.content);
    expect(result.message.content).toBe(result.generation.text);
    expect(result.finishReason).toBe('length');
  });
});
