// The workgroup-per-token router (route-fast.wgsl) with the slot lookup against the reference
// router, for every scoring configuration, E up to 256 experts and K up to 8.

import { describe, it } from 'vitest';
import { route as refRoute } from '../../reference/moe.ts';
import { matvec as refMatvec, rmsnorm as refRmsnorm } from '../../reference/ops.ts';
import type { MoeSpec } from '../../format/spec.ts';
import { expectClose, expectEqual, randArray, rng, testContext } from '../testing/harness.ts';
import { route, routeNorm, routeTuning } from './router.ts';

function separated(r: () => number, E: number): Float32Array {
  const perm = Array.from({ length: E }, (_, i) => i);
  for (let i = E - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return Float32Array.from(perm, (v) => (v - E / 2) * (4 / E) + 0.0001 * r());
}

describe('route fast variant', () => {
  const specs: [string, Partial<MoeSpec>][] = [
    ['softmax over all, renormalized, E 128 K 8', { num_experts: 128, num_experts_per_tok: 8, scoring_func: 'softmax', score_over: 'all', norm_topk_prob: true, routed_scaling_factor: 1 }],
    ['sigmoid with selection bias, scaled, E 256 K 8', { num_experts: 256, num_experts_per_tok: 8, scoring_func: 'sigmoid', score_over: 'all', norm_topk_prob: true, routed_scaling_factor: 2.5, selection_bias: true }],
    ['softmax over all, E 384 K 8 (more experts than threads)', { num_experts: 384, num_experts_per_tok: 8, scoring_func: 'softmax', score_over: 'all', norm_topk_prob: true, routed_scaling_factor: 1 }],
    ['top-k logits then softmax (gpt-oss), E 32 K 4', { num_experts: 32, num_experts_per_tok: 4, scoring_func: 'softmax', score_over: 'topk_logits', norm_topk_prob: true, routed_scaling_factor: 1 }],
    ['softmax not renormalized, E 9 K 3', { num_experts: 9, num_experts_per_tok: 3, scoring_func: 'softmax', score_over: 'all', norm_topk_prob: false, routed_scaling_factor: 1 }],
    ['ties (logits on a coarse grid) broken by the lower index, E 10 K 3', { num_experts: 10, num_experts_per_tok: 3, scoring_func: 'softmax', score_over: 'all', norm_topk_prob: true, routed_scaling_factor: 1 }],
    ['sigmoid over top-k logits, no slot table, E 12 K 2', { num_experts: 12, num_experts_per_tok: 2, scoring_func: 'sigmoid', score_over: 'topk_logits', norm_topk_prob: true, routed_scaling_factor: 1 }],
  ];
  for (const [name, spec] of specs) {
    const withSlots = !name.includes('no slot table');
    it(name, async () => {
      const ctx = await testContext();
      const r = rng(name.length * 5);
      const E = spec.num_experts!;
      const K = spec.num_experts_per_tok!;
      const T = 3;
      const logits = new Float32Array(T * E);
      for (let t = 0; t < T; t++) logits.set(separated(r, E), t * E);
      if (name.startsWith('ties')) for (let i = 0; i < logits.length; i++) logits[i] = Math.round(logits[i]); // 0 or +-1, +-2: many equal keys
      const bias = spec.selection_bias ? randArray(r, E, -0.05, 0.05) : undefined;
      const table = Uint32Array.from({ length: 2 * E }, (_, i) => 1000 + 7 * i); // (2 layers, E)
      const ids = ctx.createBuffer((1 + T * K) * 4);
      const wts = ctx.createBuffer((1 + T * K) * 4);
      const slots = ctx.createBuffer((1 + T * K) * 4);
      await ctx.scoped('route fast', async () => {
        const enc = ctx.encoder();
        route(enc, {
          moe: spec as MoeSpec, T, logits: ctx.upload(logits), selectionBias: bias && ctx.upload(bias), ids, weights: wts, outOffset: 1,
          slots: withSlots ? { table: ctx.upload(table), tableOffset: E, out: slots } : undefined, variant: 'fast',
        });
        enc.submit();
        const gotIds = (await ctx.readU32(ids)).subarray(1);
        const gotW = (await ctx.readF32(wts)).subarray(1);
        const gotS = (await ctx.readU32(slots)).subarray(1);
        for (let t = 0; t < T; t++) {
          const ref = refRoute(spec as MoeSpec, logits.subarray(t * E, (t + 1) * E), bias);
          expectEqual(gotIds.subarray(t * K, (t + 1) * K), ref.experts, `${name} token ${t} experts`);
          expectClose(gotW.subarray(t * K, (t + 1) * K), ref.weights, `${name} token ${t} weights`, { rtol: 1e-5 });
          const wantS = withSlots ? ref.experts.map((e) => table[E + e]) : new Array<number>(K).fill(0); // untouched without a table
          expectEqual(gotS.subarray(t * K, (t + 1) * K), wantS, `${name} token ${t} slots`);
        }
      });
    });
  }

  // one dispatch for norm + router product + choice (decode): against rmsnorm, matvec and route
  // (D 544: each thread's columns run through the eight-load loop and the tail); 'split': with a
  // logits scratch, router-logits (a workgroup per expert row) then route-fast main
  for (const [name, spec, biased, wg] of [
    ['gpt-oss: router bias, top-k logits, E 32 K 4', specs[2][1], true, 1024],
    ['gpt-oss, 64 threads (2 per expert)', specs[2][1], true, 64],
    ['minimax: sigmoid, selection bias, E 256 K 8 (threads per expert: 1)', specs[1][1], false, 1024],
    ['E 9 K 3, no router bias', specs[3][1], false, 1024],
    ['gpt-oss, split', specs[2][1], true, 'split'],
    ['minimax, split', specs[1][1], false, 'split'],
  ] as [string, Partial<MoeSpec>, boolean, number | 'split'][]) {
    it(`routeNorm ${name}`, async () => {
      const saved = routeTuning.wg;
      const ctx = await testContext();
      const r = rng(name.length * 7);
      const E = spec.num_experts!;
      const K = spec.num_experts_per_tok!;
      const T = 2;
      const D = 544;
      const x = randArray(r, 4 + T * D, -2, 2);
      const nw = randArray(r, D, 0.5, 1.5);
      const W = randArray(r, E * D, -0.3, 0.3);
      const b = biased ? randArray(r, E, -0.5, 0.5) : undefined;
      const sel = spec.selection_bias ? randArray(r, E, -0.05, 0.05) : undefined;
      const table = Uint32Array.from({ length: E }, (_, i) => 5 + 3 * i);
      const ids = ctx.createBuffer(T * K * 4);
      const wts = ctx.createBuffer(T * K * 4);
      const slots = ctx.createBuffer(T * K * 4);
      const h = ctx.createBuffer((4 + T * D) * 4);
      if (wg !== 'split') routeTuning.wg = wg;
      await ctx.scoped('route norm', async () => {
        const enc = ctx.encoder();
        routeNorm(enc, {
          moe: spec as MoeSpec, T, x: ctx.upload(x), xOffset: 4, D, norm: { w: ctx.upload(nw), eps: 1e-5 }, router: ctx.upload(W),
          bias: b && { buffer: ctx.upload(new Float32Array([9, ...b])), offset: 1 }, selectionBias: sel && ctx.upload(sel),
          ids, weights: wts, slots: { table: ctx.upload(table), out: slots }, h: { buffer: h, offset: 4 },
          logits: wg === 'split' ? ctx.createBuffer(T * E * 4) : undefined,
        });
        enc.submit();
        const gotIds = await ctx.readU32(ids);
        const gotW = await ctx.readF32(wts);
        const gotS = await ctx.readU32(slots);
        const gotH = (await ctx.readF32(h)).subarray(4);
        for (let t = 0; t < T; t++) {
          const hn = refRmsnorm(x, nw, 1e-5, 4 + t * D, D);
          expectClose(gotH.subarray(t * D, (t + 1) * D), hn, `${name} token ${t} h`, { rtol: 1e-5 });
          const ref = refRoute(spec as MoeSpec, refMatvec(W, hn, E, D, b), sel);
          expectEqual(gotIds.subarray(t * K, (t + 1) * K), ref.experts, `${name} token ${t} experts`);
          expectClose(gotW.subarray(t * K, (t + 1) * K), ref.weights, `${name} token ${t} weights`, { rtol: 1e-4 });
          expectEqual(gotS.subarray(t * K, (t + 1) * K), ref.experts.map((e) => table[e]), `${name} token ${t} slots`);
        }
      }).finally(() => {
        routeTuning.wg = saved;
      });
    });
  }
});
