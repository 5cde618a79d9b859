// What RemoteEngine does to an endpoint's answers, as pure functions over data:
//
//   sseEvents(body)          Server-Sent Events -> the `data` of each event (OpenAI's stream framing)
//   RemoteChunkTransform     chat.completion.chunk objects as endpoints send them -> as the in-tab
//                            engine streams them:
//                              - `reasoning` (newer vLLM) is renamed `reasoning_content`
//                              - a `<think>…</think>` block opening the content (vLLM's
//                                minimax_m2_append_think parser, servers without a reasoning
//                                parser) moves into reasoning_content, through the same
//                                OutputParser the engine uses on model output
//                              - tool-call deltas pass through as sent (OpenAI's incremental
//                                {index, id?, function: {name?, arguments}} pieces), or, with
//                                wholeToolCalls, are merged and sent whole when the choice
//                                finishes (as the in-tab engine sends them)
//   normalizeCompletion      the same for a non-streamed chat.completion

import { OutputParser, type ChatFormat } from '../generate/output-parser.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionChunkDelta, ChatCompletionMessage, ChatCompletionMessageToolCall } from './types.ts';

// ---- Server-Sent Events ------------------------------------------------------------------------

/** The `data` of each event of an SSE body (multi-line data joined with "\n"); comments and other fields are skipped. */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let data: string[] = [];
  let finished = false;
  const line = (l: string): string | null => {
    if (l === '') {
      const event = data.length ? data.join('\n') : null;
      data = [];
      return event;
    }
    if (l.startsWith(':')) return null;
    const colon = l.indexOf(':');
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? '' : l.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    return null;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buf += done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (;;) {
        const i = buf.search(/\r\n|\r|\n/);
        // a "\r" at the end may be the first half of "\r\n": wait for the next piece
        if (i < 0 || (i === buf.length - 1 && buf[i] === '\r' && !done)) break;
        const eol = buf.startsWith('\r\n', i) ? 2 : 1;
        const event = line(buf.slice(0, i));
        buf = buf.slice(i + eol);
        if (event !== null) yield event;
      }
      if (done) break;
    }
    // a stream that ends without the blank line after its last event
    if (buf !== '') line(buf);
    if (data.length) yield data.join('\n');
    finished = true;
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

// ---- chunks ------------------------------------------------------------------------------------

export interface RemoteTransformOptions {
  /** move a `<think>…</think>` block at the start of the content into reasoning_content (default true) */
  splitThink?: boolean;
  /** merge tool-call deltas and send each call whole when its choice finishes (default false) */
  wholeToolCalls?: boolean;
}

const THINK_FORMAT: ChatFormat = { reasoning: { start: '<think>', end: '</think>' }, toolCalls: null };

type ToolCallDelta = NonNullable<ChatCompletionChunkDelta['tool_calls']>[number];

/** A tool call assembled from its stream deltas. */
export interface WholeCall {
  index: number;
  id: string;
  name: string;
  arguments: string;
}

interface ChoiceState {
  parser: OutputParser | null;
  calls: Map<number, WholeCall>;
}

/** Endpoint fields we know that are not in our types: `reasoning` (vLLM >= 0.10). */
type WireDelta = ChatCompletionChunkDelta & { reasoning?: string | null };

export class RemoteChunkTransform {
  private readonly choices = new Map<number, ChoiceState>();
  private readonly splitThink: boolean;
  private readonly wholeToolCalls: boolean;

  constructor(opts: RemoteTransformOptions = {}) {
    this.splitThink = opts.splitThink ?? true;
    this.wholeToolCalls = opts.wholeToolCalls ?? false;
  }

  private state(index: number): ChoiceState {
    let s = this.choices.get(index);
    if (!s) {
      s = { parser: this.splitThink ? new OutputParser({ format: THINK_FORMAT, startInReasoning: false }) : null, calls: new Map() };
      this.choices.set(index, s);
    }
    return s;
  }

  /** One chunk from the endpoint -> the chunk to hand out, or null when nothing is left of it (held text). */
  push(chunk: ChatCompletionChunk): ChatCompletionChunk | null {
    const choices: ChatCompletionChunk['choices'] = [];
    for (const c of chunk.choices ?? []) {
      const s = this.state(c.index);
      const src = (c.delta ?? {}) as WireDelta;
      const { reasoning, ...rest } = src;
      const d: WireDelta = { ...rest };
      let think = (src.reasoning_content ?? '') + (reasoning ?? '');
      let text = src.content ?? null;
      if (s.parser && typeof text === 'string') {
        const out = s.parser.push(text);
        if (c.finish_reason) merge(out, s.parser.finish());
        think += out.reasoning ?? '';
        text = out.content ?? '';
      } else if (s.parser && c.finish_reason) {
        const out = s.parser.finish();
        think += out.reasoning ?? '';
        text = out.content ?? null;
      }
      delete d.content;
      delete d.reasoning_content;
      if (d.role) d.content = text ?? '';
      else if (text) d.content = text;
      if (think) d.reasoning_content = think;
      if (this.wholeToolCalls && d.tool_calls) {
        for (const t of d.tool_calls) absorb(s.calls, t);
        delete d.tool_calls;
      }
      if (this.wholeToolCalls && c.finish_reason && s.calls.size) {
        d.tool_calls = wholeCalls(s.calls);
        s.calls.clear();
      }
      if (Object.keys(d).length === 0 && !c.finish_reason) continue;
      choices.push({ ...c, delta: d });
    }
    if (!choices.length && (chunk.choices?.length ?? 0) > 0 && !chunk.usage) return null;
    return { ...chunk, choices };
  }

  /** The stream ended without a finish_reason (cut off): what is still held, as one chunk per choice, or null. */
  flush(template: ChatCompletionChunk, finishReason: ChatCompletionChunk['choices'][number]['finish_reason']): ChatCompletionChunk | null {
    const choices: ChatCompletionChunk['choices'] = [];
    for (const [index, s] of this.choices) {
      const d: ChatCompletionChunkDelta = {};
      if (s.parser) {
        const out = s.parser.finish();
        if (out.reasoning) d.reasoning_content = out.reasoning;
        if (out.content) d.content = out.content;
      }
      if (s.calls.size) {
        d.tool_calls = wholeCalls(s.calls);
        s.calls.clear();
      }
      choices.push({ index, delta: d, finish_reason: finishReason, logprobs: null });
    }
    this.choices.clear();
    if (!choices.length) return null;
    return { id: template.id, object: 'chat.completion.chunk', created: template.created, model: template.model, choices };
  }
}

function merge(a: { reasoning?: string; content?: string }, b: { reasoning?: string; content?: string }): void {
  if (b.reasoning) a.reasoning = (a.reasoning ?? '') + b.reasoning;
  if (b.content) a.content = (a.content ?? '') + b.content;
}

/** Merge one tool-call delta into the calls assembled so far (by index: ids and names set, arguments appended). */
export function absorb(calls: Map<number, WholeCall>, t: ToolCallDelta): void {
  const index = t.index ?? calls.size;
  const w = calls.get(index) ?? { index, id: '', name: '', arguments: '' };
  if (t.id) w.id = t.id;
  if (t.function?.name) w.name += t.function.name;
  if (t.function?.arguments) w.arguments += t.function.arguments;
  calls.set(index, w);
}

/** The assembled calls in index order, as whole stream deltas (each with its index). */
export function wholeCalls(calls: Map<number, WholeCall>): (ChatCompletionMessageToolCall & { index: number })[] {
  return [...calls.values()].sort((a, b) => a.index - b.index).map((w) => ({ index: w.index, id: w.id, type: 'function' as const, function: { name: w.name, arguments: w.arguments } }));
}

// ---- whole replies -----------------------------------------------------------------------------

/** A non-streamed reply with reasoning apart from content (as the in-tab engine returns it). */
export function normalizeCompletion(c: ChatCompletion, opts: RemoteTransformOptions = {}): ChatCompletion {
  const split = opts.splitThink ?? true;
  return {
    ...c,
    choices: (c.choices ?? []).map((choice) => {
      const { reasoning, ...m } = choice.message as ChatCompletionMessage & { reasoning?: string | null };
      const msg: ChatCompletionMessage = { ...m };
      let think = m.reasoning_content ?? reasoning ?? null;
      if (split && typeof m.content === 'string') {
        const p = new OutputParser({ format: THINK_FORMAT, startInReasoning: false });
        p.push(m.content);
        p.finish();
        const parsed = p.message();
        if (parsed.reasoning_content !== null) {
          think = (think ?? '') + parsed.reasoning_content;
          msg.content = parsed.content ?? '';
        }
      }
      if (think !== null) msg.reasoning_content = think;
      else delete msg.reasoning_content;
      return { ...choice, message: msg };
    }),
  };
}
