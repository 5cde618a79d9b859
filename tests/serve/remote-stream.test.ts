// RemoteEngine's handling of what other servers send, as data (no server here produces these
// shapes: webmoe serve splits reasoning itself and sends tool calls whole):
//   - SSE framing split anywhere (inside a "\r\n", inside a UTF-8 character), comments, multi-line data
//   - vLLM with --reasoning-parser minimax_m2_append_think: "<think>" prepended to the first
//     content delta, reasoning left inside `content`
//   - newer vLLM's `reasoning` delta field
//   - OpenAI-style incremental tool-call deltas (merged with wholeToolCalls)

import { describe, expect, it } from 'vitest';
import { RemoteChunkTransform, normalizeCompletion, sseEvents } from '../../src/api/remote-stream.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionChunkDelta } from '../../src/api/types.ts';

function bodyOf(pieces: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const p of pieces) c.enqueue(p);
      c.close();
    },
  });
}

async function events(pieces: Uint8Array[]): Promise<string[]> {
  const out: string[] = [];
  for await (const e of sseEvents(bodyOf(pieces))) out.push(e);
  return out;
}

const chunk = (delta: ChatCompletionChunkDelta & { reasoning?: string }, finish: ChatCompletionChunk['choices'][number]['finish_reason'] = null): ChatCompletionChunk => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'MiniMaxAI/MiniMax-M2',
  choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
});

function run(t: RemoteChunkTransform, chunks: ChatCompletionChunk[]): ChatCompletionChunk[] {
  return chunks.map((c) => t.push(c)).filter((c): c is ChatCompletionChunk => c !== null);
}

const joined = (cs: ChatCompletionChunk[], k: 'content' | 'reasoning_content') => cs.map((c) => c.choices[0]?.delta[k] ?? '').join('');

describe('sseEvents', () => {
  it('yields the same events however the bytes are split', async () => {
    const text = ': keep-alive\r\n\r\ndata: {"a":1}\r\n\r\ndata: line one\ndata: line two\n\nevent: x\nid: 7\ndata:{"b":"é"}\n\ndata: [DONE]\n\n';
    const bytes = new TextEncoder().encode(text);
    const want = ['{"a":1}', 'line one\nline two', '{"b":"é"}', '[DONE]'];
    expect(await events([bytes])).toEqual(want);
    for (let cut = 1; cut < bytes.length; cut++) expect(await events([bytes.slice(0, cut), bytes.slice(cut)])).toEqual(want);
    // one byte at a time
    expect(await events([...bytes].map((b) => new Uint8Array([b])))).toEqual(want);
  });

  it('a last event without the closing blank line is still delivered', async () => {
    expect(await events([new TextEncoder().encode('data: {"x":1}\n\ndata: {"y":2}')])).toEqual(['{"x":1}', '{"y":2}']);
  });
});

describe('RemoteChunkTransform', () => {
  it('vLLM minimax_m2_append_think: <think>…</think> in content becomes reasoning_content, split anywhere', () => {
    const text = '<think>The user wants a haiku.\nKeep it short.\n</think>\n\nLeaves fall, quiet pond.';
    for (const size of [1, 3, 7, 100]) {
      const pieces = [chunk({ role: 'assistant', content: '' })];
      for (let i = 0; i < text.length; i += size) pieces.push(chunk({ content: text.slice(i, i + size) }));
      pieces.push(chunk({}, 'stop'));
      const out = run(new RemoteChunkTransform(), pieces);
      expect(joined(out, 'reasoning_content')).toBe('The user wants a haiku.\nKeep it short.');
      expect(joined(out, 'content')).toBe('Leaves fall, quiet pond.');
      expect(out[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
      expect(out.at(-1)!.choices[0].finish_reason).toBe('stop');
      expect(out.every((c) => !c.choices[0] || !('reasoning' in c.choices[0].delta))).toBe(true);
    }
  });

  it('text held back as a possible "<think>" is released at the finish; splitThink: false leaves content alone', () => {
    const out = run(new RemoteChunkTransform(), [chunk({ content: '<thi' }), chunk({ content: 'ng>' }, 'length')]);
    expect(out).toHaveLength(1);
    expect(out[0].choices[0]).toMatchObject({ delta: { content: '<thing>' }, finish_reason: 'length' });
    const raw = run(new RemoteChunkTransform({ splitThink: false }), [chunk({ content: '<think>x</think>y' }, 'stop')]);
    expect(raw[0].choices[0].delta).toEqual({ content: '<think>x</think>y' });
  });

  it('the `reasoning` field (newer vLLM) and `reasoning_content` both arrive as reasoning_content', () => {
    const out = run(new RemoteChunkTransform(), [chunk({ reasoning: 'Think' }), chunk({ reasoning_content: 'ing' }), chunk({ content: 'Done' }, 'stop')]);
    expect(joined(out, 'reasoning_content')).toBe('Thinking');
    expect(joined(out, 'content')).toBe('Done');
  });

  it('tool-call deltas pass through as sent, or merge into whole calls with wholeToolCalls', () => {
    const pieces = [
      chunk({ role: 'assistant', content: '' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city": ' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'),
    ];
    const through = run(new RemoteChunkTransform(), pieces);
    expect(through.map((c) => c.choices[0].delta.tool_calls)).toEqual(pieces.map((c) => c.choices[0].delta.tool_calls));
    const whole = run(new RemoteChunkTransform({ wholeToolCalls: true }), pieces);
    expect(whole).toHaveLength(2);
    expect(whole[1].choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      delta: {
        tool_calls: [
          { index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Oslo"}' } },
          { index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } },
        ],
      },
    });
  });

  it('a usage-only chunk passes; flush() ends a cut-off stream with what was held', () => {
    const t = new RemoteChunkTransform();
    const usage: ChatCompletionChunk = { ...chunk({}), choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } as ChatCompletionChunk['usage'] };
    expect(t.push(chunk({ content: '<think>abc' }))).toMatchObject({ choices: [{ delta: { reasoning_content: 'abc' } }] });
    expect(t.push(chunk({ content: '\n</thi' }))).toBeNull();
    expect(t.push(usage)).toEqual(usage);
    const end = t.flush(chunk({}), 'abort')!;
    expect(end.choices[0]).toMatchObject({ finish_reason: 'abort', delta: { reasoning_content: '\n</thi' } });
  });
});

describe('normalizeCompletion', () => {
  const completion = (message: object): ChatCompletion => ({
    id: 'c',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content: null, ...message } as ChatCompletion['choices'][0]['message'], finish_reason: 'stop', logprobs: null }],
  });
  it('splits an inline <think> block, renames `reasoning`, keeps tool calls', () => {
    expect(normalizeCompletion(completion({ content: '<think>\nplan\n</think>\n\nanswer' })).choices[0].message).toEqual({ role: 'assistant', content: 'answer', reasoning_content: 'plan' });
    expect(normalizeCompletion(completion({ content: 'answer', reasoning: 'plan' })).choices[0].message).toEqual({ role: 'assistant', content: 'answer', reasoning_content: 'plan' });
    const calls = [{ id: 'x', type: 'function' as const, function: { name: 'f', arguments: '{}' } }];
    expect(normalizeCompletion(completion({ content: null, tool_calls: calls })).choices[0].message).toEqual({ role: 'assistant', content: null, tool_calls: calls });
    expect(normalizeCompletion(completion({ content: 'plain' })).choices[0].message).toEqual({ role: 'assistant', content: 'plain' });
  });
});
