// Model output text -> {reasoning_content, content, tool_calls}, incrementally.
//
// The chat format is data read off the chat template (no model-type branches): reasoning markers
// (`<think>` / `</think>`) when the template writes them, a tool-call syntax when the template
// writes one, and whether the rendered prompt leaves a reasoning block open (MiniMax-M2's
// generation prompt ends in `<think>\n`, so its output starts inside the reasoning).
//
// One state machine serves streaming and non-streaming alike, so both give the same message:
//   reasoning --`</think>`--> content --`<tool start>`--> tool block --`<tool end>`--> content
// Text that might be the beginning of a marker is held back until it is decided. Newlines that
// surround reasoning (`<think>\n...\n</think>\n\n`) are dropped, and so is whitespace between the
// content and a tool-call block, matching how the template writes them back into history.

import { findFirst, partialSuffixLength } from './stop.ts';
import { TOOL_CALL_SYNTAXES, randomToolCallId, type ToolCall, type ToolCallSyntax, type ToolDef } from './tool-calls.ts';

export interface ReasoningMarkers {
  start: string;
  end: string;
}

export interface ChatFormat {
  reasoning: ReasoningMarkers | null;
  toolCalls: ToolCallSyntax | null;
}

const REASONING_MARKERS: readonly ReasoningMarkers[] = [{ start: '<think>', end: '</think>' }];

/** What a chat template's text says about the output format. */
export function detectChatFormat(templateSource: string): ChatFormat {
  return {
    reasoning: REASONING_MARKERS.find((m) => templateSource.includes(m.start) && templateSource.includes(m.end)) ?? null,
    toolCalls: TOOL_CALL_SYNTAXES.find((s) => s.detect(templateSource)) ?? null,
  };
}

/** Does the rendered prompt end inside an open reasoning block? */
export function promptOpensReasoning(prompt: string, format: ChatFormat): boolean {
  if (!format.reasoning) return false;
  return prompt.lastIndexOf(format.reasoning.start) > prompt.lastIndexOf(format.reasoning.end);
}

/** Marker texts the detokenizer must not drop even when the tokenizer marks them special. */
export function formatMarkers(format: ChatFormat): string[] {
  const m: string[] = [];
  if (format.reasoning) m.push(format.reasoning.start, format.reasoning.end);
  if (format.toolCalls) m.push(format.toolCalls.start, format.toolCalls.end);
  return m;
}

export interface MessageDelta {
  reasoning?: string;
  content?: string;
  toolCalls?: ToolCall[];
}

export interface ParsedMessage {
  reasoning_content: string | null;
  content: string | null;
  tool_calls: ToolCall[];
}

export interface OutputParserOptions {
  format: ChatFormat;
  /** output starts inside reasoning (see promptOpensReasoning) */
  startInReasoning: boolean;
  /** the request's tools: their parameter schemas type the parsed arguments */
  tools?: readonly ToolDef[];
  makeId?: () => string;
}

type State = 'reasoning' | 'content' | 'tool';

export class OutputParser {
  private state: State;
  private buf = '';
  /** nothing of the current section emitted yet: strip its leading newlines/whitespace */
  private sectionStart: boolean;
  /** content may still open with a reasoning block (no reasoning seen, nothing emitted) */
  private canOpenReasoning: boolean;
  private readonly msg = { reasoning: '', content: '', toolCalls: [] as ToolCall[], sawReasoning: false };

  constructor(private readonly opts: OutputParserOptions) {
    this.state = opts.startInReasoning && opts.format.reasoning ? 'reasoning' : 'content';
    this.msg.sawReasoning = this.state === 'reasoning';
    // output that starts as content keeps its leading whitespace (a story continues " and then")
    this.sectionStart = this.state === 'reasoning';
    this.canOpenReasoning = this.state === 'content' && opts.format.reasoning !== null;
  }

  /** Feed text; returns what became certain. */
  push(text: string): MessageDelta {
    this.buf += text;
    const d: MessageDelta = {};
    this.step(d, false);
    return d;
  }

  /** End of output: release everything held (an unclosed tool block comes back as content). */
  finish(): MessageDelta {
    const d: MessageDelta = {};
    this.step(d, true);
    return d;
  }

  /** The whole message so far. */
  message(): ParsedMessage {
    return {
      reasoning_content: this.msg.sawReasoning ? this.msg.reasoning : null,
      content: this.msg.content === '' && this.msg.toolCalls.length ? null : this.msg.content,
      tool_calls: this.msg.toolCalls,
    };
  }

  private emit(d: MessageDelta, kind: 'reasoning' | 'content', text: string): void {
    if (!text) return;
    this.sectionStart = false;
    if (kind === 'content') this.canOpenReasoning = false;
    this.msg[kind] += text;
    d[kind] = (d[kind] ?? '') + text;
  }

  private step(d: MessageDelta, final: boolean): void {
    const f = this.opts.format;
    for (;;) {
      if (this.sectionStart) {
        // leading newlines of reasoning, leading whitespace of content
        this.buf = this.state === 'reasoning' ? this.buf.replace(/^\n+/, '') : this.state === 'content' ? this.buf.replace(/^\s+/, '') : this.buf;
      }
      if (this.state === 'reasoning') {
        const end = f.reasoning!.end;
        const i = this.buf.indexOf(end);
        if (i >= 0) {
          this.emit(d, 'reasoning', this.buf.slice(0, i).replace(/\n+$/, ''));
          this.buf = this.buf.slice(i + end.length);
          this.enter('content');
          continue;
        }
        if (final) {
          this.emit(d, 'reasoning', this.buf.replace(/\n+$/, ''));
          this.buf = '';
          return;
        }
        // hold a possible marker start and trailing newlines (they may precede the marker)
        const hold = holdBack(this.buf, [end], /\n/);
        this.emit(d, 'reasoning', this.buf.slice(0, this.buf.length - hold));
        this.buf = this.buf.slice(this.buf.length - hold);
        return;
      }
      if (this.state === 'content') {
        if (this.canOpenReasoning && f.reasoning) {
          const start = f.reasoning.start;
          if (this.buf.startsWith(start)) {
            this.buf = this.buf.slice(start.length);
            this.msg.sawReasoning = true;
            this.enter('reasoning');
            continue;
          }
          if (!final && start.startsWith(this.buf)) return; // maybe "<thi" so far
          this.canOpenReasoning = this.buf.length === 0;
        }
        const markers = f.toolCalls ? [f.toolCalls.start] : [];
        const hit = findFirst(this.buf, markers);
        if (hit) {
          this.emit(d, 'content', this.buf.slice(0, hit.index).replace(/\s+$/, ''));
          this.buf = this.buf.slice(hit.index + hit.marker.length);
          this.enter('tool');
          continue;
        }
        if (final) {
          this.emit(d, 'content', this.buf);
          this.buf = '';
          return;
        }
        const hold = markers.length ? holdBack(this.buf, markers, /\s/) : 0;
        this.emit(d, 'content', this.buf.slice(0, this.buf.length - hold));
        this.buf = this.buf.slice(this.buf.length - hold);
        return;
      }
      // tool block: wait for its end, then parse it whole
      const syntax = f.toolCalls!;
      const i = this.buf.indexOf(syntax.end);
      if (i >= 0) {
        const calls = syntax.parse(this.buf.slice(0, i), this.opts.tools ?? [], this.opts.makeId ?? randomToolCallId);
        this.msg.toolCalls.push(...calls);
        if (calls.length) d.toolCalls = [...(d.toolCalls ?? []), ...calls];
        this.buf = this.buf.slice(i + syntax.end.length);
        this.enter('content');
        continue;
      }
      if (final) {
        // the model stopped inside a tool block: give the raw text back as content
        const raw = syntax.start + this.buf;
        this.buf = '';
        this.state = 'content';
        this.emit(d, 'content', raw);
      }
      return;
    }
  }

  private enter(state: State): void {
    this.state = state;
    this.sectionStart = true;
    if (state !== 'content') this.canOpenReasoning = false;
  }
}

/** Tail to keep: a possible marker start plus the run of `space` characters right before it. */
function holdBack(s: string, markers: readonly string[], space: RegExp): number {
  let n = partialSuffixLength(s, markers);
  while (n < s.length && space.test(s[s.length - 1 - n])) n++;
  return n;
}

/** Non-streaming: parse a whole output at once (same state machine, same result). */
export function parseOutput(text: string, opts: OutputParserOptions): ParsedMessage {
  const p = new OutputParser(opts);
  p.push(text);
  p.finish();
  return p.message();
}
