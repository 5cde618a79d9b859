import { describe, it } from 'vitest';
import { expectClose, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { combine } from './combine.ts';

/** The reference forward's combine: out[d] += w_k y_k[d] in k order, f32. */
function reference(y: Float32Array, w: Float32Array, T: number, K: number, D: number): Float32Array {
  const out = new Float32Array(T * D);
  for (let t = 0; t < T; t++)
    for (let k = 0; k < K; k++) for (let d = 0; d < D; d++) out[t * D + d] += w[t * K + k] * y[(t * K + k) * D + d];
  return out;
}

describe('combine', () => {
  it('fixed case: two experts', async () => {
    const ctx = await testContext();
    const out = ctx.createBuffer(8);
    await ctx.scoped('combine fixed', async () => {
      const enc = ctx.encoder();
      combine(enc, { T: 1, K: 2, D: 2, y: ctx.upload(new Float32Array([1, 2, 10, 20])), weights: ctx.upload(new Float32Array([0.75, 0.25])), out });
      enc.submit();
      expectClose(await ctx.readF32(out), [3.25, 6.5], 'out', { rtol: 1e-6 });
    });
  });

  it('random T, K, D match the reference', async () => {
    const ctx = await testContext();
    const r = rng(8);
    for (let trial = 0; trial < 3; trial++) {
      const [T, K, D] = [randInt(r, 1, 6), randInt(r, 1, 8), randInt(r, 1, 200)];
      const y = randArray(r, T * K * D, -3, 3);
      const w = randArray(r, T * K, 0, 1);
      const out = ctx.createBuffer(T * D * 4);
      await ctx.scoped('combine', async () => {
        const enc = ctx.encoder();
        combine(enc, { T, K, D, y: ctx.upload(y), weights: ctx.upload(w), out });
        enc.submit();
        expectClose(await ctx.readF32(out), reference(y, w, T, K, D), `T=${T} K=${K} D=${D}`, { rtol: 1e-6 });
      });
    }
  });
});
