// A PackedModel with random weights at a real model's shapes, built directly in the packed byte
// layouts (no f32 matrices, no quantizer): random data words plus scales chosen so every product
// has a sane magnitude (outputs ~ N(0, target²) for unit inputs), so activations stay finite and
// the router spreads tokens over the experts like an untrained model would.
//
// Experts: a pool of distinct random blobs (≥ 2 GiB unless the model has fewer bytes of experts)
// served round-robin, so host memory holds the store of a 10-60 GB model while every upload still
// reads cold host memory; expertBlob resolves from memory (the bench's store is an in-memory map).

import { ConfigReader, type HfConfig } from '../src/format/adapters/common.ts';
import { adapterFor } from '../src/format/adapters/index.ts';
import { f32ToF16 } from '../src/format/dtypes.ts';
import { dataBytes, expertLayout, matrixBytes, scaleBytes, type ExpertLayout, type PackedModel, type PackedTensor, type QuantKind } from '../src/format/quant-layout.ts';
import type { ModelSpec } from '../src/format/spec.ts';
import { expertFieldsPresent, layerFieldShape, layerFieldsPresent, type LayerField } from '../src/format/weights.ts';
import { DENSE_MATRIX_FIELDS } from '../src/format/pack.ts';

/** A seeded xorshift32 stream. */
export class Rand {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (this.s = x >>> 0);
  }
  /** uniform in [-1, 1) */
  f(): number {
    return this.u32() / 2 ** 31 - 1;
  }
  fill(words: Uint32Array): void {
    let x = this.s;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    this.s = x >>> 0;
  }
}

const SOURCE_WORDS = 1 << 24; // 64 MiB of random words, copied from at random offsets
let source: Uint32Array | null = null;

/** Random words: small arrays from the stream, large ones as 1 MiB pieces of a random source. */
function fillWords(words: Uint32Array, rand: Rand): void {
  if (words.length < 1 << 18) return rand.fill(words);
  if (!source) {
    source = new Uint32Array(SOURCE_WORDS);
    new Rand(0x5eed).fill(source);
  }
  const piece = 1 << 18;
  for (let i = 0; i < words.length; i += piece) {
    const n = Math.min(piece, words.length - i);
    const at = rand.u32() % (SOURCE_WORDS - n);
    words.set(source.subarray(at, at + n), i);
  }
}

/** Standard deviation of one packed element before scaling (uniform random data words). */
const ELEMENT_STD: Record<QuantKind, number> = { f32: 1, f16: 1, q8: 73.9, q4: 4.61, mxfp4: 2.93 };

/** Random (rows, cols) matrix in `kind`'s layout whose product with a unit-variance x has std ≈ target. */
export function randomPacked(kind: QuantKind, rows: number, cols: number, target: number, rand: Rand): Uint8Array {
  const out = new Uint8Array(matrixBytes(kind, rows, cols));
  const data = dataBytes(kind, rows, cols);
  const words = new Uint32Array(out.buffer, 0, data / 4);
  const scale = target / (ELEMENT_STD[kind] * Math.sqrt(cols));
  if (kind === 'f32' || kind === 'f16') {
    // uniform [-a, a) has std a / sqrt(3)
    const a = scale * Math.sqrt(3);
    if (kind === 'f32') {
      const f = new Float32Array(out.buffer, 0, rows * cols);
      for (let i = 0; i < f.length; i++) f[i] = a * rand.f();
    } else {
      for (let i = 0; i < words.length; i++) words[i] = f32ToF16(a * rand.f()) | (f32ToF16(a * rand.f()) << 16);
    }
    return out;
  }
  fillWords(words, rand);
  const sb = scaleBytes(kind, rows, cols);
  if (kind === 'mxfp4') {
    const e = Math.max(1, Math.min(254, 127 + Math.round(Math.log2(scale))));
    out.fill(e, data, data + sb);
  } else {
    const h = new Uint16Array(out.buffer, data, sb / 2);
    const jitter = Array.from({ length: 64 }, () => f32ToF16(scale * (1 + 0.1 * rand.f())));
    for (let i = 0; i < h.length; i++) h[i] = jitter[i & 63];
  }
  return out;
}

function randomVector(n: number, center: number, spread: number, rand: Rand): Uint8Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = center + spread * rand.f();
  return new Uint8Array(v.buffer);
}

/** Output std each matrix aims for (inputs are RMS-normed, so ~1). */
const TARGET: Partial<Record<LayerField | 'embed_tokens' | 'lm_head', number>> = {
  embed_tokens: 1, lm_head: 2, q_proj: 1, k_proj: 1, v_proj: 1, o_proj: 0.5, attn_gate: 1, router: 1,
};

function vectorFor(field: string, n: number, rand: Rand): Uint8Array {
  if (field.endsWith('norm')) return randomVector(n, 1, 0.1, rand);
  if (field === 'sinks') return randomVector(n, 0, 0.5, rand);
  if (field === 'selection_bias') return randomVector(n, 0, 0.01, rand);
  return randomVector(n, 0, 0.02, rand); // biases
}

export interface SyntheticOptions {
  expertQuant: QuantKind;
  denseQuant: QuantKind;
  /** bytes of distinct expert blobs to keep (default 2 GiB) */
  poolBytes?: number;
  seed?: number;
}

export interface SyntheticModel extends PackedModel {
  /** bytes of every dense tensor, by name */
  readonly denseBytes: Map<string, number>;
  readonly poolBlobs: number;
}

/** ModelSpec of an HF config dict through the project's adapters. */
export function specOf(config: HfConfig): ModelSpec {
  return adapterFor(config, 'bench config').toSpec(new ConfigReader(config, 'bench config'));
}

export function syntheticModel(spec: ModelSpec, opts: SyntheticOptions): SyntheticModel {
  const rand = new Rand(opts.seed ?? 1234);
  const D = spec.hidden_size;
  const V = spec.vocab_size;
  const dense = new Map<string, PackedTensor>();
  const put = (name: string, quant: QuantKind, shape: number[], data: Uint8Array) => dense.set(name, { quant, shape, data });
  put('embed_tokens', opts.denseQuant, [V, D], randomPacked(opts.denseQuant, V, D, 1, rand));
  put('final_norm', 'f32', [D], vectorFor('final_norm', D, rand));
  if (!spec.tie_word_embeddings) put('lm_head', opts.denseQuant, [V, D], randomPacked(opts.denseQuant, V, D, TARGET.lm_head!, rand));
  for (let L = 0; L < spec.num_hidden_layers; L++)
    for (const f of layerFieldsPresent(spec, L)) {
      const shape = layerFieldShape(spec, L, f);
      const name = `layers.${L}.${f}`;
      // matrices as the converter packs them: the projections at denseQuant, the rest (routers) f32
      const kind = DENSE_MATRIX_FIELDS.has(f) ? opts.denseQuant : 'f32';
      if (shape.length === 2) put(name, kind, shape, randomPacked(kind, shape[0], shape[1], TARGET[f] ?? 1, rand));
      else put(name, 'f32', shape, vectorFor(f, shape[0], rand));
    }
  const I = spec.moe.moe_intermediate_size;
  const layout: ExpertLayout = expertLayout(opts.expertQuant, D, I, spec.moe.expert_bias);
  const total = spec.num_hidden_layers * spec.moe.num_experts;
  const poolBlobs = Math.max(1, Math.min(total, Math.ceil((opts.poolBytes ?? 2 ** 31) / layout.bytes)));
  const pool: Uint8Array[] = [];
  const fields = expertFieldsPresent(spec);
  for (let i = 0; i < poolBlobs; i++) {
    const blob = new Uint8Array(layout.bytes);
    for (const f of fields) {
      const sec = layout[f]!;
      const part =
        sec.shape.length === 2
          ? randomPacked(sec.quant, sec.shape[0], sec.shape[1], f === 'down' ? 0.3 : 1, rand)
          : randomVector(sec.shape[0], 0, 0.02, rand);
      blob.set(part, sec.offset);
    }
    pool.push(blob);
  }
  const E = spec.moe.num_experts;
  return {
    spec,
    expertLayout: layout,
    denseBytes: new Map([...dense].map(([k, t]) => [k, t.data.byteLength])),
    poolBlobs,
    denseNames: () => [...dense.keys()],
    async dense(name) {
      const t = dense.get(name);
      if (!t) throw new RangeError(`synthetic model has no tensor "${name}"`);
      return t;
    },
    expertBlob(layer, e) {
      if (layer < 0 || layer >= spec.num_hidden_layers || e < 0 || e >= E) return Promise.reject(new RangeError(`expert (${layer}, ${e}) out of range`));
      return Promise.resolve(pool[(layer * E + e) % poolBlobs]);
    },
  };
}

/**
 * Bytes one decode token reads at context length `ctx`: every layer's dense tensors, K expert
 * blobs per layer, the final norm and LM head, one embedding row, and the KV cache rows attention
 * reads (window-limited on sliding layers).
 */
export function bytesPerToken(m: SyntheticModel, ctx: number): { weights: number; kv: number; total: number } {
  const s = m.spec;
  let weights = 0;
  for (const [name, b] of m.denseBytes) if (name !== 'embed_tokens') weights += b;
  if (s.tie_word_embeddings) weights += m.denseBytes.get('embed_tokens')!;
  weights += m.denseBytes.get('embed_tokens')! / s.vocab_size; // one row
  weights += s.num_hidden_layers * s.moe.num_experts_per_tok * m.expertLayout.bytes;
  let kv = 0;
  for (const l of s.layers) {
    const keys = l.attention.kind === 'sliding' ? Math.min(ctx, l.attention.window) : ctx;
    kv += l.attention.kind === 'linear' ? s.num_attention_heads * s.head_dim * s.head_dim * 4 : keys * s.num_key_value_heads * s.head_dim * 4 * 2;
  }
  return { weights, kv, total: weights + kv };
}

/** The same family at toy size (SwiftShader runs of the harness). */
export function tinyConfig(config: HfConfig): HfConfig {
  const c: HfConfig = { ...config, hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, vocab_size: 512, num_hidden_layers: 2 };
  if ('num_local_experts' in c) c.num_local_experts = 8;
  if ('num_experts' in c) c.num_experts = 8;
  c.num_experts_per_tok = 2;
  if (c.model_type === 'qwen3_moe') c.moe_intermediate_size = 64;
  else c.intermediate_size = 64;
  if (Array.isArray(c.layer_types)) c.layer_types = (c.layer_types as string[]).slice(0, 2);
  if (typeof c.sliding_window === 'number') c.sliding_window = 8;
  return c;
}
