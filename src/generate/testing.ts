// Test assets built in code: tiny tokenizer.json files of the two kinds MoE checkpoints ship
// (byte-level BPE like MiniMax-M2 / gpt-oss / Qwen3; SentencePiece-style BPE with byte fallback
// like Mixtral) and a tiny random MoE model on the CPU reference. Used by tests only.

import { adapterFor } from '../format/adapters/index.ts';
import { ConfigReader } from '../format/adapters/common.ts';
import { expertFieldShape, expertFieldsPresent, layerFieldShape, layerFieldsPresent, type ExpertWeights, type LayerWeights } from '../format/weights.ts';
import { ReferenceModel } from '../reference/forward.ts';
import { makeRng } from './sampler.ts';
import type { TextTokenizer } from './tokenizer.ts';

export interface AddedTokenSpec {
  content: string;
  special: boolean;
}

function addedTokenJson(id: number, t: AddedTokenSpec) {
  return { id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t.special };
}

/** GPT-2's byte -> printable-character table used by byte-level BPE vocabularies. */
export function byteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  return out;
}

/**
 * Byte-level BPE: ids 0..255 are the bytes, then one id per merge (in order), then the added
 * tokens. `merges` are pairs of existing tokens written in byte-level characters ("Ġ" is space).
 */
export function byteLevelTokenizerJson(merges: [string, string][], added: AddedTokenSpec[]): object {
  const vocab: Record<string, number> = {};
  byteToUnicode().forEach((c, b) => (vocab[c] = b));
  let next = 256;
  for (const [a, b] of merges) {
    if (vocab[a] === undefined || vocab[b] === undefined) throw new Error(`merge ${a} + ${b}: both halves must be tokens already`);
    vocab[a + b] ??= next++;
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.map((t, i) => addedTokenJson(next + i, t)),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

const added = (content: string, special: boolean): AddedTokenSpec => ({ content, special });

/**
 * A byte-level tokenizer for MiniMax-M2's chat format: its markers, and each piece of M2_REPLY as
 * one token (eos_token '[e~[', bos_token ']~!b[').
 */
export function m2TokenizerJson(): object {
  return byteLevelTokenizerJson(
    [['P', 'l'], ['Pl', 'a'], ['Pla', 'n'], ['S', 'u'], ['Su', 'r'], ['Sur', 'e'], ['O', 's'], ['Os', 'l'], ['Osl', 'o'], ['Ċ', 'Ċ']],
    [
      added(']~!b[', true),
      added(']~b]', true),
      added('[e~[', true),
      added('<think>', true), // marked special: the detokenizer must still keep it for the parser
      added('</think>', true),
      added('<minimax:tool_call>', false),
      added('</minimax:tool_call>', false),
      added('<invoke name="get_weather">', false),
      added('</invoke>', false),
      added('<parameter name="city">', false),
      added('</parameter>', false),
    ],
  );
}

/** The reply an M2-format test model gives, token by token, after the prompt's final "\n": reasoning, content, a tool call, EOS. */
export const M2_REPLY = ['Plan', '</think>', '\n\n', 'Sure', '<minimax:tool_call>', '<invoke name="get_weather">', '<parameter name="city">', 'Oslo', '</parameter>', '</invoke>', '</minimax:tool_call>', '[e~['];

/** The id of `s`, which must encode to exactly one token. */
export function singleTokenId(tok: TextTokenizer, s: string): number {
  const ids = tok.encode(s, false);
  if (ids.length !== 1) throw new Error(`${JSON.stringify(s)} is ${ids.length} tokens`);
  return ids[0];
}

/** The chain an M2-format test model follows (successorModel): the prompt's final "\n", then M2_REPLY. */
export function m2Chain(tok: TextTokenizer): number[] {
  return ['\n', ...M2_REPLY].map((s) => singleTokenId(tok, s));
}

/**
 * SentencePiece-style BPE (Llama/Mixtral layout): <unk> <s> </s>, the 256 byte-fallback tokens
 * <0x00>..<0xFF>, then `pieces` (use "▁" for a space) merged from their characters.
 */
export function byteFallbackTokenizerJson(pieces: string[]): object {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  let next = 259;
  const merges: string[] = [];
  const add = (t: string) => (vocab[t] ??= next++);
  for (const p of pieces) {
    const chars = [...p];
    chars.forEach(add);
    let cur = chars[0];
    for (let i = 1; i < chars.length; i++) {
      if (vocab[cur + chars[i]] === undefined) merges.push(`${cur} ${chars[i]}`);
      cur += chars[i];
      add(cur);
    }
  }
  const special = (id: number, content: string) => addedTokenJson(id, { content, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges },
  };
}

/** Normal(0, std) from a seeded uniform RNG (Box-Muller). */
function randn(rng: () => number, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rng(), 1e-12);
    out[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
  }
  return out;
}

function tinySpec(vocabSize: number, hidden: number, eos: number[], maxPositions = 256) {
  const config = {
    model_type: 'minimax_m2',
    hidden_size: hidden,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 8,
    vocab_size: vocabSize,
    intermediate_size: 8,
    num_local_experts: 4,
    num_experts_per_tok: 2,
    rotary_dim: 4,
    max_position_embeddings: maxPositions,
    eos_token_id: eos,
  };
  return adapterFor(config, 'tiny config.json').toSpec(new ConfigReader(config, 'tiny config.json'));
}

type Fill = (kind: 'layer' | 'expert', field: string, n: number) => Float32Array;

function buildModel(spec: ReturnType<typeof tinySpec>, globals: ReferenceModel['globals'], fill: Fill): ReferenceModel {
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  const layers: LayerWeights[] = [];
  const experts: ExpertWeights[][] = [];
  for (let L = 0; L < spec.num_hidden_layers; L++) {
    const lw: Partial<LayerWeights> = {};
    for (const f of layerFieldsPresent(spec, L)) lw[f] = fill('layer', f, size(layerFieldShape(spec, L, f)));
    layers.push(lw as LayerWeights);
    const row: ExpertWeights[] = [];
    for (let e = 0; e < spec.moe.num_experts; e++) {
      const ew: Partial<ExpertWeights> = {};
      for (const f of expertFieldsPresent(spec)) ew[f] = fill('expert', f, size(expertFieldShape(spec, f)));
      row.push(ew as ExpertWeights);
    }
    experts.push(row);
  }
  return new ReferenceModel(spec, globals, layers, experts);
}

const ones = (n: number) => new Float32Array(n).fill(1);

/**
 * A tiny MiniMax-M2-shaped model with random weights (seeded): 2 layers, D 16, 4 experts top-2.
 * Norm weights are 1, everything else N(0, std). Built through the real adapter, so the spec is
 * what a checkpoint with this config.json would give.
 */
export function tinyRandomModel(vocabSize: number, seed = 1, std = 0.5, eos: number[] = []): ReferenceModel {
  const spec = tinySpec(vocabSize, 16, eos);
  const rng = makeRng(seed);
  const D = spec.hidden_size;
  const globals = { embed_tokens: randn(rng, vocabSize * D, 1), final_norm: ones(D), lm_head: randn(rng, vocabSize * D, std) };
  return buildModel(spec, globals, (_kind, f, n) => (f.endsWith('norm') ? ones(n) : f === 'selection_bias' ? new Float32Array(n) : randn(rng, n, std)));
}

/**
 * A tiny model with an exact, known output: after token chain[k] it predicts chain[k+1]
 * (by a margin of `margin` logits, so sampling at temperature <= 1 follows it too). Every layer's
 * projections and experts are zero, so the residual stream carries the one-hot embedding of the
 * current token to the LM head unchanged; the LM head maps it to the successor. The ids of
 * `chain` must be distinct; other tokens embed to zero and predict id 0.
 */
export function successorModel(vocabSize: number, chain: number[], margin = 40, eos: number[] = []): ReferenceModel {
  if (new Set(chain).size !== chain.length) throw new Error('successorModel: chain ids must be distinct');
  const D = Math.max(16, Math.ceil(chain.length / 8) * 8);
  const spec = tinySpec(vocabSize, D, eos, 4096);
  const embed = new Float32Array(vocabSize * D); // (V, D)
  const head = new Float32Array(vocabSize * D); // (V, D)
  // RMSNorm turns the one-hot e_k into sqrt(D) e_k; row chain[k+1] of the head reads it.
  chain.forEach((id, k) => {
    embed[id * D + k] = 1;
    if (k + 1 < chain.length) head[chain[k + 1] * D + k] = margin / Math.sqrt(D);
  });
  return buildModel(spec, { embed_tokens: embed, final_norm: ones(D), lm_head: head }, (_kind, f, n) => (f.endsWith('norm') ? ones(n) : new Float32Array(n)));
}
