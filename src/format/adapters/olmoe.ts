// OLMoE: q/k RMSNorm over the whole projection, optional clip_qkv, softmax top-k routing without
// renormalization by default (norm_topk_prob false), full rotary.

import type { ModelSpec } from '../spec.ts';
import { attentionFor, baseDims, checkSpec, layerTypes, ropeByLayerType, softmaxAttentionLayer, type ConfigReader } from './common.ts';
import type { Adapter } from './index.ts';

export const olmoe: Adapter = {
  modelTypes: ['olmoe'],
  quirks: { fusedGateUpInterleaved: false },
  toSpec(r: ConfigReader): ModelSpec {
    const dims = baseDims(r);
    const n = dims.num_hidden_layers;
    const rope = ropeByLayerType(r, dims.head_dim, 1e4);
    const types = layerTypes(r, n) ?? Array.from({ length: n }, () => 'full_attention');
    return checkSpec(
      {
        model_type: 'olmoe',
        ...dims,
        layers: types.map((t) =>
          softmaxAttentionLayer(attentionFor(t, null), rope(t), { qk_norm: 'whole_projection', attention_bias: r.bool('attention_bias', false) }),
        ),
        moe: {
          num_experts: r.intOf(['num_experts', 'num_local_experts']),
          num_experts_per_tok: r.int('num_experts_per_tok'),
          moe_intermediate_size: r.int('intermediate_size'),
          scoring_func: 'softmax',
          score_over: 'all',
          selection_bias: false,
          norm_topk_prob: r.bool('norm_topk_prob', false),
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
