// Tiny random HF checkpoints written by the tests themselves (safetensors + config.json), for the
// cases the committed fixtures do not cover: tied embeddings, expert widths that are not a
// multiple of 32 (padding in every grouped codec), MXFP4 blocks with padding, a tokenizer to copy.
// Tensor names and layouts follow the released/HF checkpoints of each family.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { f32ToF16 } from '../../src/format/dtypes.ts';

export type StDtype = 'F32' | 'BF16' | 'F16' | 'U8';

export interface StTensor {
  dtype: StDtype;
  shape: number[];
  /** float values for F32/BF16/F16, raw bytes for U8 */
  data: Float32Array | Uint8Array;
}

const DTYPE_BYTES: Record<StDtype, number> = { F32: 4, BF16: 2, F16: 2, U8: 1 };

function encode(t: StTensor): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new Error(`tensor data has ${t.data.length} values, shape ${JSON.stringify(t.shape)} needs ${n}`);
  if (t.dtype === 'U8') return t.data as Uint8Array;
  const out = new Uint8Array(n * DTYPE_BYTES[t.dtype]);
  const dv = new DataView(out.buffer);
  const f = t.data as Float32Array;
  const tmp = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < n; i++) {
    if (t.dtype === 'F32') dv.setFloat32(4 * i, f[i], true);
    else if (t.dtype === 'F16') dv.setUint16(2 * i, f32ToF16(f[i]), true);
    else {
      tmp.setFloat32(0, f[i]);
      const bits = tmp.getUint32(0);
      dv.setUint16(2 * i, (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16, true); // bf16, round to nearest even
    }
  }
  return out;
}

/** Bytes of a safetensors file holding these tensors (header, then data in insertion order). */
export function safetensorsBytes(tensors: Record<string, StTensor>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const parts: Uint8Array[] = [];
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const b = encode(t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + b.byteLength] };
    parts.push(b);
    off += b.byteLength;
  }
  let h = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(h.length / 8) * 8;
  h = new TextEncoder().encode(JSON.stringify(header).padEnd(padded, ' '));
  const out = new Uint8Array(8 + h.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  let p = 8 + h.length;
  for (const b of parts) {
    out.set(b, p);
    p += b.byteLength;
  }
  return out;
}

/** Seeded normal-ish values. */
export function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return {
    u,
    normal: (n: number, scale: number) => Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u()) * scale),
    bytes: (n: number, lo: number, hi: number) => Uint8Array.from({ length: n }, () => lo + Math.floor(u() * (hi - lo + 1))),
  };
}

export type TinyFamily = 'minimax_m2' | 'gpt_oss' | 'gpt_oss_mxfp4' | 'minimax' | 'qwen3_moe_tied';

export interface TinyCheckpoint {
  config: Record<string, unknown>;
  tensors: Record<string, StTensor>;
}

const D = 64;
const H = 4;
const HKV = 2;
const HD = 16;
const V = 96;
const E = 4;
const I = 40; // not a multiple of 32: the down projection's columns are padded in q8/q4/mxfp4
const NL = 2;

/** A tiny random checkpoint of `family` in its released/HF tensor layout. */
export function tinyCheckpoint(family: TinyFamily, seed = 1): TinyCheckpoint {
  const r = rng(seed);
  const T: Record<string, StTensor> = {};
  const mat = (name: string, rows: number, cols: number, scale = 0.08) => (T[name] = { dtype: 'BF16', shape: [rows, cols], data: r.normal(rows * cols, scale) });
  const vec = (name: string, n: number, base = 0, scale = 0.05) => (T[name] = { dtype: 'BF16', shape: [n], data: r.normal(n, scale).map((x) => x + base) });
  const common = {
    hidden_size: D,
    num_hidden_layers: NL,
    num_attention_heads: H,
    num_key_value_heads: HKV,
    head_dim: HD,
    vocab_size: V,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-6,
    bos_token_id: 1,
    eos_token_id: 2,
  };
  const tied = family === 'qwen3_moe_tied';
  mat('model.embed_tokens.weight', V, D, 0.5);
  vec('model.norm.weight', D, 1);
  if (!tied) mat('lm_head.weight', V, D);
  let config: Record<string, unknown>;
  for (let L = 0; L < NL; L++) {
    const p = `model.layers.${L}.`;
    vec(`${p}input_layernorm.weight`, D, 1);
    vec(`${p}post_attention_layernorm.weight`, D, 1);
    const linear = family === 'minimax' && L === 0;
    if (linear) {
      mat(`${p}self_attn.qkv_proj.weight`, 3 * H * HD, D);
      mat(`${p}self_attn.output_gate.weight`, H * HD, D);
      vec(`${p}self_attn.norm.weight`, H * HD, 1);
      mat(`${p}self_attn.out_proj.weight`, D, H * HD);
    } else {
      mat(`${p}self_attn.q_proj.weight`, H * HD, D);
      mat(`${p}self_attn.k_proj.weight`, HKV * HD, D);
      mat(`${p}self_attn.v_proj.weight`, HKV * HD, D);
      mat(`${p}self_attn.o_proj.weight`, D, H * HD);
    }
    if (family === 'minimax_m2') {
      vec(`${p}self_attn.q_norm.weight`, H * HD, 1);
      vec(`${p}self_attn.k_norm.weight`, HKV * HD, 1);
    }
    if (tied) {
      vec(`${p}self_attn.q_norm.weight`, HD, 1);
      vec(`${p}self_attn.k_norm.weight`, HD, 1);
    }
    if (family === 'gpt_oss' || family === 'gpt_oss_mxfp4') {
      for (const x of ['q', 'k', 'v', 'o']) vec(`${p}self_attn.${x}_proj.bias`, x === 'q' ? H * HD : x === 'o' ? D : HKV * HD);
      vec(`${p}self_attn.sinks`, H, 0, 1);
      mat(`${p}mlp.router.weight`, E, D, 0.3);
      vec(`${p}mlp.router.bias`, E);
      T[`${p}mlp.experts.gate_up_proj_bias`] = { dtype: 'BF16', shape: [E, 2 * I], data: r.normal(E * 2 * I, 0.05) };
      T[`${p}mlp.experts.down_proj_bias`] = { dtype: 'BF16', shape: [E, D], data: r.normal(E * D, 0.05) };
      if (family === 'gpt_oss') {
        // transformers 5 layout: gate_up [E, D, 2I] (in, out) interleaved, down [E, I, D] (in, out)
        T[`${p}mlp.experts.gate_up_proj`] = { dtype: 'BF16', shape: [E, D, 2 * I], data: r.normal(E * D * 2 * I, 0.08) };
        T[`${p}mlp.experts.down_proj`] = { dtype: 'BF16', shape: [E, I, D], data: r.normal(E * I * D, 0.08) };
      } else {
        const gD = Math.ceil(D / 32);
        const gI = Math.ceil(I / 32);
        T[`${p}mlp.experts.gate_up_proj_blocks`] = { dtype: 'U8', shape: [E, 2 * I, gD, 16], data: r.bytes(E * 2 * I * gD * 16, 0, 255) };
        T[`${p}mlp.experts.gate_up_proj_scales`] = { dtype: 'U8', shape: [E, 2 * I, gD], data: r.bytes(E * 2 * I * gD, 119, 123) };
        T[`${p}mlp.experts.down_proj_blocks`] = { dtype: 'U8', shape: [E, D, gI, 16], data: r.bytes(E * D * gI * 16, 0, 255) };
        T[`${p}mlp.experts.down_proj_scales`] = { dtype: 'U8', shape: [E, D, gI], data: r.bytes(E * D * gI, 119, 123) };
      }
    } else if (tied) {
      mat(`${p}mlp.gate.weight`, E, D, 0.3);
      for (let e = 0; e < E; e++) {
        mat(`${p}mlp.experts.${e}.gate_proj.weight`, I, D);
        mat(`${p}mlp.experts.${e}.up_proj.weight`, I, D);
        mat(`${p}mlp.experts.${e}.down_proj.weight`, D, I);
      }
    } else {
      mat(`${p}block_sparse_moe.gate.weight`, E, D, 0.3);
      if (family === 'minimax_m2') T[`${p}block_sparse_moe.e_score_correction_bias`] = { dtype: 'F32', shape: [E], data: r.normal(E, 0.1) };
      for (let e = 0; e < E; e++) {
        mat(`${p}block_sparse_moe.experts.${e}.w1.weight`, I, D);
        mat(`${p}block_sparse_moe.experts.${e}.w2.weight`, D, I);
        mat(`${p}block_sparse_moe.experts.${e}.w3.weight`, I, D);
      }
    }
  }
  switch (family) {
    case 'minimax_m2':
      config = { ...common, model_type: 'minimax_m2', intermediate_size: I, num_local_experts: E, num_experts_per_tok: 2, rope_parameters: { rope_type: 'default', rope_theta: 5e6, partial_rotary_factor: 0.5 } };
      break;
    case 'gpt_oss':
    case 'gpt_oss_mxfp4':
      config = {
        ...common,
        model_type: 'gpt_oss',
        intermediate_size: I,
        num_local_experts: E,
        num_experts_per_tok: 2,
        layer_types: ['sliding_attention', 'full_attention'],
        sliding_window: 4,
        attention_bias: true,
        swiglu_limit: 7,
        rope_parameters: { rope_type: 'yarn', rope_theta: 150000, factor: 32, beta_fast: 32, beta_slow: 1, original_max_position_embeddings: 4096, truncate: false },
        ...(family === 'gpt_oss_mxfp4' ? { quantization_config: { quant_method: 'mxfp4' } } : {}),
      };
      break;
    case 'minimax':
      config = { ...common, model_type: 'minimax', intermediate_size: I, num_local_experts: E, num_experts_per_tok: 2, layer_types: ['linear_attention', 'full_attention'], block_size: 4, postnorm: true, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } };
      break;
    case 'qwen3_moe_tied':
      config = { ...common, model_type: 'qwen3_moe', moe_intermediate_size: I, intermediate_size: 128, num_experts: E, num_experts_per_tok: 2, norm_topk_prob: true, tie_word_embeddings: true, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } };
      break;
  }
  return { config: config!, tensors: T };
}

const scratch: string[] = [];

/** A fresh temp directory, removed by removeScratch() (call it from afterAll). */
export function scratchDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `webmoe-${prefix}-`));
  scratch.push(d);
  return d;
}

export function removeScratch(): void {
  for (const d of scratch.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Write a checkpoint directory: config.json, model.safetensors and optional extra text files. */
export function writeCheckpoint(ck: TinyCheckpoint, extras: Record<string, string> = {}, dir = scratchDir('ck')): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(ck.config, null, 2));
  writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes(ck.tensors));
  for (const [name, text] of Object.entries(extras)) writeFileSync(join(dir, name), text);
  return dir;
}
