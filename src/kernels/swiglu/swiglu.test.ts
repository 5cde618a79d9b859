import { describe, it } from 'vitest';
import { activate } from '../../reference/moe.ts';
import type { ExpertActivation } from '../../format/spec.ts';
import { expectClose, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { swiglu } from './swiglu.ts';

const ACTS: ExpertActivation[] = [{ kind: 'swiglu' }, { kind: 'clamped_swiglu', alpha: 1.702, limit: 7 }];

describe('swiglu', () => {
  it('fixed case: silu(1) * 2 and a clamped gate', async () => {
    const ctx = await testContext();
    const out = ctx.createBuffer(8);
    await ctx.scoped('swiglu fixed', async () => {
      const enc = ctx.encoder();
      swiglu(enc, { activation: { kind: 'swiglu' }, n: 1, gate: ctx.upload(new Float32Array([1])), up: ctx.upload(new Float32Array([2])), out });
      swiglu(enc, { activation: { kind: 'clamped_swiglu', alpha: 1, limit: 1 }, n: 1, gate: ctx.upload(new Float32Array([50])), up: ctx.upload(new Float32Array([-9])), out, outOffset: 1 });
      enc.submit();
      // clamped: gc = 1, uc = -1 -> (uc + 1) = 0
      expectClose(await ctx.readF32(out), [2 / (1 + Math.exp(-1)), 0], 'out', { rtol: 1e-6 });
    });
  });

  for (const act of ACTS) {
    it(`${act.kind}: random problems (extreme gates included) match the reference`, async () => {
      const ctx = await testContext();
      const r = rng(act.kind.length);
      const n = randInt(r, 1, 200);
      const P = randInt(r, 1, 6);
      const stride = n + randInt(r, 0, 3);
      const g = randArray(r, P * stride, -12, 12);
      g[0] = -200; // exp overflow territory for a naive sigmoid
      g[1] = 200;
      const u = randArray(r, P * stride, -10, 10);
      const expect = new Float32Array(P * n);
      for (let p = 0; p < P; p++) for (let i = 0; i < n; i++) expect[p * n + i] = activate(act, g[p * stride + i], u[p * stride + i]);
      const out = ctx.createBuffer(P * n * 4);
      await ctx.scoped(`swiglu ${act.kind}`, async () => {
        const enc = ctx.encoder();
        swiglu(enc, { activation: act, n, problems: P, gate: ctx.upload(g), up: ctx.upload(u), inStride: stride, out });
        enc.submit();
        expectClose(await ctx.readF32(out), expect, `${act.kind} n=${n} P=${P}`, { rtol: 1e-5 });
      });
    });
  }
});
