import { describe, it } from 'vitest';
import { expectClose, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { kvWrite } from './kv-cache.ts';

/** CPU twin: append token rows one by one into a ring of `cap` rows. */
function ringAppend(cache: Float32Array, rows: Float32Array, T: number, width: number, stride: number, off: number, pos0: number, cap: number): void {
  for (let t = 0; t < T; t++) cache.set(rows.subarray(off + t * stride, off + t * stride + width), ((pos0 + t) % cap) * width);
}

describe('kvWrite', () => {
  it('fixed case: three tokens into a ring of two', async () => {
    const ctx = await testContext();
    const kc = ctx.createBuffer(8);
    const vc = ctx.createBuffer(8);
    await ctx.scoped('kvWrite fixed', async () => {
      const enc = ctx.encoder();
      kvWrite(enc, { T: 3, width: 1, pos0: 0, capacity: 2, k: ctx.upload(new Float32Array([1, 2, 3])), v: ctx.upload(new Float32Array([4, 5, 6])), kCache: kc, vCache: vc });
      enc.submit();
      expectClose(await ctx.readF32(kc), [3, 2], 'k ring', { rtol: 0, atol: 0 });
      expectClose(await ctx.readF32(vc), [6, 5], 'v ring', { rtol: 0, atol: 0 });
    });
  });

  it('random chunks, strides and offsets, wrapping rings', async () => {
    const ctx = await testContext();
    const r = rng(21);
    const width = randInt(r, 1, 40);
    const cap = randInt(r, 2, 9);
    const kRef = new Float32Array(cap * width);
    const vRef = new Float32Array(cap * width);
    const kc = ctx.createBuffer(cap * width * 4);
    const vc = ctx.createBuffer(cap * width * 4);
    let pos0 = 0;
    for (let chunk = 0; chunk < 5; chunk++) {
      const T = randInt(r, 1, 2 * cap);
      const stride = width + randInt(r, 0, 4);
      const kOff = randInt(r, 0, 3);
      const vOff = randInt(r, 0, 3);
      const k = randArray(r, kOff + T * stride);
      const v = randArray(r, vOff + T * stride);
      ringAppend(kRef, k, T, width, stride, kOff, pos0, cap);
      ringAppend(vRef, v, T, width, stride, vOff, pos0, cap);
      await ctx.scoped('kvWrite random', async () => {
        const enc = ctx.encoder();
        kvWrite(enc, { T, width, pos0, capacity: cap, k: ctx.upload(k), kOffset: kOff, v: ctx.upload(v), vOffset: vOff, kvStride: stride, kCache: kc, vCache: vc });
        enc.submit();
        expectClose(await ctx.readF32(kc), kRef, `k after chunk ${chunk}`, { rtol: 0, atol: 0 });
        expectClose(await ctx.readF32(vc), vRef, `v after chunk ${chunk}`, { rtol: 0, atol: 0 });
      });
      pos0 += T;
    }
  });
});
