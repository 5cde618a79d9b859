import { describe, it } from 'vitest';
import { sigmoid, silu } from '../../reference/ops.ts';
import { expectClose, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { clampInPlace, sigmoidGate, siluInPlace } from './elementwise.ts';

describe('elementwise', () => {
  it('fixed case: silu(0) = 0, sigmoid(0) gate halves, clamp', async () => {
    const ctx = await testContext();
    const x = ctx.upload(new Float32Array([0, 4, -9]));
    await ctx.scoped('elementwise fixed', async () => {
      const enc = ctx.encoder();
      siluInPlace(enc, { n: 1, x });
      sigmoidGate(enc, { n: 1, x, xOffset: 1, gate: ctx.upload(new Float32Array([0])) });
      clampInPlace(enc, { n: 1, x, xOffset: 2, limit: 8 });
      enc.submit();
      expectClose(await ctx.readF32(x), [0, 2, -8], 'x', { rtol: 0, atol: 0 });
    });
  });

  it('random ranges with offsets, extreme inputs included, match the reference ops', async () => {
    const ctx = await testContext();
    const r = rng(17);
    const n = randInt(r, 2, 400);
    const off = randInt(r, 0, 9);
    const x = randArray(r, off + n, -30, 30);
    x[off] = -150; // a naive exp(-x) would overflow
    x[off + 1] = 150;
    const g = randArray(r, n, -100, 100);
    const xb = ctx.upload(x);
    const gated = ctx.upload(x);
    const clamped = ctx.upload(x);
    await ctx.scoped('elementwise random', async () => {
      const enc = ctx.encoder();
      siluInPlace(enc, { n, x: xb, xOffset: off });
      sigmoidGate(enc, { n, x: gated, xOffset: off, gate: ctx.upload(g) });
      clampInPlace(enc, { n, x: clamped, xOffset: off, limit: 7 });
      enc.submit();
      const keep = (f: (v: number, i: number) => number) => Float32Array.from(x, (v, i) => (i < off ? v : f(v, i - off)));
      expectClose(await ctx.readF32(xb), keep((v) => silu(v)), 'silu', { rtol: 1e-6 });
      expectClose(await ctx.readF32(gated), keep((v, i) => v * sigmoid(g[i])), 'sigmoid gate', { rtol: 1e-6 });
      expectClose(await ctx.readF32(clamped), keep((v) => Math.min(7, Math.max(-7, v))), 'clamp', { rtol: 0, atol: 0 });
    });
  });
});
