// The default model's tokenizer.json (converted from llama2.c's tok512.bin by tools/train/tok512.py)
// against llama2.c's own encode algorithm, implemented here from its description: a dummy-prefix
// " ", one piece per UTF-8 code point (or its bytes as <0xNN> pieces), then merge the adjacent pair
// whose concatenation is the highest-scoring piece, leftmost first, until none merges. The teacher
// (stories260K) and the bits-per-byte evaluation use exactly these ids.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenizerFromJson } from '../../src/generate/tokenizer.ts';
import { DEFAULT_MODEL_DIR } from './model-dir.ts';

const SHARED = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');
const TOK512 = join(SHARED, 'stories260K', 'tok512.bin');
const VALID = join(SHARED, 'tinystories', 'tinystories_valid_head.txt');

/** llama2.c's tokenizer: pieces (UTF-8 bytes as latin1 strings) and scores from tok512.bin. */
function readTok512(path: string): { pieces: string[]; scores: number[] } {
  const b = readFileSync(path);
  const pieces: string[] = [];
  const scores: number[] = [];
  for (let off = 4; off < b.length; ) {
    scores.push(b.readFloatLE(off));
    const n = b.readInt32LE(off + 4);
    pieces.push(b.subarray(off + 8, off + 8 + n).toString('latin1'));
    off += 8 + n;
  }
  return { pieces, scores };
}

function llama2cEncoder(path: string): (text: string) => number[] {
  const { pieces, scores } = readTok512(path);
  const lookup = new Map<string, number>();
  pieces.forEach((p, i) => {
    if (!lookup.has(p)) lookup.set(p, i);
  });
  return (text) => {
    if (text === '') return [];
    const ids: number[] = [];
    for (const ch of ' ' + text) {
      const bytes = Buffer.from(ch, 'utf8');
      const id = lookup.get(bytes.toString('latin1'));
      if (id !== undefined) ids.push(id);
      else for (const x of bytes) ids.push(x + 3);
    }
    for (;;) {
      let best = -1e10;
      let at = -1;
      let merged = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const id = lookup.get(pieces[ids[i]] + pieces[ids[i + 1]]);
        if (id !== undefined && scores[id] > best) {
          best = scores[id];
          at = i;
          merged = id;
        }
      }
      if (at < 0) return ids;
      ids.splice(at, 2, merged);
    }
  };
}

const hasData = existsSync(TOK512) && existsSync(VALID);

describe.skipIf(!hasData)('default model tokenizer.json = llama2.c tok512 encode', () => {
  // set up in beforeAll: a skipped describe still runs its body to collect the tests
  let config: Record<string, unknown>;
  let tok: ReturnType<typeof tokenizerFromJson>;
  let encode: (s: string) => number[];
  beforeAll(() => {
    config = JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'tokenizer_config.json'), 'utf8'));
    tok = tokenizerFromJson(JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'tokenizer.json'), 'utf8')), config);
    encode = llama2cEncoder(TOK512);
  });

  it('same ids on validation paragraphs and edge cases, and decodes back', () => {
    const text = readFileSync(VALID, 'utf8');
    // whole paragraphs (the quadratic merge loop above is slow on one huge string)
    const paras = text.split('\n\n').slice(0, 400);
    const cases = [...paras, 'Once upon a time', '  two  spaces ', 'emoji 😀 ünïcödé\n\nnew', 'a', '\n', 'tab\there', 'Lily\'s mom said, "Hi!"'];
    let n = 0;
    for (const s of cases) {
      const want = encode(s);
      expect(tok.encode(s, false)).toEqual(want);
      expect(tok.decode(want)).toBe(s);
      n += want.length;
    }
    expect(n).toBeGreaterThan(10_000);
  });

  it('adds BOS for prompts; the chat template renders BOS plus the story', () => {
    expect(tok.encode('Once upon a time')).toEqual([1, ...encode('Once upon a time')]);
    expect(tok.specialTokens).toMatchObject({ bos_token: '<s>', eos_token: '</s>' });
    expect(typeof config.chat_template).toBe('string');
  });
});
