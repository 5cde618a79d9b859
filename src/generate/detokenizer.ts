// Incremental detokenization for streaming: token ids arrive one at a time, text leaves only when
// it is complete UTF-8.
//
// Decoding one token alone is wrong in three ways: a character split over several byte tokens
// (byte-level BPE "Ã" "©", or SentencePiece byte fallback <0xC3><0xA9>) decodes to U+FFFD until its
// last byte arrives; SentencePiece decoders strip the leading space of the first token; and merges
// of the decoder (Fuse, Strip) act across tokens. So each step decodes a short window twice, from
// the same start: [prefix, read) — text already emitted — and [prefix, end). The difference is the
// new text, released only when it does not end in U+FFFD. (The scheme text-generation-inference
// and vLLM use.)

import type { TextTokenizer } from './tokenizer.ts';

const REPLACEMENT = '\uFFFD';

export interface DetokenizerOptions {
  /** ids never turned into text (control tokens); default: the tokenizer's special ids */
  skipIds?: ReadonlySet<number>;
  /**
   * The last few prompt ids: decoding starts inside the prompt so the first generated token keeps
   * its leading space (SentencePiece strips it at the start of a decode). 4-6 ids are plenty.
   */
  context?: readonly number[];
}

export class IncrementalDetokenizer {
  private readonly ids: number[];
  /** start of the decode window */
  private prefix: number;
  /** end of the text already emitted */
  private read: number;
  private readonly skip: ReadonlySet<number>;
  private emitted = '';

  constructor(
    private readonly tokenizer: TextTokenizer,
    opts: DetokenizerOptions = {},
  ) {
    this.skip = opts.skipIds ?? tokenizer.specialIds;
    this.ids = (opts.context ?? []).filter((id) => !this.skip.has(id));
    this.prefix = 0;
    this.read = this.ids.length;
  }

  /** All text emitted so far. */
  get text(): string {
    return this.emitted;
  }

  private decode(from: number, to: number): string {
    return this.tokenizer.decode(this.ids.slice(from, to), false, false);
  }

  /** Add one token; returns the text it completes ('' while a character is still partial). */
  push(id: number): string {
    if (this.skip.has(id)) return '';
    this.ids.push(id);
    const before = this.decode(this.prefix, this.read);
    const after = this.decode(this.prefix, this.ids.length);
    if (after.length <= before.length || after.endsWith(REPLACEMENT)) return '';
    const delta = after.slice(before.length);
    this.prefix = this.read;
    this.read = this.ids.length;
    this.emitted += delta;
    return delta;
  }

  /** End of stream: release whatever is held, partial characters included (as U+FFFD). */
  flush(): string {
    if (this.read === this.ids.length) return '';
    const before = this.decode(this.prefix, this.read);
    const after = this.decode(this.prefix, this.ids.length);
    const delta = after.slice(before.length);
    this.prefix = this.read = this.ids.length;
    this.emitted += delta;
    return delta;
  }
}

/**
 * Special ids to skip when streaming, except those whose text a chat format must see
 * (e.g. `<think>`, `</think>`, `<minimax:tool_call>` when the tokenizer marks them special).
 */
export function skipIdsKeeping(tokenizer: TextTokenizer, keepTexts: readonly string[]): Set<number> {
  const keep = new Set<number>();
  for (const t of keepTexts) {
    const id = tokenizer.tokenToId(t);
    if (id !== undefined) keep.add(id);
  }
  return new Set([...tokenizer.specialIds].filter((id) => !keep.has(id)));
}
