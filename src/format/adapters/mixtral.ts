// Mixtral: plain GQA, NeoX rotary, softmax top-k routing with renormalization, SwiGLU experts
// (w1 = gate, w3 = up, w2 = down); optional sliding window on every layer.

import type { ModelSpec } from '../spec.ts';
import { attentionFor, baseDims, checkSpec, layerTypes, ropeByLayerType, softmaxAttentionLayer, type ConfigReader } from './common.ts';
import type { Adapter } from './index.ts';

export const mixtral: Adapter = {
  modelTypes: ['mixtral'],
  quirks: { fusedGateUpInterleaved: false },
  toSpec(r: ConfigReader): ModelSpec {
    const dims = baseDims(r);
    const n = dims.num_hidden_layers;
    const rope = ropeByLayerType(r, dims.head_dim, 1e6);
    const window = r.has('sliding_window') ? r.int('sliding_window') : null;
    const types = layerTypes(r, n) ?? Array.from({ length: n }, () => 'full_attention');
    return checkSpec(
      {
        model_type: 'mixtral',
        ...dims,
        layers: types.map((t) => softmaxAttentionLayer(attentionFor(t, window), rope(t))),
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
