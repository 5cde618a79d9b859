// Qwen3-MoE: per-head q/k RMSNorm, softmax routing over all experts, top-k, optional
// renormalization (norm_topk_prob), full rotary; optional sliding window above max_window_layers.

import { UnsupportedModelError } from '../errors.ts';
import type { ModelSpec } from '../spec.ts';
import { attentionFor, baseDims, checkSpec, layerTypes, ropeByLayerType, softmaxAttentionLayer, type ConfigReader } from './common.ts';
import type { Adapter } from './index.ts';

export const qwen3Moe: Adapter = {
  modelTypes: ['qwen3_moe'],
  quirks: { fusedGateUpInterleaved: false },
  toSpec(r: ConfigReader): ModelSpec {
    const dims = baseDims(r);
    const n = dims.num_hidden_layers;
    const rope = ropeByLayerType(r, dims.head_dim, 1e6);
    const step = r.int('decoder_sparse_step', 1);
    const mlpOnly = r.list<number>('mlp_only_layers') ?? [];
    for (let L = 0; L < n; L++)
      if (mlpOnly.includes(L) || step === 0 || (L + 1) % step !== 0)
        throw new UnsupportedModelError(`${r.file}: layer ${L} is a dense MLP layer (mlp_only_layers / decoder_sparse_step); only all-MoE Qwen3 models are supported`);
    const useSliding = r.bool('use_sliding_window', false);
    const window = useSliding && r.has('sliding_window') ? r.int('sliding_window') : null;
    const maxWindowLayers = r.int('max_window_layers', n);
    const types = layerTypes(r, n) ?? Array.from({ length: n }, (_, L) => (window && L >= maxWindowLayers ? 'sliding_attention' : 'full_attention'));
    return checkSpec(
      {
        model_type: 'qwen3_moe',
        ...dims,
        layers: types.map((t) =>
          softmaxAttentionLayer(attentionFor(t, t === 'sliding_attention' ? window : null), rope(t), {
            qk_norm: 'per_head',
            attention_bias: r.bool('attention_bias', false),
          }),
        ),
        moe: {
          num_experts: r.intOf(['num_experts', 'num_local_experts']),
          num_experts_per_tok: r.int('num_experts_per_tok'),
          moe_intermediate_size: r.int('moe_intermediate_size'),
          scoring_func: 'softmax',
          score_over: 'all',
          selection_bias: false,
          norm_topk_prob: r.bool('norm_topk_prob', true),
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
