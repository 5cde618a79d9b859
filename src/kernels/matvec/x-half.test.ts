// x-half.wgsl (the f16 copy of x that matmul-hmma.wgsl loads its token matrices from, in 16 x 16
// blocks) against f32ToF16: rows at an offset and stride with zeroed rows past n, and the grouped
// experts' copy, tile by tile of a moe-plan.wgsl plan (problem p reading x row ORDER[p] / div).
// Runs everywhere (no f16 shader feature needed: the halves are packed in u32 words).

import { describe, it } from 'vitest';
import { f32ToF16 } from '../../format/dtypes.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { xHalfRows } from './matmul-hmma.ts';
import { moePlan, planWords } from './matmul-tiled.ts';

const NONE = -1;
const UNREAD = -2; // a row past the plan's tiles: the product never reads it, the copy may leave it

/** The copy's half at (row i, column c) in the blocked layout. */
const at = (cols: number, i: number, c: number) => (Math.floor(i / 16) * (cols / 16) + Math.floor(c / 16)) * 256 + (i % 16) * 16 + (c % 16);

async function check(ctx: GpuContext, out: GPUBuffer, rows: number, cols: number, x: Float32Array, offset: number, stride: number, src: (i: number) => number): Promise<void> {
  const got = new Uint16Array((await ctx.readU32(out)).buffer).slice(0, rows * cols);
  ctx.pool.release(out);
  for (let i = 0; i < rows; i++) {
    const row = src(i);
    if (row === UNREAD) continue;
    for (let c = 0; c < cols; c++) {
      const want = row === NONE ? 0 : f32ToF16(x[offset + row * stride + c]);
      const h = got[at(cols, i, c)];
      if (h !== want) throw new Error(`row ${i} col ${c}: got 0x${h.toString(16)}, want 0x${want.toString(16)}`);
    }
  }
}

describe('x-half (f16 blocks of x for the f16 subgroup-matrix products)', () => {
  it('copies rows at an offset and stride, rounding to nearest even (saturating at 65504), and zeroes rows past n', async () => {
    const ctx = await testContext();
    const r = rng(11);
    const [n, rows, cols, stride, offset] = [13, 32, 96, 104, 4];
    const x = randArray(r, offset + n * stride, -70000, 70000).map((v, i) => (i % 3 ? v / 1000 : v));
    const enc = ctx.encoder();
    const out = xHalfRows(enc, ctx.upload(x), offset, stride, cols, n, rows);
    enc.submit();
    await check(ctx, out, rows, cols, x, offset, stride, (i) => (i < n ? i : NONE));
  });

  it('lays out the grouped problems tile by tile of the plan, each reading x row ORDER[p] / div (short tiles zero-filled)', async () => {
    const ctx = await testContext();
    const r = rng(12);
    const [T, K, E, cols, bt] = [23, 2, 5, 64, 16];
    const n = T * K;
    const ids = Uint32Array.from({ length: n }, () => randInt(r, 0, E - 1));
    const x = randArray(r, T * cols, -4, 4);
    const plan = ctx.createBuffer(planWords(E, n, bt) * 4);
    const order = ctx.createBuffer(n * 4);
    const rows = (Math.ceil(n / bt) + E) * bt;
    const enc = ctx.encoder();
    moePlan(enc, { n, E, bt, ids: ctx.upload(ids), plan, order });
    const out = xHalfRows(enc, ctx.upload(x), 0, cols, cols, n, rows, { plan, order, experts: E, div: K, bt });
    enc.submit();
    const P = await ctx.readU32(plan);
    const O = await ctx.readU32(order);
    const src = (i: number) => {
      const tile = Math.floor(i / bt);
      if (tile >= P[2 * E + 1]) return UNREAD;
      const entry = P[2 * E + 2 + tile];
      const e = entry & 0xffff;
      const jt = (entry >>> 16) * bt + (i % bt);
      return jt < P[e] ? Math.floor(O[P[E + e] + jt] / K) : NONE;
    };
    let live = 0;
    for (let i = 0; i < rows; i++) live += +(src(i) >= 0);
    if (live !== n) throw new Error(`the plan's tiles hold ${live} problems, not ${n}`);
    await check(ctx, out, rows, cols, x, 0, cols, src);
  });
});
