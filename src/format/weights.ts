// Canonical weights: the names and layouts every backend reads, whatever the checkpoint called them.
// Adapters normalize at load time (mlx-lm's "sanitize"): per-expert vs fused expert layouts,
// gpt-oss's interleaved gate/up, Text-01's per-head packed qkv, FP8 and MXFP4 dequant.
// Every matrix is [out, in] row-major (y = W x).

import type { ModelSpec } from './spec.ts';

export interface ExpertWeights {
  gate: Float32Array; // (I, D)
  up: Float32Array; // (I, D)
  down: Float32Array; // (D, I)
  gate_bias?: Float32Array; // (I)
  up_bias?: Float32Array; // (I)
  down_bias?: Float32Array; // (D)
}

export interface LayerWeights {
  input_norm: Float32Array; // (D)
  q_proj: Float32Array; // (Hq*hd, D) — linear layers: (H*hd, D)
  k_proj: Float32Array; // (Hkv*hd, D) — linear layers: (H*hd, D)
  v_proj: Float32Array; // (Hkv*hd, D) — linear layers: (H*hd, D)
  o_proj: Float32Array; // (D, Hq*hd)
  q_bias?: Float32Array; // (Hq*hd)
  k_bias?: Float32Array; // (Hkv*hd)
  v_bias?: Float32Array; // (Hkv*hd)
  o_bias?: Float32Array; // (D)
  q_norm?: Float32Array; // (Hq*hd) whole projection | (hd) per head
  k_norm?: Float32Array; // (Hkv*hd) | (hd)
  sinks?: Float32Array; // (Hq)
  attn_gate?: Float32Array; // (H*hd, D) linear layers: sigmoid output gate
  attn_out_norm?: Float32Array; // (H*hd) linear layers: RMSNorm over all heads' output
  post_norm: Float32Array; // (D)
  router: Float32Array; // (E, D)
  router_bias?: Float32Array; // (E)
  selection_bias?: Float32Array; // (E) e_score_correction_bias
}

export interface GlobalWeights {
  embed_tokens: Float32Array; // (V, D)
  final_norm: Float32Array; // (D)
  lm_head: Float32Array; // (V, D)
}

export const LAYER_FIELDS = [
  'input_norm', 'q_proj', 'k_proj', 'v_proj', 'o_proj', 'q_bias', 'k_bias', 'v_bias', 'o_bias',
  'q_norm', 'k_norm', 'sinks', 'attn_gate', 'attn_out_norm', 'post_norm', 'router', 'router_bias',
  'selection_bias',
] as const satisfies readonly (keyof LayerWeights)[];

export const EXPERT_FIELDS = ['gate', 'up', 'down', 'gate_bias', 'up_bias', 'down_bias'] as const satisfies readonly (keyof ExpertWeights)[];

export type LayerField = (typeof LAYER_FIELDS)[number];
export type ExpertField = (typeof EXPERT_FIELDS)[number];

/** Anything that yields canonical weights: an HF checkpoint or a WebMoE package. */
export interface WeightSource {
  readonly spec: ModelSpec;
  globals(): Promise<GlobalWeights>;
  layer(layer: number): Promise<LayerWeights>;
  expert(layer: number, expert: number): Promise<ExpertWeights>;
}

/** Shapes of the canonical tensors, for validation and the converter. */
export function layerFieldShape(spec: ModelSpec, layer: number, field: LayerField): number[] {
  const D = spec.hidden_size;
  const hd = spec.head_dim;
  const linear = spec.layers[layer].attention.kind === 'linear';
  const qOut = spec.num_attention_heads * hd;
  const kvOut = (linear ? spec.num_attention_heads : spec.num_key_value_heads) * hd;
  const E = spec.moe.num_experts;
  const perHead = spec.layers[layer].qk_norm === 'per_head';
  switch (field) {
    case 'input_norm':
    case 'post_norm':
    case 'o_bias':
      return [D];
    case 'q_proj':
      return [qOut, D];
    case 'k_proj':
    case 'v_proj':
      return [kvOut, D];
    case 'o_proj':
      return [D, qOut];
    case 'q_bias':
      return [qOut];
    case 'k_bias':
    case 'v_bias':
      return [kvOut];
    case 'q_norm':
      return [perHead ? hd : qOut];
    case 'k_norm':
      return [perHead ? hd : kvOut];
    case 'sinks':
      return [spec.num_attention_heads];
    case 'attn_gate':
      return [qOut, D];
    case 'attn_out_norm':
      return [qOut];
    case 'router':
      return [E, D];
    case 'router_bias':
    case 'selection_bias':
      return [E];
  }
}

export function expertFieldShape(spec: ModelSpec, field: ExpertField): number[] {
  const D = spec.hidden_size;
  const I = spec.moe.moe_intermediate_size;
  switch (field) {
    case 'gate':
    case 'up':
      return [I, D];
    case 'down':
      return [D, I];
    case 'gate_bias':
    case 'up_bias':
      return [I];
    case 'down_bias':
      return [D];
  }
}

/** Which optional layer fields a layer of this spec has. */
export function layerFieldsPresent(spec: ModelSpec, layer: number): LayerField[] {
  const l = spec.layers[layer];
  const linear = l.attention.kind === 'linear';
  const out: LayerField[] = ['input_norm', 'q_proj', 'k_proj', 'v_proj', 'o_proj'];
  if (l.attention_bias) out.push('q_bias', 'k_bias', 'v_bias', 'o_bias');
  if (l.qk_norm !== 'none') out.push('q_norm', 'k_norm');
  if (l.sinks) out.push('sinks');
  if (linear) out.push('attn_gate', 'attn_out_norm');
  out.push('post_norm', 'router');
  if (spec.moe.router_bias) out.push('router_bias');
  if (spec.moe.selection_bias) out.push('selection_bias');
  return out;
}

export function expertFieldsPresent(spec: ModelSpec): ExpertField[] {
  return spec.moe.expert_bias ? [...EXPERT_FIELDS] : ['gate', 'up', 'down'];
}
