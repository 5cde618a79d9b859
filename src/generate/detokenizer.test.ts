import { describe, expect, it } from 'vitest';
import { IncrementalDetokenizer, skipIdsKeeping } from './detokenizer.ts';
import { byteFallbackTokenizerJson, byteLevelTokenizerJson } from './testing.ts';
import { tokenizerFromJson } from './tokenizer.ts';

const byteLevel = tokenizerFromJson(
  byteLevelTokenizerJson(
    [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['Ġ', 'w']],
    [
      { content: '<|eos|>', special: true },
      { content: '<think>', special: true },
      { content: '</think>', special: true },
    ],
  ),
  { eos_token: '<|eos|>' },
);
const sentencePiece = tokenizerFromJson(byteFallbackTokenizerJson(['▁Hello', '▁world', '▁the']), { bos_token: '<s>', eos_token: '</s>' });

/** Stream ids one by one; returns the deltas. */
function stream(d: IncrementalDetokenizer, ids: number[]): string[] {
  const out = ids.map((id) => d.push(id));
  out.push(d.flush());
  return out;
}

describe('IncrementalDetokenizer', () => {
  const text = 'Hello the world é, 😀!\nthe end';

  it('byte-level BPE: concatenated deltas equal the full decode; split characters wait for their last byte', () => {
    const ids = byteLevel.encode(text);
    const deltas = stream(new IncrementalDetokenizer(byteLevel), ids);
    expect(deltas.join('')).toBe(text);
    expect(deltas.join('')).toBe(byteLevel.decode(ids));
    for (const d of deltas) expect(d).not.toContain('\uFFFD');
    // "é" is two byte tokens: the first yields nothing, the second the whole character
    const e = ids.indexOf(195); // 0xC3
    expect(deltas[e]).toBe('');
    expect(deltas[e + 1]).toBe('é');
    // "😀" is four byte tokens
    const f = ids.indexOf(240); // 0xF0
    expect(deltas.slice(f, f + 3)).toEqual(['', '', '']);
    expect(deltas[f + 3]).toBe('😀');
  });

  it('byte fallback (<0x0A>, <0xC3><0xA9>) and SentencePiece spaces', () => {
    const ids = sentencePiece.encode(text, false);
    expect(ids.map((i) => sentencePiece.idToToken(i))).toContain('<0x0A>');
    const deltas = stream(new IncrementalDetokenizer(sentencePiece), ids);
    expect(deltas.join('')).toBe(sentencePiece.decode(ids));
    expect(deltas.join('')).toBe(text);
    // the second word keeps its leading space although "▁world" alone decodes to "world"
    expect(sentencePiece.decode([ids[1]])).toBe('the');
    expect(deltas[1]).toBe(' the');
    const nl = ids.findIndex((i) => sentencePiece.idToToken(i) === '<0x0A>');
    expect(deltas[nl]).toBe('\n');
    const c3 = ids.findIndex((i) => sentencePiece.idToToken(i) === '<0xC3>');
    expect(deltas[c3]).toBe('');
    expect(deltas[c3 + 1]).toBe('é');
  });

  it('prompt context keeps the leading space of the first generated token', () => {
    const prompt = sentencePiece.encode('Hello', true);
    const gen = sentencePiece.encode('Hello world', false).slice(1); // "▁world"
    expect(stream(new IncrementalDetokenizer(sentencePiece), gen).join('')).toBe('world');
    expect(stream(new IncrementalDetokenizer(sentencePiece, { context: prompt }), gen).join('')).toBe(' world');
  });

  it('skips special tokens unless asked to keep them', () => {
    const think = byteLevel.tokenToId('<think>')!;
    const endThink = byteLevel.tokenToId('</think>')!;
    const eos = byteLevel.tokenToId('<|eos|>')!;
    const ids = [think, ...byteLevel.encode('hm'), endThink, ...byteLevel.encode(' the'), eos];
    expect(stream(new IncrementalDetokenizer(byteLevel), ids).join('')).toBe('hm the');
    const keep = skipIdsKeeping(byteLevel, ['<think>', '</think>']);
    expect([...keep]).toEqual([eos]);
    expect(stream(new IncrementalDetokenizer(byteLevel, { skipIds: keep }), ids).join('')).toBe('<think>hm</think> the');
  });

  it('flush releases an unfinished character as U+FFFD', () => {
    const d = new IncrementalDetokenizer(byteLevel);
    expect(d.push(240)).toBe('');
    expect(d.push(159)).toBe('');
    expect(d.flush()).toBe('\uFFFD');
    expect(d.flush()).toBe('');
  });
});
