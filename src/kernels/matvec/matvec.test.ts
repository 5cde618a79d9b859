import { describe, it } from 'vitest';
import { matvec as refMatvec } from '../../reference/ops.ts';
import { dequantizeMatrix, quantizeMatrix } from '../../format/quant.ts';
import { QUANT_KINDS, alignUp, matrixBytes, type QuantKind } from '../../format/quant-layout.ts';
import { expectClose, expectThrows, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { matmul, matvec } from './matvec.ts';

/** Reference (problems, rows) for x (problems, cols) against the dequantized matrix. */
function reference(kind: QuantKind, bytes: Uint8Array, rows: number, cols: number, xs: Float32Array, n: number, bias?: Float32Array): Float32Array {
  const W = dequantizeMatrix(kind, bytes, rows, cols); // (rows, cols)
  const out = new Float32Array(n * rows); // (n, rows)
  for (let p = 0; p < n; p++) out.set(refMatvec(W, xs.subarray(p * cols, (p + 1) * cols), rows, cols, bias), p * rows);
  return out;
}

describe('matvec', () => {
  it('fixed case: 2x3 f32 with bias', async () => {
    const ctx = await testContext();
    const w = ctx.upload(new Float32Array([1, 2, 3, -1, 0.5, 4]));
    const x = ctx.upload(new Float32Array([2, -1, 0.25]));
    const b = ctx.upload(new Float32Array([10, -10]));
    const y = ctx.createBuffer(8);
    await ctx.scoped('matvec fixed', async () => {
      const enc = ctx.encoder();
      matvec(enc, { kind: 'f32', rows: 2, cols: 3, w, x, y, bias: { buffer: b } });
      enc.submit();
      // [2 - 2 + 0.75 + 10, -2 - 0.5 + 1 - 10]
      expectClose(await ctx.readF32(y), [10.75, -11.5], 'y', { rtol: 0, atol: 1e-6 });
    });
  });

  for (const kind of QUANT_KINDS) {
    it(`${kind}: random shapes, single problem, optional bias and offsets`, async () => {
      const ctx = await testContext();
      const r = rng(1000 + kind.length * 17 + kind.charCodeAt(1));
      for (let trial = 0; trial < 4; trial++) {
        const rows = randInt(r, 1, 160);
        const cols = trial === 0 ? 256 : randInt(r, 1, 200);
        const wOffset = trial % 2 ? 256 * randInt(r, 1, 3) : 0;
        const bytes = quantizeMatrix(kind, randArray(r, rows * cols), rows, cols);
        const wAll = new Uint8Array(wOffset + bytes.length);
        wAll.set(bytes, wOffset);
        const x = randArray(r, cols);
        const bias = trial % 2 ? undefined : randArray(r, rows);
        const yOffset = trial;
        const y = ctx.createBuffer((yOffset + rows) * 4);
        await ctx.scoped(`matvec ${kind}`, async () => {
          const enc = ctx.encoder();
          matvec(enc, { kind, rows, cols, w: ctx.upload(wAll), wOffset, x: ctx.upload(x), y, yOffset, bias: bias && { buffer: ctx.upload(bias) } });
          enc.submit();
          const got = (await ctx.readF32(y)).subarray(yOffset);
          expectClose(got, reference(kind, bytes, rows, cols, x, 1, bias), `${kind} ${rows}x${cols}`);
        });
      }
    });

    it(`${kind}: matmul over T tokens (tile 4 and tile 1 agree with the reference)`, async () => {
      const ctx = await testContext();
      const r = rng(2000 + kind.charCodeAt(0) + kind.length);
      const rows = randInt(r, 8, 96);
      const cols = randInt(r, 33, 130);
      const T = randInt(r, 5, 11);
      const bytes = quantizeMatrix(kind, randArray(r, rows * cols), rows, cols);
      const xs = randArray(r, T * cols);
      const bias = randArray(r, rows);
      const expect = reference(kind, bytes, rows, cols, xs, T, bias);
      const w = ctx.upload(bytes);
      const x = ctx.upload(xs);
      const bb = ctx.upload(bias);
      for (const tile of [4, 1] as const) {
        const y = ctx.createBuffer(T * rows * 4);
        await ctx.scoped(`matmul ${kind} tile ${tile}`, async () => {
          const enc = ctx.encoder();
          matmul(enc, { kind, rows, cols, T, w, x, y, bias: { buffer: bb }, tile });
          enc.submit();
          expectClose(await ctx.readF32(y), expect, `${kind} T=${T} ${rows}x${cols} tile ${tile}`);
        });
      }
    });
  }

  it('expert indirection: (token, expert) problems read matrices and biases from cache slots', async () => {
    const ctx = await testContext();
    const r = rng(77);
    const kind: QuantKind = 'q4';
    const rows = 24; // I
    const cols = 40; // D
    const E = 5;
    const T = 3;
    const K = 2;
    // one blob per expert: matrix then f32 bias (at an aligned offset), blobs in slots of a cache
    const mBytes = matrixBytes(kind, rows, cols);
    const biasOff = alignUp(mBytes);
    const blob = alignUp(biasOff + rows * 4);
    const slotOfExpert = [3, 0, 4, 1, 2]; // expert e lives in slot slotOfExpert[e]
    const cache = new Uint8Array(blob * E);
    const mats: Uint8Array[] = [];
    const biases: Float32Array[] = [];
    for (let e = 0; e < E; e++) {
      mats.push(quantizeMatrix(kind, randArray(r, rows * cols), rows, cols));
      biases.push(randArray(r, rows));
      cache.set(mats[e], slotOfExpert[e] * blob);
      cache.set(new Uint8Array(biases[e].buffer), slotOfExpert[e] * blob + biasOff);
    }
    const xs = randArray(r, T * cols); // (T, D)
    const chosen = [4, 1, 0, 4, 2, 3]; // (T, K)
    const slots = Uint32Array.from(chosen, (e) => (slotOfExpert[e] * blob) / 4);
    const expect = new Float32Array(T * K * rows);
    for (let p = 0; p < T * K; p++) {
      const t = Math.floor(p / K);
      const e = chosen[p];
      expect.set(reference(kind, mats[e], rows, cols, xs.subarray(t * cols, (t + 1) * cols), 1, biases[e]), p * rows);
    }
    const cacheBuf = ctx.upload(cache);
    const y = ctx.createBuffer(T * K * rows * 4);
    await ctx.scoped('matvec indirect', async () => {
      const enc = ctx.encoder();
      matvec(enc, {
        kind, rows, cols, problems: T * K, xDiv: K,
        w: cacheBuf, x: ctx.upload(xs), y,
        bias: { buffer: cacheBuf, offset: biasOff / 4 },
        slots: { buffer: ctx.upload(slots) },
      });
      enc.submit();
      expectClose(await ctx.readF32(y), expect, 'indirect experts');
    });
  });

  it('rejects shapes that do not fit the buffers', async () => {
    const ctx = await testContext();
    const enc = ctx.encoder();
    const w = ctx.createBuffer(64);
    const x = ctx.createBuffer(64);
    const y = ctx.createBuffer(64);
    await expectThrows(() => matvec(enc, { kind: 'f32', rows: 4, cols: 8, w, x, y }), /KernelShapeError.*W binding/, 'small W');
    await expectThrows(() => matvec(enc, { kind: 'q4', rows: 4, cols: 0, w, x, y }), /cols must be a positive integer/, 'zero cols');
    await expectThrows(() => matvec(enc, { kind: 'f32', rows: 1, cols: 4, w, x, y, problems: 2, slots: { buffer: x }, tile: 4 }), /tile 4/, 'tile with slots');
  });
});
