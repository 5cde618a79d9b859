// MiniMax-Text-01 / MiniMax-M1 (HF native `minimax`, remote-code `minimax_text_01`): lightning
// (linear, decayed) attention on most layers, softmax attention on the rest, post-norm residuals
// scaled by alpha/beta, softmax top-k routing with renormalization.

import type { LayerSpec, ModelSpec } from '../spec.ts';
import { attentionFor, baseDims, checkSpec, layerTypes, ropeByLayerType, softmaxAttentionLayer, type ConfigReader } from './common.ts';
import type { Adapter } from './index.ts';

/** Per-head decay rates: slope_h = (2^(-8/H))^(h+1), times the layer factor 1 - L/(N-1+1e-5) + 1e-5. */
export function lightningDecay(H: number, layer: number, nLayers: number): number[] {
  const base = 1 / 2 ** (8 / H);
  const factor = 1 - layer / (nLayers - 1 + 1e-5) + 1e-5;
  return Array.from({ length: H }, (_, h) => base ** (h + 1) * factor);
}

export const minimax: Adapter = {
  modelTypes: ['minimax', 'minimax_text_01', 'minimax_m1'],
  quirks: { fusedGateUpInterleaved: false },
  toSpec(r: ConfigReader): ModelSpec {
    const dims = baseDims(r);
    const n = dims.num_hidden_layers;
    // transformers' native `minimax` rotates every head dim whatever partial_rotary_factor says
    // (checked against HF 5.17 outputs); remote-code configs state `rotary_dim` (64 of 128) instead.
    const rope = ropeByLayerType(r, dims.head_dim, 1e7, { partialRotaryFactor: r.str('model_type', '') !== 'minimax' });
    let types = layerTypes(r, n);
    if (!types) {
      const atl = r.list<number>('attn_type_list'); // 0 = lightning, 1 = softmax
      types = atl
        ? atl.map((t) => (t === 1 ? 'full_attention' : 'linear_attention'))
        : Array.from({ length: n }, (_, i) => ((i + 1) % 2 ? 'full_attention' : 'linear_attention'));
    }
    const window = r.has('sliding_window') ? r.int('sliding_window') : null;
    const postnorm = r.bool('postnorm', true);
    const alpha = (hf: string, remote: string) => (r.has(hf) ? r.num(hf) : r.num(remote, 1));
    const mlp_alpha = alpha('mlp_alpha_factor', 'layernorm_mlp_alpha');
    const mlp_beta = alpha('mlp_beta_factor', 'layernorm_mlp_beta');
    const blockSize = r.int('block_size', 256);
    const layers: LayerSpec[] = types.map((t, L) => {
      if (t === 'linear_attention') {
        return {
          attention: { kind: 'linear', decay: lightningDecay(dims.num_attention_heads, L, n), block_size: blockSize, out_norm_eps: 1e-6 },
          rope: null,
          qk_norm: 'none',
          attention_bias: false,
          sinks: false,
          residual: {
            from_normed: postnorm,
            attn_alpha: alpha('linear_attn_alpha_factor', 'layernorm_linear_attention_alpha'),
            attn_beta: alpha('linear_attn_beta_factor', 'layernorm_linear_attention_beta'),
            mlp_alpha,
            mlp_beta,
          },
        };
      }
      // HF applies config.sliding_window to the softmax layers when it is set.
      return softmaxAttentionLayer(attentionFor(t, window), rope(t), {
        residual: {
          from_normed: postnorm,
          attn_alpha: alpha('full_attn_alpha_factor', 'layernorm_full_attention_alpha'),
          attn_beta: alpha('full_attn_beta_factor', 'layernorm_full_attention_beta'),
          mlp_alpha,
          mlp_beta,
        },
      });
    });
    return checkSpec(
      {
        model_type: 'minimax',
        ...dims,
        layers,
        moe: {
          num_experts: r.intOf(['num_local_experts', 'num_experts']),
          num_experts_per_tok: r.int('num_experts_per_tok'),
          moe_intermediate_size: r.int('intermediate_size'),
          scoring_func: 'softmax',
          score_over: 'all',
          selection_bias: false,
          norm_topk_prob: true,
          routed_scaling_factor: 1,
          router_bias: false,
          activation: { kind: 'swiglu' },
          expert_bias: false,
        },
      },
      r.file,
    );
  },
};
