import { describe, it } from 'vitest';
import { rmsnorm as refRmsnorm } from '../../reference/ops.ts';
import { expectClose, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { rmsnorm } from './rmsnorm.ts';

describe('rmsnorm', () => {
  it('fixed case: one row', async () => {
    const ctx = await testContext();
    const y = ctx.createBuffer(16);
    await ctx.scoped('rmsnorm fixed', async () => {
      const enc = ctx.encoder();
      // mean(x^2) = (9 + 16) / 2 = 12.5, eps 0.5 -> 1/sqrt(13)
      rmsnorm(enc, { T: 1, n: 2, eps: 0.5, x: ctx.upload(new Float32Array([3, -4])), y, w: ctx.upload(new Float32Array([1, 2])) });
      enc.submit();
      const s = 1 / Math.sqrt(13);
      expectClose((await ctx.readF32(y)).subarray(0, 2), [3 * s, -8 * s], 'y', { rtol: 1e-6 });
    });
  });

  it('per-token and whole-projection rows, out of place and in place, with offsets and strides', async () => {
    const ctx = await testContext();
    const r = rng(11);
    for (let trial = 0; trial < 4; trial++) {
      const T = randInt(r, 1, 9);
      const n = randInt(r, 1, 256);
      const stride = n + randInt(r, 0, 5);
      const off = randInt(r, 0, 7);
      const x = randArray(r, off + T * stride, -3, 3);
      const w = randArray(r, n, 0.5, 1.5);
      const eps = 1e-5;
      const expect = new Float32Array(x);
      for (let t = 0; t < T; t++) refRmsnorm(x, w, eps, off + t * stride, n, expect, off + t * stride);
      const inplace = trial % 2 === 1;
      const y = ctx.upload(x); // a copy of x, so the gaps between rows must stay untouched
      await ctx.scoped('rmsnorm rows', async () => {
        const enc = ctx.encoder();
        rmsnorm(enc, { T, n, eps, x: inplace ? undefined : ctx.upload(x), xOffset: off, xStride: stride, y, yOffset: off, yStride: stride, w: ctx.upload(w) });
        enc.submit();
        expectClose(await ctx.readF32(y), expect, `T=${T} n=${n} inplace=${inplace}`);
      });
    }
  });

  it('per-head q/k norm: H heads of hd share one (hd) weight', async () => {
    const ctx = await testContext();
    const r = rng(12);
    for (const [T, H, hd] of [[3, 4, 16], [randInt(r, 1, 6), randInt(r, 1, 8), randInt(r, 2, 64)]]) {
      const x = randArray(r, T * H * hd, -2, 2);
      const w = randArray(r, hd, 0.5, 1.5);
      const expect = new Float32Array(x.length);
      for (let row = 0; row < T * H; row++) refRmsnorm(x, w, 1e-6, row * hd, hd, expect, row * hd);
      const y = ctx.createBuffer(x.length * 4);
      await ctx.scoped('rmsnorm heads', async () => {
        const enc = ctx.encoder();
        rmsnorm(enc, { T, heads: H, n: hd, eps: 1e-6, x: ctx.upload(x), y, w: ctx.upload(w) });
        enc.submit();
        expectClose(await ctx.readF32(y), expect, `T=${T} H=${H} hd=${hd}`);
      });
    }
  });
});
