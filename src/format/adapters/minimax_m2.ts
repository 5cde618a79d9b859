// MiniMax-M2 (M2.1/M2.5/M2.7): sigmoid routing with a selection-only e_score_correction_bias,
// renormalized top-k, q/k RMSNorm over the whole projection, partial NeoX rotary.
// Also reads the hybrid extension our default model uses: `layer_types` with full_attention /
// sliding_attention, `sliding_window`, and `rope_parameters` keyed by layer type.

import { UnsupportedModelError } from '../errors.ts';
import type { ModelSpec } from '../spec.ts';
import { attentionFor, baseDims, checkSpec, layerTypes, ropeByLayerType, softmaxAttentionLayer, type ConfigReader } from './common.ts';
import type { Adapter } from './index.ts';

export const minimaxM2: Adapter = {
  modelTypes: ['minimax_m2'],
  quirks: { fusedGateUpInterleaved: false },
  toSpec(r: ConfigReader): ModelSpec {
    const dims = baseDims(r);
    const n = dims.num_hidden_layers;
    const rope = ropeByLayerType(r, dims.head_dim, 5e6);
    // attn_type_list (remote code): 1 = full softmax attention; M2 has no other kind.
    const atl = r.list<number>('attn_type_list');
    if (atl && atl.some((t) => t !== 1)) throw new UnsupportedModelError(`${r.file}: attn_type_list has non-softmax layers, which MiniMax-M2 does not define`);
    const types = layerTypes(r, n) ?? Array.from({ length: n }, () => 'full_attention');
    const window = r.has('sliding_window') ? r.int('sliding_window') : null;
    const qkType = r.str('qk_norm_type', 'per_layer');
    const qk_norm = !r.bool('use_qk_norm', true) ? 'none' : qkType === 'per_head' ? 'per_head' : 'whole_projection';
    const scoring = r.str('scoring_func', 'sigmoid');
    if (scoring !== 'sigmoid' && scoring !== 'softmax') throw new UnsupportedModelError(`${r.file}: scoring_func "${scoring}" is not supported`);
    if (r.int('shared_intermediate_size', 0) > 0) throw new UnsupportedModelError(`${r.file}: shared experts (shared_intermediate_size > 0) are not supported`);
    return checkSpec(
      {
        model_type: 'minimax_m2',
        ...dims,
        layers: types.map((t) =>
          softmaxAttentionLayer(attentionFor(t, t === 'sliding_attention' ? window : null), rope(t), { qk_norm }),
        ),
        moe: {
          num_experts: r.intOf(['num_local_experts', 'num_experts']),
          num_experts_per_tok: r.int('num_experts_per_tok'),
          moe_intermediate_size: r.int('intermediate_size'),
          scoring_func: scoring,
          score_over: 'all',
          selection_bias: r.bool('use_routing_bias', true),
          norm_topk_prob: true,
          routed_scaling_factor: r.num('routed_scaling_factor', 1),
          router_bias: false,
          activation: { kind: 'swiglu' },
          expert_bias: false,
        },
      },
      r.file,
    );
  },
};
