import { describe, it } from 'vitest';
import { expectClose, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { residual } from './residual.ts';

describe('residual', () => {
  it('fixed case: pre-norm add and post-norm alpha/beta', async () => {
    const ctx = await testContext();
    const x = ctx.upload(new Float32Array([1, 2]));
    await ctx.scoped('residual fixed', async () => {
      const enc = ctx.encoder();
      residual(enc, { n: 2, x, sub: ctx.upload(new Float32Array([10, 20])) }); // [11, 22]
      residual(enc, { n: 2, x, sub: ctx.upload(new Float32Array([1, 1])), normed: ctx.upload(new Float32Array([4, 8])), alpha: 0.5, beta: 3 }); // [5, 7]
      enc.submit();
      expectClose(await ctx.readF32(x), [5, 7], 'x', { rtol: 0, atol: 0 });
    });
  });

  for (const fromNormed of [false, true]) {
    it(`random, from_normed ${fromNormed}: x = alpha r + beta s`, async () => {
      const ctx = await testContext();
      const r = rng(fromNormed ? 2 : 3);
      const n = randInt(r, 1, 500);
      const [alpha, beta] = fromNormed ? [3.2, 0.7] : [1, 1];
      const x = randArray(r, n, -5, 5);
      const h = randArray(r, n, -5, 5);
      const s = randArray(r, n, -5, 5);
      const expect = Float32Array.from(x, (xi, i) => alpha * (fromNormed ? h[i] : xi) + beta * s[i]);
      const xb = ctx.upload(x);
      await ctx.scoped('residual', async () => {
        const enc = ctx.encoder();
        residual(enc, { n, x: xb, sub: ctx.upload(s), normed: fromNormed ? ctx.upload(h) : undefined, alpha, beta });
        enc.submit();
        expectClose(await ctx.readF32(xb), expect, `n=${n}`, { rtol: 1e-6 });
      });
    });
  }
});
