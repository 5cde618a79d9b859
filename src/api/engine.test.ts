// The engine on the CPU runner over tiny packages written by the real package writer: OpenAI
// objects, streaming vs non-streaming, usage, interrupts, conversation state, errors.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatTurn } from '../generate/chat.ts';
import { ChatTemplate } from '../generate/chat-template.ts';
import { M2_REPLY, byteLevelTokenizerJson, tinyRandomModel } from '../generate/testing.ts';
import { tokenizerFromJson } from '../generate/tokenizer.ts';
import { CpuRunner } from '../reference/runner.ts';
import type { WebMoeEngine } from './engine.ts';
import { ContextLengthExceededError, EngineBusyError, GenerationInterruptedError, InvalidRequestError, ModelNotFoundError, ModelNotLoadedError } from './errors.ts';
import { createNodeEngine } from './node.ts';
import { STORY_VOCAB, WEATHER_TOOL, m2Package, storyPackage, templateText } from './testing.ts';
import type { ChatCompletionChunk, ChatCompletionRequest } from './types.ts';

let root: string;
let story: string;
let m2: string;
let engine: WebMoeEngine;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'webmoe-engine-'));
  story = await storyPackage(join(root, 'story'), 3);
  m2 = await m2Package(join(root, 'm2'));
  engine = createNodeEngine({ backend: 'cpu' });
});
afterAll(async () => {
  await engine.unload();
  rmSync(root, { recursive: true, force: true });
});

async function collect(it: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const out: ChatCompletionChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

const contentOf = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
const WEATHER: ChatCompletionRequest = { messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [WEATHER_TOOL], temperature: 0 };
const ONCE: ChatCompletionRequest = { messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 24, temperature: 1, seed: 7 };

describe('engine: M2 chat format on a model with a known reply', () => {
  beforeAll(() => engine.reload(m2));

  it('chat.completion: reasoning, content and a typed tool call; usage counts the real tokens', async () => {
    const r = await engine.chat.completions.create({ ...WEATHER, stream: false });
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe('m2');
    expect(r.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    const choice = r.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message).toMatchObject({ role: 'assistant', content: 'Sure', reasoning_content: 'Plan' });
    expect(choice.message.tool_calls).toHaveLength(1);
    expect(choice.message.tool_calls![0]).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } });
    expect(choice.message.tool_calls![0].id).toMatch(/^call_/);
    expect(r.usage!.completion_tokens).toBe(M2_REPLY.length);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + M2_REPLY.length);
    expect(r.usage!.extra.prefill_tokens_per_s).toBeGreaterThan(0);
    // the conversation keeps the reply as returned: reasoning and tool calls included
    expect(await engine.getConversation()).toEqual([...WEATHER.messages, choice.message]);
  });

  it('stream: role chunk, deltas that add up to the message, finish chunk, usage chunk only when asked', async () => {
    const chunks = await collect(await engine.chat.completions.create({ ...WEATHER, stream: true, stream_options: { include_usage: true } }));
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const deltas = chunks.slice(1, -2).map((c) => c.choices[0].delta);
    expect(deltas.map((d) => d.reasoning_content ?? '').join('')).toBe('Plan');
    expect(deltas.map((d) => d.content ?? '').join('')).toBe('Sure');
    const calls = deltas.flatMap((d) => d.tool_calls ?? []);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } });
    const fin = chunks[chunks.length - 2];
    expect(fin.choices[0]).toMatchObject({ delta: {}, finish_reason: 'tool_calls' });
    const usage = chunks[chunks.length - 1];
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toMatchObject({ completion_tokens: M2_REPLY.length });

    const plain = await collect(await engine.chat.completions.create({ ...WEATHER, stream: true }));
    expect(plain.some((c) => c.usage)).toBe(false);
    expect(plain[plain.length - 1].choices[0].finish_reason).toBe('tool_calls');
  });

  it('tool_choice "none": the tools are left out of the prompt', async () => {
    const offered = await engine.chat.completions.create(WEATHER);
    const none = await engine.chat.completions.create({ ...WEATHER, tool_choice: 'none' });
    expect(none.usage!.prompt_tokens).toBeLessThan(offered.usage!.prompt_tokens - 20);
  });
});

describe('engine: story model (random weights, sampling)', () => {
  beforeAll(() => engine.reload(story));

  it('streaming and non-streaming give the same reply for the same seed, equal to chatTurn on the in-memory model', async () => {
    const whole = await engine.chat.completions.create({ ...ONCE, stream: false });
    const chunks = await collect(await engine.chat.completions.create({ ...ONCE, stream: true, stream_options: { include_usage: true } }));
    expect(contentOf(chunks)).toBe(whole.choices[0].message.content);
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('length');
    expect(whole.choices[0].finish_reason).toBe('length');
    expect(chunks[chunks.length - 1].usage!.completion_tokens).toBe(24);
    expect(whole.usage!.completion_tokens).toBe(24);

    // the same turn straight through src/generate, on the model the package was written from
    const tok = tokenizerFromJson(byteLevelTokenizerJson([], []), {});
    const direct = chatTurn(
      { runner: new CpuRunner(tinyRandomModel(STORY_VOCAB, 3)), tokenizer: tok, template: ChatTemplate.fromString(templateText('story.jinja')), stopTokenIds: [] },
      { messages: ONCE.messages, sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, repetition_penalty: 1, frequency_penalty: 0, presence_penalty: 0 }, seed: 7, maxTokens: 24 },
    );
    let r = await direct.next();
    while (!r.done) r = await direct.next();
    expect(whole.choices[0].message.content).toBe(r.value.message.content);

    const other = await engine.chat.completions.create({ ...ONCE, seed: 8 });
    expect(other.choices[0].message.content).not.toBe(whole.choices[0].message.content);
  });

  it('interruptGenerate mid-stream ends the stream with finish_reason "abort"; the engine is free again', async () => {
    const req = { ...ONCE, max_tokens: 200, stream: true as const, stream_options: { include_usage: true } };
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of await engine.chat.completions.create(req)) {
      chunks.push(c);
      if (chunks.length === 3) engine.interruptGenerate();
    }
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('abort');
    const used = chunks[chunks.length - 1].usage!.completion_tokens;
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(10);
    const next = await engine.chat.completions.create({ ...ONCE, max_tokens: 3 });
    expect(next.choices[0].finish_reason).toBe('length');
  });

  it('interruptGenerate during a non-streaming request: the engine yields to the event loop, so the call lands', async () => {
    const pending = engine.chat.completions.create({ ...ONCE, max_tokens: 220 });
    setTimeout(() => engine.interruptGenerate(), 0);
    const r = await pending;
    expect(r.choices[0].finish_reason).toBe('abort');
    expect(r.usage!.completion_tokens).toBeLessThan(220);
  });

  it('leaving a for-await early stops the reply and frees the engine', async () => {
    for await (const c of await engine.chat.completions.create({ ...ONCE, max_tokens: 200, stream: true })) if (c.choices[0].delta.content) break;
    const stats = await engine.getStats();
    expect(stats.last!.finishReason).toBe('abort');
    expect(stats.last!.completionTokens).toBeLessThan(200);
    await expect(engine.chat.completions.create({ ...ONCE, max_tokens: 2 })).resolves.toBeTruthy();
  });

  it('one reply at a time: a second create() while a stream is open is EngineBusyError', async () => {
    const it = (await engine.chat.completions.create({ ...ONCE, stream: true }))[Symbol.asyncIterator]();
    await it.next();
    await expect(engine.chat.completions.create(ONCE)).rejects.toBeInstanceOf(EngineBusyError);
    while (!(await it.next()).done);
    await expect(engine.chat.completions.create(ONCE)).resolves.toBeTruthy();
  });

  it('getMessage / getConversation / resetChat', async () => {
    const r = await engine.chat.completions.create({ ...ONCE, messages: [{ role: 'system', content: 'A tale.' }, { role: 'user', content: 'Once' }] });
    expect(await engine.getMessage()).toBe(r.choices[0].message.content);
    const conv = await engine.getConversation();
    expect(conv.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
    expect(conv[2].content).toBe(r.choices[0].message.content);
    expect((await engine.getStats()).requests).toBeGreaterThan(0);
    await engine.resetChat(true);
    expect(await engine.getMessage()).toBe('');
    expect(await engine.getConversation()).toEqual([]);
    expect((await engine.getStats()).requests).toBeGreaterThan(0);
    await engine.resetChat();
    expect((await engine.getStats()).requests).toBe(0);
  });

  it('stats: structured numbers and the WebLLM-style text line', async () => {
    await engine.resetChat();
    await engine.chat.completions.create({ ...ONCE, max_tokens: 6 });
    const s = await engine.getStats();
    expect(s).toMatchObject({ model: 'story', backend: 'cpu', backendNote: null, requests: 1, completionTokens: 6, expertCache: null });
    expect(s.last).toMatchObject({ completionTokens: 6, finishReason: 'length' });
    expect(s.prefillTokensPerSecond).toBeGreaterThan(0);
    expect(s.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(s.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(await engine.runtimeStatsText()).toMatch(/^prefill: [\d.]+ tokens\/sec, decode: [\d.]+ tokens\/sec, .*backend: cpu/);
  });

  it('request errors are the named classes, thrown by create() itself (stream or not)', async () => {
    for (const stream of [false, true]) {
      const bad = engine.chat.completions.create({ ...ONCE, temperature: -0.5, stream } as ChatCompletionRequest);
      await expect(bad).rejects.toBeInstanceOf(InvalidRequestError);
      await expect(bad).rejects.toMatchObject({ param: 'temperature', message: expect.stringContaining("'temperature'") });
      await expect(engine.chat.completions.create({ ...ONCE, max_tokens: 1000, stream } as ChatCompletionRequest)).rejects.toBeInstanceOf(ContextLengthExceededError);
    }
    await expect(engine.chat.completions.create({ ...ONCE, model: 'other' })).rejects.toBeInstanceOf(ModelNotFoundError);
    await expect(engine.chat.completions.create({ ...ONCE, frobnicate: 1 } as ChatCompletionRequest)).rejects.toMatchObject({ param: 'frobnicate' });
    await expect(engine.chat.completions.create({ ...ONCE, model: 'story', max_tokens: 2 })).resolves.toBeTruthy();
  });

  it('unload() mid-stream ends the stream with GenerationInterruptedError; then requests need a model', async () => {
    const it = (await engine.chat.completions.create({ ...ONCE, max_tokens: 200, stream: true }))[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    const unloaded = engine.unload();
    const drain = (async () => {
      for (;;) if ((await it.next()).done) return;
    })();
    await expect(drain).rejects.toBeInstanceOf(GenerationInterruptedError);
    await unloaded;
    await expect(engine.chat.completions.create(ONCE)).rejects.toBeInstanceOf(ModelNotLoadedError);
    expect((await engine.getStats()).model).toBeNull();
  });
});
