// ModelSpec: one normalized, hybrid description of every supported MoE family.
//
// Adapters (src/format/adapters/<model_type>.ts) turn an HF config.json into this, so the forward
// pass (CPU reference and GPU) has no `if model_type` branches. Global fields keep their HF names;
// the per-layer and MoE parts are the normalized description from DESIGN.md.
//
// Legend used in shape comments across the project:
//   T tokens, D hidden_size, V vocab_size, L layers, Hq query heads, Hkv kv heads, hd head_dim,
//   E experts per layer, K experts per token (top-k), I expert intermediate size.

export type RopeScaling =
  | { type: 'none' }
  | {
      type: 'yarn';
      factor: number;
      original_max_position_embeddings: number;
      beta_fast: number;
      beta_slow: number;
      truncate: boolean;
      /** multiplier applied to both cos and sin (HF "attention_factor") */
      attention_factor: number;
    };

export interface RopeSpec {
  theta: number;
  /** number of leading dims of each head that rotate (NeoX halves); the rest pass through */
  rotary_dim: number;
  scaling: RopeScaling;
}

export type AttentionKind =
  | { kind: 'full' }
  /** key j visible to query i iff i - window < j <= i (window includes the current token) */
  | { kind: 'sliding'; window: number }
  /** lightning attention: per-head decay rates s_h (already times the per-layer factor) */
  | { kind: 'linear'; decay: number[]; block_size: number; out_norm_eps: number };

export type QkNorm = 'none' | 'per_head' | 'whole_projection';

export interface LayerSpec {
  attention: AttentionKind;
  /** null on layers without rotary embedding (lightning layers) */
  rope: RopeSpec | null;
  qk_norm: QkNorm;
  /** q/k/v/o projections carry biases */
  attention_bias: boolean;
  /** learned per-head sink logits (gpt-oss) */
  sinks: boolean;
  /**
   * Residual: out = alpha * r + beta * sublayer(norm(x)), where r = x (pre-norm) or norm(x)
   * (post-norm, MiniMax-Text-01). Pre-norm models have alpha = beta = 1.
   */
  residual: {
    from_normed: boolean;
    attn_alpha: number;
    attn_beta: number;
    mlp_alpha: number;
    mlp_beta: number;
  };
}

export type ExpertActivation =
  | { kind: 'swiglu' }
  /** gpt-oss: g = min(g, limit); u = clamp(u, -limit, limit); (u + 1) * g * sigmoid(alpha * g) */
  | { kind: 'clamped_swiglu'; alpha: number; limit: number };

export interface MoeSpec {
  num_experts: number;
  num_experts_per_tok: number;
  /** expert FFN width I */
  moe_intermediate_size: number;
  scoring_func: 'softmax' | 'sigmoid';
  /**
   * 'all': score all experts then pick top-k (softmax over all E);
   * 'topk_logits': pick top-k on raw logits, then score only those (gpt-oss: softmax over the k).
   */
  score_over: 'all' | 'topk_logits';
  /** e_score_correction_bias exists: added to scores for selection only */
  selection_bias: boolean;
  norm_topk_prob: boolean;
  routed_scaling_factor: number;
  router_bias: boolean;
  activation: ExpertActivation;
  expert_bias: boolean;
}

export interface ModelSpec {
  model_type: string;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  vocab_size: number;
  rms_norm_eps: number;
  max_position_embeddings: number;
  tie_word_embeddings: boolean;
  /** q/k clamp after the norms (OLMoE clip_qkv); null when absent */
  clip_qkv: number | null;
  bos_token_id: number | null;
  eos_token_id: number[];
  layers: LayerSpec[];
  moe: MoeSpec;
}

export type LayerKindName = 'full' | 'sliding' | 'linear';

export function layerKindName(layer: LayerSpec): LayerKindName {
  return layer.attention.kind;
}
