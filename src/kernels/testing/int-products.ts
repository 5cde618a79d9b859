// The reduced-precision prefill products' test cases: the integer ones (matmul-dp.wgsl and
// matmul-mma.wgsl take the same inputs and must give the same sums) and the f16 subgroup-matrix
// one (matmul-hmma.wgsl). Against the CPU reference: exactly (to f32 rounding) against W times x
// as the kernel sees them — x as its digit records hold it, read back from the GPU, or W and x
// rounded to f16 —, and within that precision against W times x itself. Dense (with bias and
// residual), q/k/v in one dispatch, and the grouped experts. Used by the kernels' tests and by the
// bench's device check of the subgroup-matrix kernels.

import { matvec as refMatvec } from '../../reference/ops.ts';
import { activate } from '../../reference/moe.ts';
import { dequantizeMatrix, quantizeMatrix } from '../../format/quant.ts';
import { f16ToF32, f32ToF16 } from '../../format/dtypes.ts';
import type { QuantKind } from '../../format/quant-layout.ts';
import type { ExpertActivation } from '../../format/spec.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { expectClose, expertArena, packAligned, randArray, randInt, randWeights, rng } from './harness.ts';
import { groupedDown, groupedGateUp, matmulTiled, matmulTiledQkv, matmulTuning, moePlan, planWords } from '../matvec/matmul-tiled.ts';
import { xDigitRows } from '../matvec/matvec.ts';

/** x rows as the first `digits` planes of their records hold them (x-digits.wgsl's layout). */
export async function digitX(ctx: GpuContext, x: GPUBuffer, xOffset: number, rows: number, cols: number, digits: number): Promise<Float32Array> {
  const enc = ctx.encoder();
  const xd = xDigitRows(enc, x, xOffset, cols, cols, rows);
  enc.submit();
  const rec = await ctx.readU32(xd);
  ctx.pool.release(xd);
  const f = new Float32Array(rec.buffer, rec.byteOffset, rec.length);
  const out = new Float32Array(rows * cols);
  const G = cols / 32;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < G; g++) {
      const base = (r * G + g) * 28;
      const s = f[base + 24];
      for (let e = 0; e < 32; e++) {
        const j = (e >> 3) & 3;
        const b = (e & 7) >> 1;
        let v = 0;
        for (let k = 0; k < digits; k++) {
          const word = rec[base + 8 * k + 4 * (e & 1) + j];
          v += ((((word >>> (8 * b)) & 0xff) << 24) >> 24) * 2 ** (16 - 8 * k);
        }
        out[r * cols + g * 32 + e] = s * v;
      }
    }
  }
  return out;
}

/** How a kernel sees x (and W): its first 1 or 2 digit planes, or both rounded to f16. */
export type Precision = 1 | 2 | 'f16';

const half = (v: Float32Array) => v.map((a) => f16ToF32(f32ToF16(a)));

/** x rows as a kernel of precision `p` multiplies them. */
async function xAs(ctx: GpuContext, x: GPUBuffer, xOffset: number, rows: number, cols: number, p: Precision): Promise<Float32Array> {
  if (p !== 'f16') return digitX(ctx, x, xOffset, rows, cols, p);
  return half((await ctx.readF32(x)).slice(xOffset, xOffset + rows * cols));
}

/** W as a kernel of precision `p` multiplies it. */
const wAs = (W: Float32Array, p: Precision) => (p === 'f16' ? half(W) : W);

function rowsOf(W: Float32Array, x: Float32Array, T: number, rows: number, cols: number, bias?: Float32Array): Float32Array {
  const y = new Float32Array(T * rows);
  for (let t = 0; t < T; t++) y.set(refMatvec(W, x.subarray(t * cols, (t + 1) * cols), rows, cols, bias), t * rows);
  return y;
}

// precision of x at 1 and 2 digit planes and of x and W in f16, relative to the largest output
export const LOOSE = { 1: { rtol: 2e-2, atol: 1e-5 }, 2: { rtol: 2e-4, atol: 1e-6 }, f16: { rtol: 4e-3, atol: 1e-5 } };
export const EXACT = { rtol: 2e-5, atol: 1e-6 };

/** [kind, digit planes, tile tokens] of the subgroup-matrix kernel's dense and grouped cases (every tile size: 16, 32, 64). */
export const MMA_CASES = {
  dense: [['q8', 2, 64], ['q4', 1, 16], ['mxfp4', 2, 16], ['q4', 2, 32], ['mxfp4', 1, 64], ['q8', 1, 32], ['q4', 2, 64]],
  grouped: [['mxfp4', 2, 32], ['q4', 1, 16], ['q8', 2, 64], ['q4', 1, 64], ['mxfp4', 1, 32]],
} as { dense: [QuantKind, 1 | 2, number][]; grouped: [QuantKind, 1 | 2, number][] };

/**
 * [kind, tile tokens, weight scale, weight offset in words] of the f16 subgroup-matrix kernel's
 * dense and grouped cases (mxfp4 at 2^-20: group scales far below f16's normal range; an offset
 * of one word: weights off the 16-byte grid of the engine's buffers).
 */
export const HMMA_CASES = {
  dense: [['q8', 64, 1, 0], ['q4', 16, 1, 0], ['mxfp4', 16, 1, 0], ['q4', 32, 1, 1], ['mxfp4', 64, 1, 0], ['q8', 32, 1, 1], ['mxfp4', 32, 2 ** -20, 0]],
  grouped: [['mxfp4', 32], ['q4', 16], ['q8', 64], ['mxfp4', 64]],
} as { dense: [QuantKind, number, number, number][]; grouped: [QuantKind, number][] };

const seedOf = (p: Precision) => (p === 'f16' ? 3 : p);

/** Dense product with bias and residual at random T, rows and offsets, tiles of bt tokens. */
export async function denseCase(ctx: GpuContext, kind: QuantKind, digits: Precision, bt: number, wScale = 1, wWords = 0): Promise<void> {
  const r = rng(700 + kind.length * 13 + seedOf(digits) * 5 + bt);
  const rows = randInt(r, 1, 150);
  const cols = 32 * randInt(r, 2, 5);
  const T = randInt(r, bt / 2 + 1, bt + 40);
  const bytes = quantizeMatrix(kind, randWeights(r, rows * cols).map((v) => v * wScale), rows, cols);
  const W = wAs(dequantizeMatrix(kind, bytes, rows, cols), digits);
  const xs = randArray(r, 4 + T * cols, -3, 3);
  const bias = randArray(r, rows).map((v) => v * wScale);
  const y0 = randArray(r, T * rows).map((v) => v * wScale);
  const saved = matmulTuning.bt;
  try {
    matmulTuning.bt = bt;
    const x = ctx.upload(xs);
    const xq = await xAs(ctx, x, 4, T, cols, digits);
    const y = ctx.upload(y0);
    const enc = ctx.encoder();
    const w = new Uint8Array(4 * wWords + bytes.length);
    w.set(bytes, 4 * wWords);
    matmulTiled(enc, { kind, rows, cols, T, w: ctx.upload(w), wOffset: 4 * wWords, x, xOffset: 4, y, bias: { buffer: ctx.upload(bias) }, residual: { alpha: 0.5, beta: 2 } });
    enc.submit();
    const got = await ctx.readF32(y);
    const mix = (v: Float32Array) => v.map((p, i) => 0.5 * y0[i] + 2 * p);
    // bias, residual and atol scale with the weights
    const tol = (t: { rtol: number; atol: number }) => ({ rtol: t.rtol, atol: t.atol * wScale });
    expectClose(got, mix(rowsOf(W, xq, T, rows, cols, bias)), `${kind} D=${digits} bt=${bt} vs the digit records`, tol(EXACT));
    expectClose(got, mix(rowsOf(W, xs.subarray(4), T, rows, cols, bias)), `${kind} D=${digits} bt=${bt} vs x`, tol(LOOSE[digits]));
  } finally {
    matmulTuning.bt = saved;
  }
}

/** q, k, v in one dispatch (q8; 2 planes, or f16) equal three products. */
export async function qkvCase(ctx: GpuContext, p: Precision = 2): Promise<void> {
  const r = rng(77);
  const cols = 96;
  const rows: [number, number, number] = [150, 40, 24];
  const T = randInt(r, 5, 70);
  const packed = rows.map((n) => quantizeMatrix('q8', randWeights(r, n * cols), n, cols));
  const { all, offsets } = packAligned(packed);
  const bAll = randArray(r, rows[0] + rows[1] + rows[2]);
  const bOffsets: [number, number, number] = [0, rows[0], rows[0] + rows[1]];
  const x = ctx.upload(randArray(r, T * cols));
  const xq = await xAs(ctx, x, 0, T, cols, p);
  const ys = rows.map((n) => ctx.createBuffer(T * n * 4)) as [GPUBuffer, GPUBuffer, GPUBuffer];
  const enc = ctx.encoder();
  matmulTiledQkv(enc, { kind: 'q8', cols, T, w: ctx.upload(all), wOffsets: offsets as [number, number, number], rows, x, ys, bias: { buffer: ctx.upload(bAll), offsets: bOffsets } });
  enc.submit();
  for (let m = 0; m < 3; m++) {
    const W = wAs(dequantizeMatrix('q8', packed[m], rows[m], cols), p);
    const want = rowsOf(W, xq, T, rows[m], cols, bAll.subarray(bOffsets[m], bOffsets[m] + rows[m]));
    expectClose(await ctx.readF32(ys[m]), want, `matrix ${m}`, EXACT);
  }
}

const ACT: ExpertActivation = { kind: 'clamped_swiglu', alpha: 1.702, limit: 7 };

/**
 * Grouped experts (biases, clamped SwiGLU): gate_up and down against the reference, as a chunk
 * of a longer prefill (its tokens, problems, slots and outputs after those of C0 earlier tokens,
 * whose outputs must stay untouched).
 */
export async function groupedCase(ctx: GpuContext, kind: QuantKind, digits: Precision, bt: number): Promise<void> {
  const r = rng(kind.length * 29 + bt + seedOf(digits));
  const [D, I, E, K, T] = [64, 96, 5, 2, 37];
  const { layout, slotOf, cache, mats: exact } = expertArena(r, kind, D, I, true);
  const mats = exact.map((m) => ({ ...m, g: wAs(m.g, digits), u: wAs(m.u, digits), d: wAs(m.d, digits) }));
  const ids = new Uint32Array(T * K);
  for (let t = 0; t < T; t++) {
    const a = r() < 0.6 ? 1 : randInt(r, 0, E - 1);
    ids.set([a, (a + randInt(r, 1, E - 1)) % E], t * K);
  }
  const n = T * K;
  const [C0, P0] = [3, 3 * K]; // the chunk starts at token C0, problem P0
  const before = (v: ArrayLike<number>, pad: number, fill: number) => {
    const out = new (v instanceof Uint32Array ? Uint32Array : Float32Array)(pad + v.length).fill(fill);
    out.set(v, pad);
    return out;
  };
  const x = ctx.upload(before(randArray(r, T * D, -2, 2), C0 * D, 7));
  const xq = await xAs(ctx, x, C0 * D, T, D, digits);
  const arena = ctx.upload(cache);
  const allIds = before(ids, P0, 0) as Uint32Array;
  const slots = ctx.upload(Uint32Array.from(allIds, (e) => (slotOf[e] * layout.bytes) / 4));
  const plan = ctx.createBuffer(planWords(E, n, bt) * 4);
  const order = ctx.createBuffer(n * 4);
  const ea = ctx.createBuffer((P0 + n) * I * 4);
  const ey = ctx.createBuffer((P0 + n) * D * 4);
  const enc = ctx.encoder();
  moePlan(enc, { n, E, bt, ids: ctx.upload(allIds), idsOffset: P0, plan, order });
  const common = { layout, n, K, E, bt, plan, order, arena, slots, slotsOffset: P0 };
  groupedGateUp(enc, { ...common, activation: ACT, x, xOffset: C0 * D, out: ea, outOffset: P0 * I });
  groupedDown(enc, { ...common, x: ea, xOffset: P0 * I, out: ey, outOffset: P0 * D });
  enc.submit();
  const untouched = (v: Float32Array, what: string) => {
    if (v.some((a) => a !== 0)) throw new Error(`${what} wrote before its chunk`);
  };
  const wantA = new Float32Array(n * I);
  for (let p = 0; p < n; p++) {
    const m = mats[ids[p]];
    const xt = xq.subarray(Math.floor(p / K) * D, (Math.floor(p / K) + 1) * D);
    const g = refMatvec(m.g, xt, I, D, m.bg);
    const u = refMatvec(m.u, xt, I, D, m.bu);
    wantA.set(Float32Array.from(g, (gv, i) => activate(ACT, gv, u[i])), p * I);
  }
  const gotA = await ctx.readF32(ea);
  untouched(gotA.subarray(0, P0 * I), 'gate_up');
  expectClose(gotA.subarray(P0 * I), wantA, `gate_up ${kind}`, EXACT);
  // down's input is the GPU's gate_up output, as the kernel sees it
  const aq = await xAs(ctx, ea, P0 * I, n, I, digits);
  const wantY = new Float32Array(n * D);
  for (let p = 0; p < n; p++) wantY.set(refMatvec(mats[ids[p]].d, aq.subarray(p * I, (p + 1) * I), D, I, mats[ids[p]].bd), p * D);
  const gotY = await ctx.readF32(ey);
  untouched(gotY.subarray(0, P0 * D), 'down');
  expectClose(gotY.subarray(P0 * D), wantY, `down ${kind}`, EXACT);
}
