// gpt-oss: alternating sliding/full attention with learned sinks, q/k/v/o biases, YaRN rotary,
// router with bias (top-k on raw logits, softmax over the k), clamped SwiGLU experts with biases,
// gate/up interleaved in the fused checkpoint tensors.

import type { ModelSpec } from '../spec.ts';
import { attentionFor, baseDims, checkSpec, layerTypes, ropeByLayerType, softmaxAttentionLayer, type ConfigReader } from './common.ts';
import type { Adapter } from './index.ts';

export const gptOss: Adapter = {
  modelTypes: ['gpt_oss'],
  quirks: { fusedGateUpInterleaved: true },
  toSpec(r: ConfigReader): ModelSpec {
    const dims = baseDims(r);
    const n = dims.num_hidden_layers;
    const rope = ropeByLayerType(r, dims.head_dim, 150000);
    const types = layerTypes(r, n) ?? Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention'));
    const window = r.has('sliding_window') ? r.int('sliding_window') : null;
    const bias = r.bool('attention_bias', true);
    return checkSpec(
      {
        model_type: 'gpt_oss',
        ...dims,
        layers: types.map((t) =>
          softmaxAttentionLayer(attentionFor(t, t === 'sliding_attention' ? window : null), rope(t), { attention_bias: bias, sinks: true }),
        ),
        moe: {
          num_experts: r.intOf(['num_local_experts', 'num_experts']),
          num_experts_per_tok: r.intOf(['num_experts_per_tok', 'experts_per_token']),
          moe_intermediate_size: r.int('intermediate_size'),
          scoring_func: 'softmax',
          score_over: 'topk_logits',
          selection_bias: false,
          norm_topk_prob: true,
          routed_scaling_factor: 1,
          router_bias: true,
          activation: { kind: 'clamped_swiglu', alpha: 1.702, limit: r.num('swiglu_limit', 7) },
          expert_bias: true,
        },
      },
      r.file,
    );
  },
};
