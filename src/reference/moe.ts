// Router and experts of the CPU reference.
//
// Router (per token, logits z = W_router x (+ b_router), in f32/f64):
//   score_over 'all':   p = softmax(z) | sigmoid(z); choose top-k of p (+ selection bias, which is
//                       used for the choice only); weights = p[chosen], renormalized if norm_topk_prob.
//   score_over 'topk_logits': choose top-k of z; weights = softmax(z[chosen]) (gpt-oss).
//   weights *= routed_scaling_factor.
// Expert: SwiGLU  down(silu(gate x) * (up x)), or gpt-oss clamped SwiGLU with biases.

import type { ExpertActivation, MoeSpec } from '../format/spec.ts';
import type { ExpertWeights } from '../format/weights.ts';
import { matvec, sigmoid, silu, softmax, topk } from './ops.ts';

export interface Routing {
  experts: number[]; // (K)
  weights: number[]; // (K)
}

export function route(moe: MoeSpec, logits: Float32Array, selectionBias?: Float32Array): Routing {
  const K = moe.num_experts_per_tok;
  let experts: number[];
  let weights: number[];
  if (moe.score_over === 'topk_logits') {
    experts = topk(logits, K);
    const sel = moe.scoring_func === 'softmax' ? softmax(experts.map((e) => logits[e])) : experts.map((e) => sigmoid(logits[e]));
    weights = Array.from(sel);
  } else {
    const p = moe.scoring_func === 'softmax' ? softmax(logits) : Float64Array.from(logits, sigmoid);
    const choice = selectionBias ? Float64Array.from(p, (v, i) => v + selectionBias[i]) : p;
    experts = topk(choice, K);
    weights = experts.map((e) => p[e]);
    if (moe.norm_topk_prob) {
      const s = weights.reduce((a, b) => a + b, 0);
      weights = weights.map((w) => w / s);
    }
  }
  if (moe.routed_scaling_factor !== 1) weights = weights.map((w) => w * moe.routed_scaling_factor);
  return { experts, weights };
}

/** One expert applied to x (D) -> (D). */
export function expertForward(moe: MoeSpec, w: ExpertWeights, x: Float32Array, D: number): Float32Array {
  const I = moe.moe_intermediate_size;
  const g = matvec(w.gate, x, I, D, w.gate_bias); // (I)
  const u = matvec(w.up, x, I, D, w.up_bias); // (I)
  const a = new Float32Array(I); // (I)
  for (let i = 0; i < I; i++) a[i] = activate(moe.activation, g[i], u[i]);
  return matvec(w.down, a, D, I, w.down_bias); // (D)
}

/** The expert activation of one (gate, up) pair: silu(g) u, or gpt-oss's clamped form. */
export function activate(act: ExpertActivation, g: number, u: number): number {
  if (act.kind === 'swiglu') return silu(g) * u;
  const gc = Math.min(g, act.limit);
  const uc = Math.min(Math.max(u, -act.limit), act.limit);
  return (uc + 1) * gc * sigmoid(act.alpha * gc);
}
