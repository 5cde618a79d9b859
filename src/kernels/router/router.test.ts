import { describe, it } from 'vitest';
import { route as refRoute } from '../../reference/moe.ts';
import type { MoeSpec } from '../../format/spec.ts';
import { expectClose, expectEqual, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { expertSlots, route } from './router.ts';

type RouterSpec = Pick<MoeSpec, 'num_experts' | 'num_experts_per_tok' | 'scoring_func' | 'score_over' | 'norm_topk_prob' | 'routed_scaling_factor' | 'selection_bias'>;

/** Logits with well-separated values (distinct multiples of 0.05 plus tiny noise): no near ties. */
function separatedLogits(r: () => number, E: number): Float32Array {
  const perm = Array.from({ length: E }, (_, i) => i);
  for (let i = E - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return Float32Array.from(perm, (v) => (v - E / 2) * 0.05 + 0.001 * r());
}

async function check(spec: RouterSpec, T: number, seed: number): Promise<void> {
  const ctx = await testContext();
  const r = rng(seed);
  const E = spec.num_experts;
  const K = spec.num_experts_per_tok;
  const logits = new Float32Array(T * E); // (T, E)
  for (let t = 0; t < T; t++) logits.set(separatedLogits(r, E), t * E);
  const bias = spec.selection_bias ? randArray(r, E, -0.1, 0.1) : undefined;
  const ids = ctx.createBuffer(T * K * 4);
  const wts = ctx.createBuffer(T * K * 4);
  await ctx.scoped('route', async () => {
    const enc = ctx.encoder();
    route(enc, { moe: spec, T, logits: ctx.upload(logits), selectionBias: bias && ctx.upload(bias), ids, weights: wts });
    enc.submit();
    const gotIds = await ctx.readU32(ids);
    const gotW = await ctx.readF32(wts);
    for (let t = 0; t < T; t++) {
      const ref = refRoute(spec as MoeSpec, logits.subarray(t * E, (t + 1) * E), bias);
      const what = `${spec.scoring_func}/${spec.score_over}/bias=${!!bias}/norm=${spec.norm_topk_prob} token ${t}`;
      expectEqual(gotIds.subarray(t * K, (t + 1) * K), ref.experts, `${what} experts`);
      expectClose(gotW.subarray(t * K, (t + 1) * K), ref.weights, `${what} weights`, { rtol: 1e-5 });
    }
  });
}

describe('router', () => {
  it('fixed case: softmax top-2 of 4, renormalized, scaled by 2', async () => {
    const ctx = await testContext();
    const ids = ctx.createBuffer(8);
    const wts = ctx.createBuffer(8);
    await ctx.scoped('route fixed', async () => {
      const enc = ctx.encoder();
      const moe = { num_experts: 4, num_experts_per_tok: 2, scoring_func: 'softmax', score_over: 'all', norm_topk_prob: true, routed_scaling_factor: 2 } as const;
      route(enc, { moe, T: 1, logits: ctx.upload(new Float32Array([0, Math.log(3), -1, Math.log(3)])), ids, weights: wts });
      enc.submit();
      expectEqual(await ctx.readU32(ids), [1, 3], 'tie goes to the lower index');
      expectClose(await ctx.readF32(wts), [1, 1], 'weights', { rtol: 1e-6 });
    });
  });

  const r = rng(99);
  for (const scoring_func of ['softmax', 'sigmoid'] as const)
    for (const score_over of ['all', 'topk_logits'] as const)
      for (const selection_bias of score_over === 'all' ? [false, true] : [false]) {
        const E = randInt(r, 4, 64);
        const spec: RouterSpec = {
          num_experts: E,
          num_experts_per_tok: randInt(r, 1, Math.min(8, E)),
          scoring_func,
          score_over,
          selection_bias,
          norm_topk_prob: r() < 0.5 || selection_bias,
          routed_scaling_factor: r() < 0.5 ? 1 : 2.5,
        };
        const seed = randInt(r, 1, 1e6);
        it(`${scoring_func}, ${score_over}, selection bias ${selection_bias}: E=${E} K=${spec.num_experts_per_tok}`, () => check(spec, randInt(r, 1, 9), seed));
      }

  it('expertSlots maps chosen experts through the residency table', async () => {
    const ctx = await testContext();
    const table = Uint32Array.from([700, 0, 1400, 2100, 350]); // word offsets of experts 0..4
    const chosen = Uint32Array.from([9, 9, 4, 2, 0, 3]); // two leading entries skipped by the offset
    const slots = ctx.createBuffer(5 * 4);
    await ctx.scoped('expertSlots', async () => {
      const enc = ctx.encoder();
      expertSlots(enc, { n: 4, ids: ctx.upload(chosen), idsOffset: 2, table: ctx.upload(table), slots, slotsOffset: 1 });
      enc.submit();
      expectEqual((await ctx.readU32(slots)).subarray(1), [350, 1400, 700, 2100], 'slots');
    });
  });
});
