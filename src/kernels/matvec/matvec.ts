// matvec / matmul over packed weights (f32, f16, q8, q4, mxfp4; layouts in quant-layout.ts).
// See matvec.wgsl for the math, bindings and dispatch geometry.
//
// Variants: matvec.wgsl (one thread per row; every adapter) and matvec-fast.wgsl (a subgroup team
// per row block, vec4 loads; adapters with `subgroups`, 32-column-aligned shapes). `variant:
// 'auto'` picks the fast one when it applies; `fastMatvecPlan` says whether it does.

import { bindingSize, bufferOf, type BufferArg } from '../../gpu/encoder.ts';
import type { GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import { matrixBytes, type QuantKind } from '../../format/quant-layout.ts';
import { residual } from '../residual/residual.ts';
import { rmsnorm } from '../rmsnorm/rmsnorm.ts';
import type { GpuContext } from '../../gpu/device.ts';
import type { Kernel } from '../../gpu/pipelines.ts';
import code from './matvec.wgsl?raw';
import fastCode from './matvec-fast.wgsl?raw';
import sxCode from './matvec-sx.wgsl?raw';
import wideCode from './matvec-wide.wgsl?raw';
import wideExpertsCode from './matvec-wide-experts.wgsl?raw';
import chooseCode from '../router/route-choose.wgsl?raw';
import chooseSgCode from '../router/route-choose-sg.wgsl?raw';
import dpCode from './matvec-dp.wgsl?raw';
import digitsCode from './x-digits.wgsl?raw';
import decodersCode from './decoders.wgsl?raw';
import { decoder, fastMatvecPlan, fastTeamSize, geometryFor, ktTeams, matvecTuning, stagedFloats, teamOf, type FastGeometry, type FastShape } from './matvec-geometry.ts';
export { fastMatvecPlan, matvecTuning, type FastGeometry, type FastShape } from './matvec-geometry.ts';

const SRC = { label: 'matvec', code };
// the three fast designs share decoders.wgsl's number formats (appended: WGSL has no includes)
const FAST_SRC = { label: 'matvec-fast', code: fastCode + decodersCode };
const SX_SRC = { label: 'matvec-sx', code: sxCode + decodersCode };
// gate_up_routed makes route-fast's choice itself (route-choose-sg.wgsl on route-choose.wgsl's config, appended as well)
const WIDE_SRC = { label: 'matvec-wide', code: wideCode + wideExpertsCode + chooseCode + chooseSgCode + decodersCode };
const DP_SRC = { label: 'matvec-dp', code: dpCode };
const DIGITS_SRC = { label: 'x-digits', code: digitsCode };
export const KIND_ID: Record<QuantKind, number> = { f32: 0, f16: 1, q8: 2, q4: 3, mxfp4: 4 };
const WG = 64;

export type MatvecVariant = 'auto' | 'simple' | 'fast';

const sinks = new WeakMap<GpuContext, GPUBuffer>();

/** A matrix small enough (<= 4 MiB) that per-token re-reads stay in L2: 'auto' runs it per token for any token count. */
export function fitsL2(kind: QuantKind, rows: number, cols: number): boolean {
  return matrixBytes(kind, rows, cols) <= 4 << 20;
}

/** A 256-byte buffer for read_write bindings a dispatch does not use (the shared dummy is bound read-only). */
export function writeSink(ctx: GpuContext): GPUBuffer {
  let b = sinks.get(ctx);
  if (!b) sinks.set(ctx, (b = ctx.createBuffer(256, GPUBufferUsage.STORAGE, 'write-sink')));
  return b;
}

/**
 * The fast variant's pipeline for `kind` and entry point (mv, gate_up, down_sum) on this device,
 * and the rows one of its workgroups covers (grid x = ceil(rows / rowsPerGroup)).
 * `vec4Tail`: the weight binding extends to a 16-byte boundary past the matrix (the shared-x
 * design reads it as vec4; a binding cut short would clamp its last words), else 'unit' is used.
 */
export function fastKernel(
  ctx: GpuContext,
  kind: QuantKind,
  entry: 'mv' | 'gate_up' | 'down_sum',
  sh: FastShape,
  norm = false,
  vec4Tail = true,
  g = geometryFor(ctx, kind, sh, entry),
  routed?: { RC_E: number; RC_K: number },
): { kernel: Kernel; rowsPerGroup: number } {
  const tpr = teamOf(ctx, g);
  const rowsPerGroup = (g.wg / tpr) * g.rpt;
  const dq = decoder(ctx, kind, g.dq);
  const kt = ktTeams(ctx, entry, g, sh);
  if (kt) {
    const kernel = ctx.pipelines.get(WIDE_SRC, entry, { KIND: KIND_ID[kind], WG: kt * tpr, TPR: tpr, RPT: g.rpt, DQ: dq, PF: g.pf ?? 0, NORM: 0, KX: 0, GU: 0, KT: kt });
    return { kernel, rowsPerGroup: g.rpt };
  }
  if (g.design === 'wide' || g.design === 'dp') {
    const kx = entry === 'down_sum' && g.kx === 1 && (sh.mats ?? 1) <= 16 ? (sh.mats ?? 1) : 0;
    const gu = entry === 'gate_up' && g.gu === 1 && g.rpt % 2 === 0 ? 1 : 0;
    const name = routed && entry === 'gate_up' ? 'gate_up_routed' : entry;
    const kernel = ctx.pipelines.get(WIDE_SRC, name, { KIND: KIND_ID[kind], WG: g.wg, TPR: tpr, RPT: g.rpt, DQ: dq, PF: g.pf ?? 0, NORM: +norm, KX: kx, GU: gu, ...(routed && entry === 'gate_up' ? routed : {}) });
    return { kernel, rowsPerGroup: gu ? rowsPerGroup / 2 : rowsPerGroup };
  }
  if (routed) throw new KernelShapeError('fastKernel', `the routed gate + up needs the wide design, the geometry is ${g.design}`);
  if (g.design === 'sx' && vec4Tail)
    return { kernel: ctx.pipelines.get(SX_SRC, entry, { KIND: KIND_ID[kind], WG: g.wg, TPR: tpr, RPT: g.rpt, DQ: dq, NORM: +norm, XC: g.xc ?? stagedFloats(ctx) }), rowsPerGroup };
  return { kernel: ctx.pipelines.get(FAST_SRC, entry, { KIND: KIND_ID[kind], WG: g.wg, TPR: tpr, RPT: g.rpt, DQ: dq, UNR: g.unr, NORM: +norm }), rowsPerGroup };
}

/** The fast variant's Params struct (matvec-fast.wgsl), unset fields 0 (alpha, beta: 1). */
export interface FastParams {
  rows: number; cols: number; problems: number; w_offset: number; x_offset: number; x_stride: number;
  x_div: number; y_offset: number; y_stride: number; b_offset: number; has_bias: number; indirect: number;
  slot_offset: number; res_mode: number; alpha: number; beta: number; h_offset: number; w2_offset: number;
  b2_offset: number; k_experts: number; wts_offset: number; act: number; act_alpha: number; act_limit: number;
  nw_offset: number; norm_eps: number; write_h: number; hout_offset: number; seg: number; seg_offset: number;
  /** gate_up_routed: experts, flags (1 softmax, 2 top-k logits, 4 renormalize, 8 selection bias), scaling, logits and ids / weights / slots offsets */
  r_experts: number; r_flags: number; r_scaling: number; r_l_offset: number; r_out_offset: number;
}

const FAST_FIELDS: (keyof FastParams)[] = [
  'rows', 'cols', 'problems', 'w_offset', 'x_offset', 'x_stride', 'x_div', 'y_offset', 'y_stride', 'b_offset',
  'has_bias', 'indirect', 'slot_offset', 'res_mode', 'alpha', 'beta', 'h_offset', 'w2_offset', 'b2_offset',
  'k_experts', 'wts_offset', 'act', 'act_alpha', 'act_limit', 'nw_offset', 'norm_eps', 'write_h', 'hout_offset', 'seg', 'seg_offset',
  'r_experts', 'r_flags', 'r_scaling', 'r_l_offset', 'r_out_offset',
];
const FAST_FLOATS = new Set<keyof FastParams>(['alpha', 'beta', 'act_alpha', 'act_limit', 'norm_eps', 'r_scaling']);

export function packFastParams(v: Partial<FastParams>): ArrayBuffer {
  const p = new Params();
  for (const f of FAST_FIELDS) {
    if (FAST_FLOATS.has(f)) p.f32(v[f] ?? (f === 'alpha' || f === 'beta' ? 1 : 0));
    else p.u32(v[f] ?? 0);
  }
  return p.buffer;
}

/** RMSNorm applied to x before the product: W (w_norm * x / rms(x)); `out` also receives the normed x. */
export interface MatvecNorm {
  /** (cols) f32 weights */
  w: BufferArg;
  eps: number;
  /** where to write the normed x rows (problems / xDiv, cols), contiguous */
  out?: { buffer: BufferArg; offset?: number };
}

/** Residual epilogue: y = alpha * (from ?? y) + beta * (W x + b). */
export interface MatvecResidual {
  alpha?: number;
  beta?: number;
  /** post-norm: the normed input (same layout as y) replaces y on the left */
  from?: BufferArg;
  fromOffset?: number;
}

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
  /** problems per thread (1 or 4); default 4 when problems > 1 and no slots (simple variant) */
  tile?: 1 | 4;
  /** kernel variant (default 'auto': fast when it applies and problems are few or indirect) */
  variant?: MatvecVariant;
  /** add into y instead of overwriting it (y must be contiguous: yStride = rows) */
  residual?: MatvecResidual;
  /** normalize x first (fused into the product on the fast variant) */
  norm?: MatvecNorm;
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

  if (a.residual) check(yStride === a.rows, 'residual needs yStride = rows');
  const variant = a.variant ?? 'auto';
  const fastOk = fastMatvecPlan(enc.ctx, { cols: a.cols, wOffset, xOffset, xStride });
  if (variant === 'fast') check(fastOk, 'fast variant needs subgroups, cols % 32 == 0 and xOffset, xStride % 4 == 0');
  // many problems: the simple kernel's 4-token tiles reuse each weight 4 times, unless the matrix
  // is small enough to stay in L2 across problems (routers in prefill: 32-256 rows)
  const useFast = variant === 'fast' || (variant === 'auto' && fastOk && (!!a.slots || problems <= 8 || fitsL2(a.kind, a.rows, a.cols)));
  const dummy = enc.ctx.dummy;
  const nx = Math.ceil(problems / xDiv); // x rows
  if (a.norm) check(xStride === a.cols && !a.slots, 'norm needs contiguous x rows (xStride = cols) and no slots');
  if (a.norm && !useFast) {
    // simple variant: rmsnorm into the requested (or a scratch) buffer, then the product
    const out = a.norm.out ?? { buffer: enc.ctx.pool.acquire(nx * a.cols * 4, GPUBufferUsage.STORAGE, 'matvec-norm'), offset: 0 };
    rmsnorm(enc, { T: nx, n: a.cols, eps: a.norm.eps, x: a.x, xOffset, y: out.buffer, yOffset: out.offset ?? 0, w: a.norm.w, variant: variant === 'simple' ? 'simple' : 'auto' });
    matvec(enc, { ...a, x: out.buffer, xOffset: out.offset ?? 0, norm: undefined });
    if (!a.norm.out) enc.ctx.pool.release(bufferOf(out.buffer)); // only live between the two dispatches above
    return;
  }
  if (useFast) {
    const tail = !!a.slots || bindingSize(a.w) >= Math.ceil((wOffset + matrixBytes(a.kind, a.rows, a.cols)) / 16) * 16;
    const shape = { rows: a.rows, cols: a.cols, problems };
    const g = geometryFor(enc.ctx, a.kind, shape);
    if (g.design === 'dp' && a.kind === 'q4' && !a.slots && tail && enc.ctx.caps.packedDot) return matvecDp(enc, a, g, problems, xStride, xDiv);
    const r = a.residual;
    const params = packFastParams({
      rows: a.rows, cols: a.cols, problems, w_offset: wOffset / 4, x_offset: xOffset, x_stride: xStride, x_div: xDiv,
      y_offset: yOffset, y_stride: yStride, b_offset: a.bias?.offset ?? 0, has_bias: +!!a.bias, indirect: +!!a.slots,
      slot_offset: a.slots?.offset ?? 0, res_mode: r ? (r.from ? 2 : 1) : 0, alpha: r?.alpha ?? 1, beta: r?.beta ?? 1,
      h_offset: r?.fromOffset ?? yOffset,
      norm_eps: a.norm?.eps ?? 0, write_h: +!!a.norm?.out, hout_offset: a.norm?.out?.offset ?? 0,
    });
    const { kernel, rowsPerGroup } = fastKernel(enc.ctx, a.kind, 'mv', shape, !!a.norm, tail, g);
    const buffers = [a.w, a.x, a.bias?.buffer ?? dummy, a.slots?.buffer ?? dummy, a.y, r?.from ?? dummy, null, a.norm?.w ?? dummy, a.norm?.out?.buffer ?? writeSink(enc.ctx)];
    enc.dispatch(kernel, params, buffers, [Math.ceil(a.rows / rowsPerGroup), problems]);
    return;
  }
  if (a.residual) {
    // simple variant: the product into a scratch buffer, then the residual kernel
    const n = problems * a.rows;
    const scratch = enc.ctx.pool.acquire(n * 4, GPUBufferUsage.STORAGE, 'matvec-residual');
    matvec(enc, { ...a, y: scratch, yOffset: 0, yStride: a.rows, residual: undefined, variant: 'simple' });
    residual(enc, { n, x: a.y, xOffset: yOffset, sub: scratch, normed: a.residual.from, normedOffset: a.residual.fromOffset ?? yOffset, alpha: a.residual.alpha, beta: a.residual.beta });
    enc.ctx.pool.release(scratch); // only live between the two dispatches above
    return;
  }
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
  enc.dispatch(kernel, params, [a.w, a.x, a.bias?.buffer ?? dummy, a.slots?.buffer ?? dummy, a.y], [Math.ceil(a.rows / WG), Math.ceil(problems / tile)]);
}

/** Matrices of one kind and width in one buffer, multiplied by the same x (q, k, v of a layer). */
export interface MatvecSegmentsArgs {
  kind: QuantKind;
  cols: number;
  /** the buffer holding every matrix */
  w: BufferArg;
  /** per matrix: word offset inside w, rows, output offset in y and bias offset in bias (elements) */
  mats: { wOffset: number; rows: number; yOffset: number; biasOffset: number }[];
  /** `mats` as 4 u32 per matrix on the GPU, at entry `offset` */
  table: { buffer: BufferArg; offset?: number };
  x: BufferArg;
  xOffset?: number;
  y: BufferArg;
  bias?: BufferArg;
  norm?: MatvecNorm;
  variant?: MatvecVariant;
}

/** y[yOffset_m + r] = W_m[r, :] . x (+ b) for every matrix m: one dispatch on the fast variant, else one per matrix. */
export function matvecSegments(enc: GpuEncoder, a: MatvecSegmentsArgs): void {
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('matvecSegments', msg);
  };
  const n = a.mats.length;
  const xOffset = a.xOffset ?? 0;
  check(n >= 1 && a.mats.every((m) => Number.isInteger(m.rows) && m.rows >= 1 && m.wOffset >= 0), 'needs matrices with rows >= 1');
  check(bindingSize(a.table.buffer) >= ((a.table.offset ?? 0) + 4 * n) * 4, `table smaller than ${n} entries`);
  for (const m of a.mats) {
    check(bindingSize(a.w) >= m.wOffset * 4 + matrixBytes(a.kind, m.rows, a.cols), `matrix at word ${m.wOffset} past the end of w`);
    check(bindingSize(a.y) >= (m.yOffset + m.rows) * 4, 'y binding too small');
    if (a.bias) check(bindingSize(a.bias) >= (m.biasOffset + m.rows) * 4, 'bias binding too small');
  }
  check(bindingSize(a.x) >= (xOffset + a.cols) * 4, 'x binding too small');
  const variant = a.variant ?? 'auto';
  const fast = variant !== 'simple' && fastMatvecPlan(enc.ctx, { cols: a.cols, xOffset }) && a.mats.every((m) => m.wOffset % 4 === 0);
  if (!fast) {
    a.mats.forEach((m, i) =>
      matvec(enc, {
        kind: a.kind, rows: m.rows, cols: a.cols, w: a.w, wOffset: m.wOffset * 4, x: a.x, xOffset, y: a.y, yOffset: m.yOffset,
        bias: a.bias ? { buffer: a.bias, offset: m.biasOffset } : undefined, variant,
        norm: a.norm && { ...a.norm, out: i === 0 ? a.norm.out : undefined },
      }),
    );
    return;
  }
  const rows = Math.max(...a.mats.map((m) => m.rows));
  const params = packFastParams({
    rows, cols: a.cols, problems: n, x_offset: xOffset, x_stride: a.cols, x_div: n, has_bias: +!!a.bias,
    seg: 1, seg_offset: a.table.offset ?? 0,
    norm_eps: a.norm?.eps ?? 0, write_h: +!!a.norm?.out, hout_offset: a.norm?.out?.offset ?? 0,
  });
  // sized as the largest matrix (the grid), tuned as all of them together
  const shape = { rows, cols: a.cols, problems: n };
  const tail = a.mats.every((m) => bindingSize(a.w) >= Math.ceil((m.wOffset * 4 + matrixBytes(a.kind, m.rows, a.cols)) / 16) * 16);
  const { kernel, rowsPerGroup } = fastKernel(enc.ctx, a.kind, 'mv', shape, !!a.norm, tail);
  const dummy = enc.ctx.dummy;
  const buffers = [a.w, a.x, a.bias ?? dummy, a.table.buffer, a.y, dummy, null, a.norm?.w ?? dummy, a.norm?.out?.buffer ?? writeSink(enc.ctx)];
  enc.dispatch(kernel, params, buffers, [Math.ceil(rows / rowsPerGroup), n]);
}

export interface MatmulArgs extends Omit<MatvecArgs, 'problems' | 'slots' | 'xDiv'> {
  /** tokens: x is (T, xStride), y is (T, yStride) */
  T: number;
}

/** Prefill: Y (T, rows) = X (T, cols) W^T (+ b), each decoded weight shared by 4 tokens. */
export function matmul(enc: GpuEncoder, a: MatmulArgs): void {
  matvec(enc, { ...a, problems: a.T });
}

/**
 * Record x-digits.wgsl for `rows` x rows (cols each, at xOffset, xStride apart; normed first with
 * `norm`, the normed rows written to norm.out) into a pooled buffer of digit records (7 vec4 per
 * row and 32 columns); the caller releases it once its product is recorded.
 */
export function xDigitRows(enc: GpuEncoder, x: BufferArg, xOffset: number, xStride: number, cols: number, rows: number, norm?: MatvecNorm): GPUBuffer {
  const ctx = enc.ctx;
  const G = cols / 32;
  const xd = ctx.pool.acquire(rows * G * 7 * 16, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'x-digits');
  const params = new Params().u32(cols).u32(xOffset).u32(xStride).bool(!!norm).f32(norm?.eps ?? 0).bool(!!norm?.out).u32(norm?.out?.offset ?? 0).buffer;
  enc.dispatch(ctx.pipelines.get(DIGITS_SRC, 'main', { WG: 64 }), params, [x, norm?.w ?? ctx.dummy, xd, norm?.out?.buffer ?? writeSink(ctx)], [Math.ceil((4 * G) / 64), rows]);
  return xd;
}

/**
 * The 'dp' design of a q4 product (geometry `g`): x (normed first when `a.norm`) to digit planes in
 * a scratch buffer, then the product (two dispatches).
 */
function matvecDp(enc: GpuEncoder, a: MatvecArgs, g: FastGeometry, problems: number, xStride: number, xDiv: number): void {
  const ctx = enc.ctx;
  const tpr = fastTeamSize(ctx);
  const xd = xDigitRows(enc, a.x, a.xOffset ?? 0, xStride, a.cols, Math.ceil(problems / xDiv), a.norm);
  const r = a.residual;
  const yOffset = a.yOffset ?? 0;
  const params = new Params()
    .u32(a.rows).u32(a.cols).u32((a.wOffset ?? 0) / 16).u32(xDiv).u32(yOffset).u32(a.yStride ?? a.rows).u32(a.bias?.offset ?? 0).bool(!!a.bias)
    .u32(r ? (r.from ? 2 : 1) : 0).f32(r?.alpha ?? 1).f32(r?.beta ?? 1).u32(r?.fromOffset ?? yOffset).buffer;
  const kernel = ctx.pipelines.get(DP_SRC, 'main', { WG: g.wg, TPR: tpr, RPT: g.rpt });
  enc.dispatch(kernel, params, [a.w, xd, a.bias?.buffer ?? ctx.dummy, a.y, r?.from ?? ctx.dummy], [Math.ceil(a.rows / ((g.wg / tpr) * g.rpt)), problems]);
  ctx.pool.release(xd); // only live between the two dispatches above
}
