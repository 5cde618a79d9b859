// The routed gate + up (matvec-wide-experts.wgsl gate_up_routed): the choice made inside the
// dispatch from the router logits (route-choose-sg.wgsl) against the reference router, then the gate
// + up rows of the chosen experts against the reference products; ids, weights and slots written
// for down_sum — for each scoring configuration and a few wide geometries.

import { describe, it } from 'vitest';
import { route as refRoute, activate } from '../../reference/moe.ts';
import { matvec as refMatvec } from '../../reference/ops.ts';
import { dequantizeMatrix, quantizeMatrix } from '../../format/quant.ts';
import { expertLayout, type QuantKind } from '../../format/quant-layout.ts';
import type { ExpertActivation, MoeSpec } from '../../format/spec.ts';
import { expectClose, expectEqual, randArray, rng, testContext } from '../testing/harness.ts';
import { matvecTuning } from './matvec.ts';
import { expertGateUp, routedGateUpUsable } from './moe-fused.ts';

const CASES: [string, QuantKind, ExpertActivation, Partial<MoeSpec>][] = [
  ['gpt-oss: top-k logits then softmax, E 32 K 4', 'mxfp4', { kind: 'clamped_swiglu', alpha: 1.702, limit: 7 },
    { num_experts: 32, num_experts_per_tok: 4, scoring_func: 'softmax', score_over: 'topk_logits', norm_topk_prob: true, routed_scaling_factor: 1 }],
  ['softmax over all, renormalized, E 12 K 3 (more experts than a small workgroup has threads)', 'q4', { kind: 'swiglu' },
    { num_experts: 12, num_experts_per_tok: 3, scoring_func: 'softmax', score_over: 'all', norm_topk_prob: true, routed_scaling_factor: 1 }],
  ['sigmoid with selection bias, scaled, not renormalized, E 40 K 8', 'q8', { kind: 'swiglu' },
    { num_experts: 40, num_experts_per_tok: 8, scoring_func: 'sigmoid', score_over: 'all', norm_topk_prob: false, routed_scaling_factor: 2.5, selection_bias: true }],
  ['ties (logits on a coarse grid) broken by the lower index, E 20 K 5', 'q4', { kind: 'swiglu' },
    { num_experts: 20, num_experts_per_tok: 5, scoring_func: 'softmax', score_over: 'all', norm_topk_prob: true, routed_scaling_factor: 1 }],
  ['MiniMax-M2-like: sigmoid with selection bias, E 256 K 8 (4 experts a thread at 64 threads)', 'q4', { kind: 'swiglu' },
    { num_experts: 256, num_experts_per_tok: 8, scoring_func: 'sigmoid', score_over: 'all', norm_topk_prob: true, routed_scaling_factor: 2.5, selection_bias: true }],
];

const GEOMETRIES = [
  { wg: 64, rpt: 8, unr: 1, design: 'wide', pf: 1, gu: 1 },
  { wg: 8, rpt: 3, unr: 1, design: 'wide', pf: 0 },
] as const;

describe('routed gate + up (the choice inside the experts dispatch)', () => {
  for (const [name, kind, act, spec] of CASES) {
    it(name, async () => {
      const ctx = await testContext();
      const D = 64;
      const I = 32;
      const E = spec.num_experts!;
      const K = spec.num_experts_per_tok!;
      const T = 2;
      const layout = expertLayout(kind, D, I, kind === 'mxfp4');
      const moe = spec as MoeSpec;
      const saved = { ...matvecTuning, small: { ...matvecTuning.small }, byKind: { ...matvecTuning.byKind } };
      let ran = 0;
      try {
        for (const g of GEOMETRIES) {
          Object.assign(matvecTuning, { minGroups: 0, small: {}, byKind: {}, gu: undefined, pf: undefined }, g);
          if (!routedGateUpUsable(ctx, layout, moe, T)) continue; // no subgroups, too few storage buffers a stage, or E > 8 threads
          ran++;
          const r = rng(E * 31 + K);
          // expert e in slot (e * 7) % E of the arena (E and 7 coprime in every case)
          const slotOf = Array.from({ length: E }, (_, e) => (e * 7) % E);
          const cache = new Uint8Array(E * layout.bytes);
          const W: { g: Float32Array; u: Float32Array; bg?: Float32Array; bu?: Float32Array }[] = [];
          for (let e = 0; e < E; e++) {
            const gb = quantizeMatrix(kind, randArray(r, I * D), I, D);
            const ub = quantizeMatrix(kind, randArray(r, I * D), I, D);
            const base = slotOf[e] * layout.bytes;
            cache.set(gb, base + layout.gate.offset);
            cache.set(ub, base + layout.up.offset);
            const w: (typeof W)[number] = { g: dequantizeMatrix(kind, gb, I, D), u: dequantizeMatrix(kind, ub, I, D) };
            if (layout.gate_bias) {
              w.bg = randArray(r, I);
              w.bu = randArray(r, I);
              cache.set(new Uint8Array(w.bg.buffer), base + layout.gate_bias.offset);
              cache.set(new Uint8Array(w.bu.buffer), base + layout.up_bias!.offset);
            }
            W.push(w);
          }
          const logits = randArray(r, T * E, -3, 3);
          if (name.startsWith('ties')) for (let i = 0; i < logits.length; i++) logits[i] = Math.round(logits[i]); // many equal keys
          const bias = spec.selection_bias ? randArray(r, E, -0.3, 0.3) : undefined;
          const xs = randArray(r, T * D, -2, 2);
          // the layer's expert -> slot table (word offsets) at entry E of a two-layer table
          const table = new Uint32Array(2 * E);
          for (let e = 0; e < E; e++) table[E + e] = (slotOf[e] * layout.bytes) / 4;
          const ids = ctx.createBuffer((1 + T * K) * 4);
          const wts = ctx.createBuffer((1 + T * K) * 4);
          const slots = ctx.createBuffer((1 + T * K) * 4);
          const a = ctx.createBuffer(T * K * I * 4);
          await ctx.scoped('routed gate_up', async () => {
            const enc = ctx.encoder();
            expertGateUp(enc, {
              layout, activation: act, problems: T * K, xDiv: K, arena: ctx.upload(cache), slots: ctx.upload(table), slotsOffset: E, x: ctx.upload(xs), out: a,
              route: { moe, logits: ctx.upload(logits), selectionBias: bias && ctx.upload(bias), ids, weights: wts, slots, outOffset: 1 },
            });
            enc.submit();
            const gotIds = (await ctx.readU32(ids)).subarray(1);
            const gotW = (await ctx.readF32(wts)).subarray(1);
            const gotS = (await ctx.readU32(slots)).subarray(1);
            const want = new Float32Array(T * K * I);
            for (let t = 0; t < T; t++) {
              const ref = refRoute(moe, logits.subarray(t * E, (t + 1) * E), bias);
              const label = `${name} ${g.design} wg ${g.wg} rpt ${g.rpt} token ${t}`;
              expectEqual(gotIds.subarray(t * K, (t + 1) * K), ref.experts, `${label} experts`);
              expectClose(gotW.subarray(t * K, (t + 1) * K), ref.weights, `${label} weights`, { rtol: 1e-5 });
              expectEqual(gotS.subarray(t * K, (t + 1) * K), ref.experts.map((e) => table[E + e]), `${label} slots`);
              ref.experts.forEach((e, k) => {
                const x = xs.subarray(t * D, (t + 1) * D);
                const gv = refMatvec(W[e].g, x, I, D, W[e].bg);
                const uv = refMatvec(W[e].u, x, I, D, W[e].bu);
                want.set(Float32Array.from(gv, (v, i) => activate(act, v, uv[i])), (t * K + k) * I);
              });
            }
            expectClose(await ctx.readF32(a), want, `${name} ${g.design} wg ${g.wg} rpt ${g.rpt} activations`);
          });
        }
      } finally {
        Object.assign(matvecTuning, saved);
      }
      if (ctx.caps.subgroups && ctx.limits.maxStorageBuffersPerShaderStage >= 11 && ran === 0) throw new Error(`${name}: no geometry ran the routed gate + up`);
    });
  }
});
