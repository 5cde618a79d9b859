// x-half.wgsl (the f16 copy of x that matmul-hmma.wgsl loads its token matrices from) against
// f32ToF16: plain rows at an offset and stride, rows gathered by a problem order and divisor, and
// the zeroed padding rows. Runs everywhere (no f16 shader feature needed: the halves are packed in
// u32 words).

import { describe, it } from 'vitest';
import { f32ToF16 } from '../../format/dtypes.ts';
import { randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { xHalfRows } from './matmul-hmma.ts';

async function halves(rows: number, pad: number, cols: number, src: (i: number) => number, gathered: boolean): Promise<void> {
  const ctx = await testContext();
  const r = rng(rows * 7 + cols);
  const stride = cols + 8;
  const offset = 4;
  const srcRows = 40;
  const x = randArray(r, offset + srcRows * stride, -70000, 70000).map((v, i) => (i % 3 ? v / 1000 : v));
  const order = Uint32Array.from({ length: rows }, () => randInt(r, 0, 2 * srcRows - 1));
  const enc = ctx.encoder();
  const out = xHalfRows(enc, ctx.upload(x), offset, stride, cols, rows, pad, gathered ? { order: ctx.upload(order), div: 2 } : undefined);
  enc.submit();
  const got = new Uint16Array((await ctx.readU32(out)).buffer).slice(0, (rows + pad) * cols);
  ctx.pool.release(out);
  for (let i = 0; i < rows + pad; i++) {
    const row = i < rows ? (gathered ? Math.floor(order[i] / 2) : src(i)) : -1;
    for (let c = 0; c < cols; c++) {
      const want = row < 0 ? 0 : f32ToF16(x[offset + row * stride + c]);
      if (got[i * cols + c] !== want) throw new Error(`row ${i} col ${c}: got 0x${got[i * cols + c].toString(16)}, want 0x${want.toString(16)}`);
    }
  }
}

describe('x-half (f16 rows for the f16 subgroup-matrix products)', () => {
  it('copies rows at an offset and stride, rounding to nearest even (saturating at 65504), and zeroes the padding', () => halves(13, 3, 96, (i) => i, false));
  it('gathers rows by a problem order and divisor', () => halves(37, 16, 64, (i) => i, true));
});
