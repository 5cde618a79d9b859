// Kernels composed the way a forward pass uses them: a whole MoE block for T tokens recorded into
// one encoder and one submit, experts read through the router -> slot indirection from a shuffled
// expert cache whose blobs follow quant-layout.ts expertLayout. Checked against reference/moe.ts.

import { describe, it } from 'vitest';
import { expertForward, route as refRoute } from '../reference/moe.ts';
import { matvec as refMatvec } from '../reference/ops.ts';
import { dequantizeMatrix, quantizeMatrix } from '../format/quant.ts';
import { expertLayout, type QuantKind } from '../format/quant-layout.ts';
import type { MoeSpec } from '../format/spec.ts';
import type { ExpertWeights } from '../format/weights.ts';
import { expectClose, expectEqual, randArray, rng, testContext } from './testing/harness.ts';
import { combine, expertSlots, matvec, residual, route, swiglu } from './index.ts';

function moeSpec(over: Partial<MoeSpec>): MoeSpec {
  return {
    num_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: 24, scoring_func: 'softmax', score_over: 'all',
    selection_bias: false, norm_topk_prob: true, routed_scaling_factor: 1, router_bias: false,
    activation: { kind: 'swiglu' }, expert_bias: false, ...over,
  };
}

const CASES: [string, QuantKind, MoeSpec][] = [
  ['qwen3-style: softmax, renormalized, q4 experts', 'q4', moeSpec({})],
  ['gpt-oss-style: top-k logits, clamped SwiGLU, biases, mxfp4 experts', 'mxfp4', moeSpec({ score_over: 'topk_logits', router_bias: true, expert_bias: true, activation: { kind: 'clamped_swiglu', alpha: 1.702, limit: 7 }, num_experts_per_tok: 3 })],
  ['minimax-style: sigmoid, selection bias, scaling, q8 experts', 'q8', moeSpec({ scoring_func: 'sigmoid', selection_bias: true, routed_scaling_factor: 2, num_experts: 16, num_experts_per_tok: 4 })],
];

describe('composed MoE block (one submit)', () => {
  for (const [name, kind, moe] of CASES) {
    it(name, async () => {
      const ctx = await testContext();
      const r = rng(name.length);
      const [T, D, E, K, I] = [3, 40, moe.num_experts, moe.num_experts_per_tok, moe.moe_intermediate_size];
      const lay = expertLayout(kind, D, I, moe.expert_bias);
      // experts, packed into blobs; blob e sits in cache slot slotOf[e]
      const slotOf = Array.from({ length: E }, (_, e) => (e * 5 + 3) % E);
      const cache = new Uint8Array(lay.bytes * E);
      const experts: ExpertWeights[] = [];
      for (let e = 0; e < E; e++) {
        const base = slotOf[e] * lay.bytes;
        const mat = (sec: typeof lay.gate) => {
          const bytes = quantizeMatrix(kind, randArray(r, sec.shape[0] * sec.shape[1], -0.5, 0.5), sec.shape[0], sec.shape[1]);
          cache.set(bytes, base + sec.offset);
          return dequantizeMatrix(kind, bytes, sec.shape[0], sec.shape[1]);
        };
        const vec = (sec: typeof lay.gate | undefined) => {
          if (!sec) return undefined;
          const v = randArray(r, sec.shape[0], -0.2, 0.2);
          cache.set(new Uint8Array(v.buffer), base + sec.offset);
          return v;
        };
        experts.push({ gate: mat(lay.gate), up: mat(lay.up), down: mat(lay.down), gate_bias: vec(lay.gate_bias), up_bias: vec(lay.up_bias), down_bias: vec(lay.down_bias) });
      }
      const router = randArray(r, E * D, -1, 1); // (E, D)
      const routerBias = moe.router_bias ? randArray(r, E, -0.5, 0.5) : undefined;
      const selBias = moe.selection_bias ? randArray(r, E, -0.05, 0.05) : undefined;
      const h = randArray(r, T * D); // (T, D) normed input
      const x = randArray(r, T * D); // (T, D) residual stream

      // reference
      const expectX = new Float32Array(x);
      const expectIds: number[] = [];
      for (let t = 0; t < T; t++) {
        const ht = h.subarray(t * D, (t + 1) * D);
        const routing = refRoute(moe, refMatvec(router, ht, E, D, routerBias), selBias);
        expectIds.push(...routing.experts);
        const out = new Float32Array(D);
        routing.experts.forEach((e, i) => {
          const y = expertForward(moe, experts[e], ht, D);
          for (let d = 0; d < D; d++) out[d] += routing.weights[i] * y[d];
        });
        for (let d = 0; d < D; d++) expectX[t * D + d] += out[d];
      }

      // GPU: one encoder, one submit
      const buf = (n: number) => ctx.createBuffer(n * 4);
      const cacheBuf = ctx.upload(cache);
      const table = ctx.upload(Uint32Array.from({ length: E }, (_, e) => (slotOf[e] * lay.bytes) / 4));
      const [hb, xb] = [ctx.upload(h), ctx.upload(x)];
      const [logits, ids, wts, slots] = [buf(T * E), buf(T * K), buf(T * K), buf(T * K)];
      const [g, u, a, y, m] = [buf(T * K * I), buf(T * K * I), buf(T * K * I), buf(T * K * D), buf(T * D)];
      const P = T * K;
      const bias = (sec?: { offset: number }) => sec && { buffer: cacheBuf, offset: sec.offset / 4 };
      await ctx.scoped(name, async () => {
        const enc = ctx.encoder('moe block');
        matvec(enc, { kind: 'f32', rows: E, cols: D, problems: T, w: ctx.upload(router), x: hb, y: logits, bias: routerBias && { buffer: ctx.upload(routerBias) } });
        route(enc, { moe, T, logits, selectionBias: selBias && ctx.upload(selBias), ids, weights: wts });
        expertSlots(enc, { n: P, ids, table, slots });
        const viaSlots = { w: cacheBuf, problems: P, slots: { buffer: slots } };
        matvec(enc, { ...viaSlots, kind, rows: I, cols: D, wOffset: lay.gate.offset, x: hb, xDiv: K, y: g, bias: bias(lay.gate_bias) });
        matvec(enc, { ...viaSlots, kind, rows: I, cols: D, wOffset: lay.up.offset, x: hb, xDiv: K, y: u, bias: bias(lay.up_bias) });
        swiglu(enc, { activation: moe.activation, n: I, problems: P, gate: g, up: u, out: a });
        matvec(enc, { ...viaSlots, kind, rows: D, cols: I, wOffset: lay.down.offset, x: a, y, bias: bias(lay.down_bias) });
        combine(enc, { T, K, D, y, weights: wts, out: m });
        residual(enc, { n: T * D, x: xb, sub: m });
        const idsBack = enc.read(ids);
        const xBack = enc.read(xb);
        enc.submit();
        expectEqual(new Uint32Array(await idsBack), expectIds, 'chosen experts');
        expectClose(new Float32Array(await xBack), expectX, 'residual stream after the MoE block', { rtol: 1e-5 });
      });
    });
  }
});
