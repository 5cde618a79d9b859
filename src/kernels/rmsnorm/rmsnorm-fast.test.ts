// The workgroup-per-row rmsnorm (rmsnorm-fast.wgsl) against the reference: wide rows (256-thread
// groups), narrow per-head rows (64-thread groups), in place and out of place.

import { describe, it } from 'vitest';
import { rmsnorm as refRmsnorm } from '../../reference/ops.ts';
import { expectClose, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { rmsnorm } from './rmsnorm.ts';

describe('rmsnorm fast variant', () => {
  for (const [label, n, heads] of [['wide rows', 3000, 1], ['narrow rows', 77, 1], ['per head', 48, 3]] as const) {
    it(`${label}: out of place and in place, offsets and strides`, async () => {
      const ctx = await testContext();
      const r = rng(n + heads);
      for (const inplace of [false, true]) {
        const T = randInt(r, 1, 4);
        const width = heads * n;
        const stride = width + randInt(r, 0, 5);
        const off = randInt(r, 0, 7);
        const x = randArray(r, off + T * stride, -3, 3);
        const w = randArray(r, n, 0.5, 1.5);
        const expect = new Float32Array(x);
        for (let t = 0; t < T; t++) for (let h = 0; h < heads; h++) refRmsnorm(x, w, 1e-5, off + t * stride + h * n, n, expect, off + t * stride + h * n);
        const y = ctx.upload(x);
        await ctx.scoped('rmsnorm fast', async () => {
          const enc = ctx.encoder();
          rmsnorm(enc, { T, heads, n, eps: 1e-5, x: inplace ? undefined : ctx.upload(x), xOffset: off, xStride: stride, y, yOffset: off, yStride: stride, w: ctx.upload(w), variant: 'fast' });
          enc.submit();
          expectClose(await ctx.readF32(y), expect, `${label} T=${T} inplace=${inplace}`);
        });
      }
    });
  }
});
