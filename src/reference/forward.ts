// The CPU reference forward pass: the whole model in plain loops, readable top to bottom
// (llama2.c's run.c in TypeScript). It is the oracle every GPU kernel and the GPU forward are
// tested against, and the fallback backend where WebGPU is missing.
//
// Legend: T new tokens, D hidden, V vocab, Hq/Hkv heads, hd head_dim, E experts, K top-k, I expert width.
//
//   x = embed[token]
//   for each layer:
//     h  = RMSNorm(x; input_norm)
//     q, k, v = projections of h (+ biases); q/k RMSNorm (per head | whole projection); clip
//     softmax layers: RoPE(q, k) -> GQA attention (full | sliding, sinks)
//     linear layers:  silu(q, k, v) -> lightning attention -> RMSNorm(o) * sigmoid(attn_gate h)
//     x  = a_attn * (h if post-norm else x) + b_attn * (o_proj o + o_bias)
//     h2 = RMSNorm(x; post_norm)
//     x  = a_mlp * (h2 if post-norm else x) + b_mlp * sum_k w_k Expert_k(h2)
//   logits = lm_head RMSNorm(x; final_norm)

import type { LayerSpec, ModelSpec } from '../format/spec.ts';
import type { ExpertWeights, GlobalWeights, LayerWeights, WeightSource } from '../format/weights.ts';
import { lightningAttention, newLayerState, softmaxAttention, type LayerState } from './attention.ts';
import { expertForward, route, type Routing } from './moe.ts';
import { applyRope, matvec, rmsnorm, ropeTable, sigmoid, silu, type RopeTable } from './ops.ts';

/** Called once per (layer, token) with the router's choice; used by stats and expert pruning. */
export type RouteObserver = (layer: number, token: number, routing: Routing, logits: Float32Array, input: Float32Array) => void;

export interface ReferenceState {
  layers: LayerState[];
  /** number of tokens processed */
  length: number;
}

export class ReferenceModel {
  private readonly ropes: (RopeTable | null)[];
  observer: RouteObserver | null = null;

  constructor(
    readonly spec: ModelSpec,
    readonly globals: GlobalWeights,
    readonly layers: LayerWeights[],
    /** experts[layer][e] */
    readonly experts: ExpertWeights[][],
  ) {
    this.ropes = spec.layers.map((l) => (l.rope ? ropeTable(l.rope) : null));
  }

  static async load(src: WeightSource): Promise<ReferenceModel> {
    const spec = src.spec;
    const globals = await src.globals();
    const layers: LayerWeights[] = [];
    const experts: ExpertWeights[][] = [];
    for (let L = 0; L < spec.num_hidden_layers; L++) {
      layers.push(await src.layer(L));
      const row: ExpertWeights[] = [];
      for (let e = 0; e < spec.moe.num_experts; e++) row.push(await src.expert(L, e));
      experts.push(row);
    }
    return new ReferenceModel(spec, globals, layers, experts);
  }

  newState(maxLen = this.spec.max_position_embeddings): ReferenceState {
    const s = this.spec;
    return {
      layers: s.layers.map((l) => newLayerState(l.attention, maxLen, s.num_attention_heads, s.num_key_value_heads, s.head_dim)),
      length: 0,
    };
  }

  /** Process T new tokens; returns logits (T, V) for each of them. */
  forward(state: ReferenceState, tokens: number[]): Float32Array[] {
    const s = this.spec;
    const D = s.hidden_size;
    const T = tokens.length;
    const x = new Float32Array(T * D); // (T, D) residual stream
    for (let t = 0; t < T; t++) {
      const tok = tokens[t];
      if (!Number.isInteger(tok) || tok < 0 || tok >= s.vocab_size) throw new RangeError(`token id ${tok} is outside the vocabulary [0, ${s.vocab_size})`);
      x.set(this.globals.embed_tokens.subarray(tok * D, (tok + 1) * D), t * D);
    }
    for (let L = 0; L < s.num_hidden_layers; L++) this.layer(L, state, x, T);
    state.length += T;
    const logits: Float32Array[] = [];
    for (let t = 0; t < T; t++) {
      const y = rmsnorm(x, this.globals.final_norm, s.rms_norm_eps, t * D, D); // (D)
      logits.push(matvec(this.globals.lm_head, y, s.vocab_size, D)); // (V)
    }
    return logits;
  }

  private layer(L: number, state: ReferenceState, x: Float32Array, T: number): void {
    const s = this.spec;
    const ls = s.layers[L];
    const w = this.layers[L];
    const D = s.hidden_size;
    const h = new Float32Array(T * D); // (T, D)
    for (let t = 0; t < T; t++) rmsnorm(x, w.input_norm, s.rms_norm_eps, t * D, D, h, t * D);
    const a = this.attention(L, ls, w, state.layers[L], h, T, state.length); // (T, D)
    this.residual(x, h, a, ls.residual.from_normed, ls.residual.attn_alpha, ls.residual.attn_beta);
    const h2 = new Float32Array(T * D); // (T, D)
    for (let t = 0; t < T; t++) rmsnorm(x, w.post_norm, s.rms_norm_eps, t * D, D, h2, t * D);
    const m = new Float32Array(T * D); // (T, D)
    for (let t = 0; t < T; t++) m.set(this.moe(L, w, h2.subarray(t * D, (t + 1) * D), state.length + t), t * D);
    this.residual(x, h2, m, ls.residual.from_normed, ls.residual.mlp_alpha, ls.residual.mlp_beta);
  }

  /** x = alpha * (normed if fromNormed else x) + beta * sub */
  private residual(x: Float32Array, normed: Float32Array, sub: Float32Array, fromNormed: boolean, alpha: number, beta: number): void {
    for (let i = 0; i < x.length; i++) x[i] = alpha * (fromNormed ? normed[i] : x[i]) + beta * sub[i];
  }

  private attention(L: number, ls: LayerSpec, w: LayerWeights, st: LayerState, h: Float32Array, T: number, pos0: number): Float32Array {
    const s = this.spec;
    const D = s.hidden_size;
    const hd = s.head_dim;
    const Hq = s.num_attention_heads;
    const linear = ls.attention.kind === 'linear';
    const Hkv = linear ? Hq : s.num_key_value_heads;
    const qw = Hq * hd;
    const kw = Hkv * hd;
    const q = new Float32Array(T * qw); // (T, Hq*hd)
    const k = new Float32Array(T * kw); // (T, Hkv*hd)
    const v = new Float32Array(T * kw); // (T, Hkv*hd)
    for (let t = 0; t < T; t++) {
      const ht = h.subarray(t * D, (t + 1) * D);
      q.set(matvec(w.q_proj, ht, qw, D, w.q_bias), t * qw);
      k.set(matvec(w.k_proj, ht, kw, D, w.k_bias), t * kw);
      v.set(matvec(w.v_proj, ht, kw, D, w.v_bias), t * kw);
    }
    for (let t = 0; t < T; t++) {
      if (ls.qk_norm === 'whole_projection') {
        rmsnorm(q, w.q_norm!, s.rms_norm_eps, t * qw, qw, q, t * qw);
        rmsnorm(k, w.k_norm!, s.rms_norm_eps, t * kw, kw, k, t * kw);
      } else if (ls.qk_norm === 'per_head') {
        for (let hh = 0; hh < Hq; hh++) rmsnorm(q, w.q_norm!, s.rms_norm_eps, t * qw + hh * hd, hd, q, t * qw + hh * hd);
        for (let hh = 0; hh < Hkv; hh++) rmsnorm(k, w.k_norm!, s.rms_norm_eps, t * kw + hh * hd, hd, k, t * kw + hh * hd);
      }
      if (s.clip_qkv !== null) {
        const c = s.clip_qkv;
        for (const arr of [q.subarray(t * qw, (t + 1) * qw), k.subarray(t * kw, (t + 1) * kw), v.subarray(t * kw, (t + 1) * kw)])
          for (let i = 0; i < arr.length; i++) arr[i] = Math.min(c, Math.max(-c, arr[i]));
      }
      const rope = this.ropes[L];
      if (rope) {
        applyRope(q.subarray(t * qw, (t + 1) * qw), Hq, hd, pos0 + t, rope);
        applyRope(k.subarray(t * kw, (t + 1) * kw), Hkv, hd, pos0 + t, rope);
      }
    }
    let o: Float32Array; // (T, Hq*hd)
    const att = ls.attention;
    if (att.kind === 'linear') {
      for (const arr of [q, k, v]) for (let i = 0; i < arr.length; i++) arr[i] = silu(arr[i]);
      o = lightningAttention(st as Extract<LayerState, { kind: 'linear' }>, q, k, v, T, Hq, hd, att.decay, att.block_size);
      for (let t = 0; t < T; t++) {
        rmsnorm(o, w.attn_out_norm!, att.out_norm_eps, t * qw, qw, o, t * qw);
        const gate = matvec(w.attn_gate!, h.subarray(t * D, (t + 1) * D), qw, D); // (H*hd)
        for (let i = 0; i < qw; i++) o[t * qw + i] *= sigmoid(gate[i]);
      }
    } else {
      const window = att.kind === 'sliding' ? att.window : null;
      o = softmaxAttention(st as Extract<LayerState, { kind: 'kv' }>, q, k, v, T, Hq, Hkv, hd, window, w.sinks);
    }
    const out = new Float32Array(T * D); // (T, D)
    for (let t = 0; t < T; t++) out.set(matvec(w.o_proj, o.subarray(t * qw, (t + 1) * qw), D, qw, w.o_bias), t * D);
    return out;
  }

  private moe(L: number, w: LayerWeights, h2: Float32Array, pos: number): Float32Array {
    const s = this.spec;
    const D = s.hidden_size;
    const logits = matvec(w.router, h2, s.moe.num_experts, D, w.router_bias); // (E)
    const r = route(s.moe, logits, w.selection_bias);
    this.observer?.(L, pos, r, logits, h2);
    const out = new Float32Array(D); // (D)
    for (let i = 0; i < r.experts.length; i++) {
      const y = expertForward(s.moe, this.experts[L][r.experts[i]], h2, D);
      for (let d = 0; d < D; d++) out[d] += r.weights[i] * y[d];
    }
    return out;
  }
}

/** Greedy generation: prefill the prompt, then decode one token at a time. */
export function greedy(model: ReferenceModel, prompt: number[], n: number, opts: { eos?: number[]; ignoreEos?: boolean } = {}): number[] {
  const st = model.newState(prompt.length + n + 1);
  let logits = model.forward(st, prompt);
  const out: number[] = [];
  const eos = opts.ignoreEos ? [] : (opts.eos ?? []);
  const masked = opts.ignoreEos ? (opts.eos ?? []) : [];
  for (let i = 0; i < n; i++) {
    const last = logits[logits.length - 1];
    let best = -1;
    for (let j = 0; j < last.length; j++) if (!masked.includes(j) && (best < 0 || last[j] > last[best])) best = j;
    out.push(best);
    if (eos.includes(best)) break;
    logits = model.forward(st, [best]);
  }
  return out;
}
