// matvec / matmul over packed weights (f32, f16, q8, q4, mxfp4; layouts in quant-layout.ts).
// See matvec.wgsl for the math, bindings and dispatch geometry.

import { bindingSize, type BufferArg } from '../../gpu/encoder.ts';
import type { GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import { matrixBytes, type QuantKind } from '../../format/quant-layout.ts';
import code from './matvec.wgsl?raw';

const SRC = { label: 'matvec', code };
const KIND_ID: Record<QuantKind, number> = { f32: 0, f16: 1, q8: 2, q4: 3, mxfp4: 4 };
const WG = 64;

export interface MatvecArgs {
  kind: QuantKind;
  rows: number;
  cols: number;
  /** buffer holding the matrix (or an expert cache holding many) */
  w: BufferArg;
  /** byte offset of the matrix inside `w` (multiple of 4); with `slots`, added to each slot's offset */
  wOffset?: number;
  /** inputs (f32), (problems / xDiv, xStride) starting at element xOffset */
  x: BufferArg;
  xOffset?: number;
  /** elements between consecutive x rows (default cols) */
  xStride?: number;
  /** problem p reads x row floor(p / xDiv) (default 1; K for the gate/up of K experts per token) */
  xDiv?: number;
  /** outputs (f32), (problems, yStride) starting at element yOffset */
  y: BufferArg;
  yOffset?: number;
  yStride?: number;
  /** f32 bias of `rows` values at element `offset` of `buffer` (+ the slot offset when indirect) */
  bias?: { buffer: BufferArg; offset?: number };
  /** number of products (tokens, or token x expert pairs); default 1 */
  problems?: number;
  /**
   * Indirection for expert weights: problem p reads its matrix at word wOffset/4 + slots[offset + p]
   * (a u32 buffer of word offsets, written by the CPU after the cache lookup or by expertSlots).
   */
  slots?: { buffer: BufferArg; offset?: number };
  /** problems per thread (1 or 4); default 4 when problems > 1 and no slots */
  tile?: 1 | 4;
}

/** Record y = W x (+ b) for every problem into `enc` (one dispatch). */
export function matvec(enc: GpuEncoder, a: MatvecArgs): void {
  const name = `matvec(${a.kind})`;
  const problems = a.problems ?? 1;
  const xStride = a.xStride ?? a.cols;
  const xDiv = a.xDiv ?? 1;
  const yStride = a.yStride ?? a.rows;
  const xOffset = a.xOffset ?? 0;
  const yOffset = a.yOffset ?? 0;
  const wOffset = a.wOffset ?? 0;
  const tile = a.tile ?? (problems > 1 && !a.slots ? 4 : 1);
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError(name, msg);
  };
  check(KIND_ID[a.kind] !== undefined, `unknown quant kind "${a.kind}"`);
  for (const [k, v] of Object.entries({ rows: a.rows, cols: a.cols, problems, xStride, xDiv, yStride }))
    check(Number.isInteger(v) && v >= 1, `${k} must be a positive integer, got ${v}`);
  check(wOffset % 4 === 0, `wOffset ${wOffset} must be a multiple of 4 bytes`);
  check(xStride >= a.cols, `xStride ${xStride} < cols ${a.cols}`);
  check(yStride >= a.rows, `yStride ${yStride} < rows ${a.rows}`);
  check(tile === 1 || !a.slots, 'tile 4 needs all problems on one matrix (no slots)');
  if (!a.slots) check(bindingSize(a.w) >= wOffset + matrixBytes(a.kind, a.rows, a.cols), `W binding of ${bindingSize(a.w)} bytes is smaller than offset ${wOffset} + ${a.kind} ${a.rows}x${a.cols} = ${matrixBytes(a.kind, a.rows, a.cols)} bytes`);
  const xNeed = (xOffset + Math.floor((problems - 1) / xDiv) * xStride + a.cols) * 4;
  check(bindingSize(a.x) >= xNeed, `x binding of ${bindingSize(a.x)} bytes < ${xNeed} needed`);
  const yNeed = (yOffset + (problems - 1) * yStride + a.rows) * 4;
  check(bindingSize(a.y) >= yNeed, `y binding of ${bindingSize(a.y)} bytes < ${yNeed} needed`);
  if (a.bias && !a.slots) check(bindingSize(a.bias.buffer) >= ((a.bias.offset ?? 0) + a.rows) * 4, `bias binding smaller than ${a.rows} values`);
  if (a.slots) check(bindingSize(a.slots.buffer) >= ((a.slots.offset ?? 0) + problems) * 4, `slots binding smaller than ${problems} entries`);

  const kernel = enc.ctx.pipelines.get(SRC, 'main', { KIND: KIND_ID[a.kind], TILE: tile, WG });
  const params = new Params()
    .u32(a.rows)
    .u32(a.cols)
    .u32(problems)
    .u32(wOffset / 4)
    .u32(xOffset)
    .u32(xStride)
    .u32(xDiv)
    .u32(yOffset)
    .u32(yStride)
    .u32(a.bias?.offset ?? 0)
    .bool(!!a.bias)
    .bool(!!a.slots)
    .u32(a.slots?.offset ?? 0).buffer;
  const dummy = enc.ctx.dummy;
  enc.dispatch(kernel, params, [a.w, a.x, a.bias?.buffer ?? dummy, a.slots?.buffer ?? dummy, a.y], [Math.ceil(a.rows / WG), Math.ceil(problems / tile)]);
}

export interface MatmulArgs extends Omit<MatvecArgs, 'problems' | 'slots' | 'xDiv'> {
  /** tokens: x is (T, xStride), y is (T, yStride) */
  T: number;
}

/** Prefill: Y (T, rows) = X (T, cols) W^T (+ b), each decoded weight shared by 4 tokens. */
export function matmul(enc: GpuEncoder, a: MatmulArgs): void {
  matvec(enc, { ...a, problems: a.T });
}
