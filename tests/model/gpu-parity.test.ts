// The GPU forward pass (Node, `webgpu` package; SwiftShader here) against HF transformers and
// against the CPU reference, for every fixture family and layout; and the expert cache: every
// budget gives the same greedy tokens as the all-resident run.

import { afterAll, describe, expect, it } from 'vitest';
import { HfCheckpoint } from '../../src/format/hf-checkpoint.ts';
import { packInMemory, packedWeights } from '../../src/format/pack.ts';
import type { PackedModel, QuantKind } from '../../src/format/quant-layout.ts';
import { createGpuContext, type GpuContext } from '../../src/gpu/device.ts';
import { GpuRunner } from '../../src/model/gpu-runner.ts';
import { dpTuning } from '../../src/kernels/matvec/matmul-dp.ts';
import { routeTuning } from '../../src/kernels/router/router.ts';
import type { ModelRunner } from '../../src/model/runner.ts';
import { ReferenceModel } from '../../src/reference/forward.ts';
import { nodeDir } from '../../src/store/node-dir.ts';
import { argmax, expected, fixtureDir, fixtureNames, relError } from '../helpers/fixtures.ts';

let ctxP: Promise<GpuContext> | null = null;
const gpu = () => (ctxP ??= createGpuContext());
afterAll(async () => (await ctxP)?.destroy());

async function packed(name: string, quant: QuantKind, denseQuant: QuantKind): Promise<PackedModel> {
  return packInMemory(await HfCheckpoint.open(nodeDir(fixtureDir(name))), { quant, denseQuant });
}

/** Greedy decode with EOS masked (HF's min_new_tokens), prefill in one call. */
async function greedyRun(r: ModelRunner, prompt: number[], n: number): Promise<number[]> {
  const eos = r.spec.eos_token_id;
  let logits = (await r.forward(prompt))[0];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const l = Float32Array.from(logits);
    for (const e of eos) l[e] = -Infinity;
    out.push(argmax(l));
    if (i + 1 < n) logits = (await r.forward([out[i]]))[0];
  }
  return out;
}

describe('GPU forward vs HF (f32 weights)', () => {
  for (const name of fixtureNames()) {
    it(`${name}: logits within 2e-3 of HF, greedy identical, chunked prefill = one pass`, async () => {
      const exp = expected(name);
      const ctx = await gpu();
      const pm = await packed(name, 'f32', 'f32');
      const r = await GpuRunner.create(pm, { ctx, maxLen: 64, maxChunk: 16 });
      try {
        const logits = await r.forward(exp.tokens, true); // 40 tokens: chunks of 16, 16, 8
        expect(relError(logits, exp.logits)).toBeLessThan(2e-3);
        r.reset();
        // the last row only: the chunks before the last run without LM head or readback
        const [lastRow] = await r.forward(exp.tokens, false);
        expect(relError([lastRow], [logits[logits.length - 1]])).toBeLessThan(1e-5);
        r.reset();
        expect(await greedyRun(r, exp.greedy_prompt, exp.greedy.length)).toEqual(exp.greedy);
      } finally {
        r.dispose();
      }
    });
  }
});

// The quantized path adds no error beyond the codec: 1e-5 relative (issue 3), far inside the
// 1e-3 the WebGPU issue asks of q4/q8 — with prefill products in f32 (dpTuning.digits 0). The
// default prefill multiplies x as two 8-bit digit planes per 32 values (matmul-dp.wgsl: x to 2^-16
// of its group's largest value, finer than f16 activations): within 3e-4 (~8e-5 measured).
describe('GPU q8/q4 equals the CPU reference on the same packed weights', () => {
  for (const [name, quant, dense] of [
    ['minimax_m2', 'q4', 'q8'],
    ['gpt_oss_mxfp4', 'mxfp4', 'q4'],
    ['minimax', 'q8', 'f16'],
    ['qwen3_moe', 'q4', 'q4'],
    ['olmoe', 'q8', 'q8'],
    ['mixtral', 'q4', 'q8'],
  ] as [string, QuantKind, QuantKind][]) {
    it(`${name} experts ${quant}, dense ${dense}: within 1e-5 relative (f32 prefill products), 3e-4 (2 digit planes)`, async () => {
      const exp = expected(name);
      const pm = await packed(name, quant, dense);
      const ref = await ReferenceModel.load(packedWeights(pm));
      const want = ref.forward(ref.newState(64), exp.tokens);
      const saved = dpTuning.digits;
      for (const [digits, tol] of [[0, 1e-5], [2, 3e-4]] as const) {
        dpTuning.digits = digits;
        const r = await GpuRunner.create(pm, { ctx: await gpu(), maxLen: 64, maxChunk: 40 });
        try {
          expect(relError(await r.forward(exp.tokens, true), want), `${digits} digit planes`).toBeLessThan(tol);
        } finally {
          r.dispose();
          dpTuning.digits = saved;
        }
      }
    });
  }
});

// With every expert resident the fused gate + up makes the routing choice itself (route-choose-sg.wgsl
// inside gate_up_routed) and no route-fast dispatch runs: the same choice and weights (up to the
// order of the softmax sum), so the same logits within 1e-6, one dispatch fewer a layer — for each scoring form (sigmoid + selection bias, top-k logits,
// softmax over all, not renormalized; softmax of the top-k logits).
describe('the routing choice inside the experts gate + up', () => {
  for (const name of ['minimax_m2', 'gpt_oss', 'olmoe', 'mixtral']) {
    it(`${name}: decode logits equal the separate route dispatch's, one dispatch fewer a layer`, async () => {
      const exp = expected(name);
      const ctx = await gpu();
      const pm = await packed(name, 'q4', 'q8');
      const runs: { logits: Float32Array[]; dispatches: number }[] = [];
      for (const inGateUp of [false, true]) {
        routeTuning.inGateUp = inGateUp;
        const r = await GpuRunner.create(pm, { ctx, maxLen: 64, maxChunk: 16 });
        try {
          const logits = [(await r.forward(exp.greedy_prompt))[0]];
          for (let i = 0; i < 4; i++) logits.push((await r.forward([argmax(logits[i])]))[0]);
          await r.forward([1]); // a recorded step, not a replay: its dispatches are counted
          runs.push({ logits, dispatches: r.lastChunkStats.replayed ? -1 : r.lastChunkStats.dispatches });
        } finally {
          r.dispose();
          routeTuning.inGateUp = true;
        }
      }
      expect(relError(runs[1].logits, runs[0].logits)).toBeLessThan(1e-6);
      expect(runs[1].dispatches).toBeGreaterThan(0);
      expect(runs[0].dispatches - runs[1].dispatches).toBe(pm.spec.num_hidden_layers);
    });
  }
});

describe('expert cache budgets', () => {
  for (const name of ['minimax_m2', 'gpt_oss', 'minimax', 'qwen3_moe', 'mixtral', 'olmoe']) {
    it(`${name}: 100% / 50% / 25% / top-k budgets give the all-resident greedy tokens; misses grow`, async () => {
      const exp = expected(name);
      const ctx = await gpu();
      const pm = await packed(name, 'q8', 'f32');
      const { num_hidden_layers: L, moe } = pm.spec;
      const minBytes = L * moe.num_experts_per_tok * pm.expertLayout.bytes;
      const results: { tokens: number[]; misses: number; bytes: number; resident: boolean }[] = [];
      for (const budget of [1, 0.5, 0.25, minBytes]) {
        const r = await GpuRunner.create(pm, { ctx, expertBudget: budget, maxLen: 64, maxChunk: 16 });
        try {
          const tokens = await greedyRun(r, exp.greedy_prompt, 12);
          const s = r.expertCacheStats();
          results.push({ tokens, misses: s.misses, bytes: s.bytesStreamed, resident: s.budgetBytes === L * moe.num_experts * pm.expertLayout.bytes });
        } finally {
          r.dispose();
        }
      }
      expect(results[0].resident).toBe(true);
      expect(results[0].misses).toBe(0);
      for (const r of results.slice(1)) expect(r.tokens).toEqual(results[0].tokens);
      for (let i = 2; i < results.length; i++) {
        expect(results[i].misses).toBeGreaterThanOrEqual(results[i - 1].misses);
        expect(results[i].bytes).toBeGreaterThanOrEqual(results[i - 1].bytes);
      }
      expect(results[3].misses).toBeGreaterThan(results[1].misses);
    });
  }
});
