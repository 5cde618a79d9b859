// Prefill products through workgroup-memory tiles (matmul-tiled.wgsl) and the expert grouping
// that feeds them (moe-plan.wgsl). See the .wgsl headers for the math and geometry.
//
//   matmulTiled      Y (T, rows) = X (T, cols) W^T (+ b) (+ residual), any weight kind
//   moePlan          problems grouped by expert (counts, offsets, order, tile list) on the GPU
//   groupedGateUp    a[p] = act(gate_e h[t], up_e h[t]) per expert tile
//   groupedDown      y[p] = down_e a[p] (+ bd) per expert tile

import { bindingSize, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import type { ExpertActivation } from '../../format/spec.ts';
import type { ExpertLayout, QuantKind } from '../../format/quant-layout.ts';
import { KIND_ID, xDigitRows, type MatvecResidual } from './matvec.ts';
import { dpKernel, dpRoute, kvSinks } from './matmul-dp.ts';
import { mmaKernel, mmaRoute } from './matmul-mma.ts';
import { hmmaDenseTile, hmmaKernel, hmmaRoute, xHalfRows, type HalfGather } from './matmul-hmma.ts';
import code from './matmul-tiled.wgsl?raw';
import planCode from './moe-plan.wgsl?raw';

const SRC = { label: 'matmul-tiled', code };
const PLAN_SRC = { label: 'moe-plan', code: planCode };
const BK = 32;
/** experts the plan kernel handles (its workgroup arrays) */
export const PLAN_MAX_EXPERTS = 1024;

interface Fields {
  rows: number; cols: number; tokens: number; w_offset: number; x_offset: number; x_stride: number;
  y_offset: number; y_stride: number; b_offset: number; has_bias: number; res_mode: number; alpha: number;
  beta: number; h_offset: number; w2_offset: number; b2_offset: number; experts: number; k_experts: number;
  slot_offset: number; act: number; act_alpha: number; act_limit: number; rows2: number; rows3: number;
  w3_offset: number; b3_offset: number;
}
const ORDER: (keyof Fields)[] = [
  'rows', 'cols', 'tokens', 'w_offset', 'x_offset', 'x_stride', 'y_offset', 'y_stride', 'b_offset', 'has_bias',
  'res_mode', 'alpha', 'beta', 'h_offset', 'w2_offset', 'b2_offset', 'experts', 'k_experts', 'slot_offset', 'act',
  'act_alpha', 'act_limit', 'rows2', 'rows3', 'w3_offset', 'b3_offset',
];
const FLOATS = new Set<keyof Fields>(['alpha', 'beta', 'act_alpha', 'act_limit']);

function pack(v: Partial<Fields>): ArrayBuffer {
  const p = new Params();
  for (const f of ORDER) {
    if (FLOATS.has(f)) p.f32(v[f] ?? (f === 'alpha' || f === 'beta' ? 1 : 0));
    else p.u32(v[f] ?? 0);
  }
  return p.buffer;
}

/** Thread layout of a tile: nx threads along rows, ny along tokens, tm (4 or 8) tokens per thread. */
export interface TileGeometry {
  tm: 4 | 8;
  ny: number;
  nx: number;
  /** 1: prefetch the next column group into registers while this one computes (where it fits) */
  pf?: 0 | 1;
}

const WORDS_PER_GROUP: Record<QuantKind, number> = { f32: 32, f16: 16, q8: 8, q4: 4, mxfp4: 4 };

/**
 * Tile geometry by tokens per tile (bt = tm ny; a tile covers 8 nx rows of one matrix, or 4 nx of
 * gate and of up); `bt`, the largest tile the dense products use (a run of fewer tokens, less);
 * `grouped`: the experts' tile (0: by tokens per expert, groupedTile).
 */
export const matmulTuning: { bt: number; grouped: number; geometry: Record<number, TileGeometry> } = {
  bt: 128,
  grouped: 0,
  geometry: {
    16: { tm: 4, ny: 4, nx: 16 },
    32: { tm: 8, ny: 4, nx: 16 },
    64: { tm: 8, ny: 8, nx: 32, pf: 1 },
    128: { tm: 8, ny: 16, nx: 16, pf: 1 },
  },
};

/** Workgroup bytes of one tile configuration. */
function tileBytes(bt: number, nx: number): number {
  return (BK * bt + BK * 8 * nx) * 4 + 2 * bt * 4 + 16;
}

export interface TileShape extends TileGeometry {
  /** tokens per tile */
  bt: number;
  /** rows per tile of a single matrix (gate_up: half of it of each) */
  rows: number;
}

/** The tile to use for `bt` tokens per tile (default matmulTuning.bt), within the device's workgroup limits. */
export function tileShape(ctx: GpuContext, bt = matmulTuning.bt): TileShape {
  const geo = matmulTuning.geometry[bt];
  if (!geo || geo.tm * geo.ny !== bt) throw new KernelShapeError('matmulTiled', `no tile geometry for ${bt} tokens per tile (matmulTuning.geometry)`);
  let { nx } = geo;
  const lim = ctx.limits;
  while (nx > 1 && (tileBytes(bt, nx) > lim.maxComputeWorkgroupStorageSize || nx * geo.ny > lim.maxComputeInvocationsPerWorkgroup)) nx /= 2;
  return { ...geo, nx, bt, rows: 8 * nx };
}

function overrides(kind: QuantKind, t: TileShape): Record<string, number> {
  // prefetch holds at most one X task (2 tm <= nx) and two W tasks (words per group <= ny) per thread
  const pf = t.pf === 1 && 2 * t.tm <= t.nx && WORDS_PER_GROUP[kind] <= t.ny ? 1 : 0;
  return { KIND: KIND_ID[kind], NX: t.nx, NY: t.ny, TM: t.tm, PF: pf };
}

/** Whether the tiled kernels apply: cols a multiple of 32, x offsets and strides multiples of 4. */
export function tiledUsable(a: { cols: number; xOffset?: number; xStride?: number }): boolean {
  return a.cols % BK === 0 && (a.xOffset ?? 0) % 4 === 0 && (a.xStride ?? a.cols) % 4 === 0;
}

export interface MatmulTiledArgs {
  kind: QuantKind;
  rows: number;
  cols: number;
  T: number;
  w: BufferArg;
  wOffset?: number;
  x: BufferArg;
  xOffset?: number;
  xStride?: number;
  y: BufferArg;
  yOffset?: number;
  yStride?: number;
  bias?: { buffer: BufferArg; offset?: number };
  residual?: MatvecResidual;
}

/**
 * x rows of a product: `rows` rows of `cols` floats at `offset`, `stride` apart; grouped
 * products: their plan, `problems` (each reading row order[p] / div) in `gather`.
 */
interface XRows { buffer: BufferArg; offset: number; stride: number; cols: number; rows: number; gather?: Omit<HalfGather, 'bt'> & { problems: number } }

/**
 * Record an entry point of the tile kernels: after the x-half pre-pass (x's f16 copy)
 * matmul-hmma.wgsl where hmmaRoute applies (f16 subgroup matrices), else after the x-digits pre-pass matmul-mma.wgsl where mmaRoute
 * applies (i8 subgroup matrices), else matmul-dp.wgsl where dpRoute does, else
 * matmul-tiled.wgsl with tile `t`. `buffers(xb)` are the bindings
 * with `xb` as binding 2 (x, its f16 copy or its digit records); `grid(rows, bt)` the grid for a tile of `rows`
 * rows (a single matrix) and `bt` tokens.
 */
function recordTiled(
  enc: GpuEncoder, entry: string, kind: QuantKind, t: TileShape, params: ArrayBuffer, x: XRows,
  buffers: (xb: BufferArg) => (BufferArg | null)[], grid: (rows: number, bt: number) => [number, number],
): void {
  // dense products choose their tile; the grouped ones take the tile their plan was made for
  const hmma = hmmaRoute(enc.ctx, kind, entry === 'mm' ? hmmaDenseTile(x.rows) : t.bt, x.cols);
  if (hmma) {
    // the f16 copy: mm's tokens up to whole tiles; the grouped problems tile by tile, as many tiles as the grid has
    const g = x.gather;
    const bt = hmma.bt;
    const xh = g
      ? xHalfRows(enc, x.buffer, x.offset, x.stride, x.cols, g.problems, (Math.ceil(g.problems / bt) + g.experts) * bt, { ...g, bt })
      : xHalfRows(enc, x.buffer, x.offset, x.stride, x.cols, x.rows, Math.ceil(x.rows / bt) * bt);
    // one entry point for the three products: every binding present (unused ones: the sinks)
    const [k, v] = kvSinks(enc.ctx);
    const all = buffers(xh);
    const bound = Array.from({ length: 10 }, (_, i) => all[i] ?? (i === 8 ? k : i === 9 ? v : enc.ctx.dummy));
    enc.dispatch(hmmaKernel(enc.ctx, entry, kind, hmma), params, bound, grid(hmma.rows, hmma.bt));
    enc.ctx.pool.release(xh);
    return;
  }
  const mma = mmaRoute(enc.ctx, kind, entry === 'mm' ? Math.min(t.bt, 64) : t.bt, x.rows);
  const dp = mma ? null : dpRoute(enc.ctx, kind, t.bt, x.rows);
  if (!mma && !dp) {
    enc.dispatch(enc.ctx.pipelines.get(SRC, entry, overrides(kind, t)), params, buffers(x.buffer), grid(t.rows, t.bt));
    return;
  }
  const xd = xDigitRows(enc, x.buffer, x.offset, x.stride, x.cols, x.rows);
  if (mma) enc.dispatch(mmaKernel(enc.ctx, entry, kind, mma), params, buffers(xd), grid(mma.rows, mma.bt));
  else if (dp) enc.dispatch(dpKernel(enc.ctx, entry, kind, dp), params, buffers(xd), grid(dp.rows, dp.bt));
  enc.ctx.pool.release(xd); // only live between the two dispatches
}

/** Record Y = X W^T (+ b) (+ residual) for T tokens (one dispatch). */
export function matmulTiled(enc: GpuEncoder, a: MatmulTiledArgs): void {
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('matmulTiled', msg);
  };
  const xStride = a.xStride ?? a.cols;
  const yStride = a.yStride ?? a.rows;
  const xOffset = a.xOffset ?? 0;
  const yOffset = a.yOffset ?? 0;
  const wOffset = a.wOffset ?? 0;
  check(tiledUsable({ cols: a.cols, xOffset, xStride }), 'needs cols % 32 == 0 and x offset/stride % 4 == 0');
  check(wOffset % 4 === 0, 'wOffset must be a multiple of 4');
  check(bindingSize(a.x) >= (xOffset + (a.T - 1) * xStride + a.cols) * 4, 'x binding too small');
  check(bindingSize(a.y) >= (yOffset + (a.T - 1) * yStride + a.rows) * 4, 'y binding too small');
  const t = denseTile(enc.ctx, a.T);
  const r = a.residual;
  const params = pack({
    rows: a.rows, cols: a.cols, tokens: a.T, w_offset: wOffset / 4, x_offset: xOffset, x_stride: xStride,
    y_offset: yOffset, y_stride: yStride, b_offset: a.bias?.offset ?? 0, has_bias: +!!a.bias,
    res_mode: r ? (r.from ? 2 : 1) : 0, alpha: r?.alpha ?? 1, beta: r?.beta ?? 1, h_offset: r?.fromOffset ?? yOffset,
  });
  const dummy = enc.ctx.dummy;
  const [k, v] = kvSinks(enc.ctx); // the entry's k / v outputs, never written with one matrix
  recordTiled(enc, 'mm', a.kind, t, params, { buffer: a.x, offset: xOffset, stride: xStride, cols: a.cols, rows: a.T },
    (xb) => [a.w, xb, a.bias?.buffer ?? dummy, a.y, r?.from ?? dummy, null, null, null, k, v], (rows, bt) => [Math.ceil(a.rows / rows), Math.ceil(a.T / bt)]);
}

/** The dense products' tile for T tokens: matmulTuning.bt, or the smallest of 16 / 32 / 64 that holds them. */
function denseTile(ctx: GpuContext, T: number): TileShape {
  return tileShape(ctx, Math.min(matmulTuning.bt, T <= 16 ? 16 : T <= 32 ? 32 : T <= 64 ? 64 : 128));
}

export interface MatmulQkvArgs {
  kind: QuantKind;
  cols: number;
  T: number;
  /** the buffer holding q, k and v, each in its layout at a byte offset (multiple of 4) */
  w: GPUBuffer;
  wOffsets: [number, number, number];
  rows: [number, number, number];
  x: BufferArg;
  xOffset?: number;
  xStride?: number;
  /** outputs (T, rows[m]) at offset 0 */
  ys: [BufferArg, BufferArg, BufferArg];
  /** the buffer holding the three biases, at float offsets */
  bias?: { buffer: GPUBuffer; offsets: [number, number, number] };
}

/** Record q, k, v = X Wq^T, X Wk^T, X Wv^T (+ biases) for T tokens in one dispatch (mm with three matrices). */
export function matmulTiledQkv(enc: GpuEncoder, a: MatmulQkvArgs): void {
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('matmulTiledQkv', msg);
  };
  const xStride = a.xStride ?? a.cols;
  const xOffset = a.xOffset ?? 0;
  check(tiledUsable({ cols: a.cols, xOffset, xStride }), 'needs cols % 32 == 0 and x offset/stride % 4 == 0');
  check(a.wOffsets.every((o) => o % 4 === 0), 'weight offsets must be multiples of 4');
  check(bindingSize(a.x) >= (xOffset + (a.T - 1) * xStride + a.cols) * 4, 'x binding too small');
  a.ys.forEach((y, m) => check(bindingSize(y) >= a.T * a.rows[m] * 4, `output ${m} binding too small`));
  const t = denseTile(enc.ctx, a.T);
  const b = a.bias?.offsets ?? [0, 0, 0];
  const params = pack({
    rows: a.rows[0], rows2: a.rows[1], rows3: a.rows[2], cols: a.cols, tokens: a.T, x_offset: xOffset, x_stride: xStride, y_stride: a.rows[0],
    w_offset: a.wOffsets[0] / 4, w2_offset: a.wOffsets[1] / 4, w3_offset: a.wOffsets[2] / 4,
    has_bias: +!!a.bias, b_offset: b[0], b2_offset: b[1], b3_offset: b[2],
  });
  const dummy = enc.ctx.dummy;
  recordTiled(enc, 'mm', a.kind, t, params, { buffer: a.x, offset: xOffset, stride: xStride, cols: a.cols, rows: a.T },
    (xb) => [a.w, xb, a.bias?.buffer ?? dummy, a.ys[0], dummy, null, null, null, a.ys[1], a.ys[2]],
    (rows, bt) => [a.rows.reduce((n, r) => n + Math.ceil(r / rows), 0), Math.ceil(a.T / bt)]);
}

/** u32 entries of the plan buffer for E experts and n problems at tile size bt. */
export function planWords(E: number, n: number, bt: number): number {
  return 2 * E + 2 + Math.ceil(n / bt) + E;
}

export interface MoePlanArgs {
  /** problems (T K) and experts */
  n: number;
  E: number;
  /** tokens per tile of the grouped kernels that read this plan */
  bt: number;
  ids: BufferArg;
  idsOffset?: number;
  plan: BufferArg;
  order: BufferArg;
}

/** Record the grouping of n routed problems by expert (one workgroup). */
export function moePlan(enc: GpuEncoder, a: MoePlanArgs): void {
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('moePlan', msg);
  };
  check(a.E >= 1 && a.E <= PLAN_MAX_EXPERTS, `experts ${a.E} outside [1, ${PLAN_MAX_EXPERTS}]`);
  check(a.n >= 1 && a.n < 65536, `problems ${a.n} outside [1, 65535]`);
  check(bindingSize(a.plan) >= planWords(a.E, a.n, a.bt) * 4, 'plan binding too small');
  check(bindingSize(a.order) >= a.n * 4, 'order binding too small');
  const params = new Params().u32(a.n).u32(a.E).u32(a.bt).u32(a.idsOffset ?? 0).buffer;
  const wg = Math.min(256, enc.ctx.limits.maxComputeInvocationsPerWorkgroup);
  enc.dispatch(enc.ctx.pipelines.get(PLAN_SRC, 'plan', { WG: wg }), params, [a.ids, a.plan, a.order], [1]);
}

interface GroupedCommon {
  layout: ExpertLayout;
  /** problems (T K) of this run and experts per token */
  n: number;
  K: number;
  E: number;
  /** the tile size the plan was made for (tileShape(ctx, bt).bt) */
  bt: number;
  plan: BufferArg;
  order: BufferArg;
  arena: BufferArg;
  /** per-problem slot word offsets, at entry slotsOffset */
  slots: BufferArg;
  slotsOffset?: number;
}

export interface GroupedGateUpArgs extends GroupedCommon {
  activation: ExpertActivation;
  /** normed hidden states (T, D) at xOffset (problem p reads row floor(p / K)) */
  x: BufferArg;
  xOffset?: number;
  /** activations (n, I) at outOffset */
  out: BufferArg;
  outOffset?: number;
}

export function groupedGateUp(enc: GpuEncoder, a: GroupedGateUpArgs): void {
  const L = a.layout;
  const [I, D] = L.gate.shape;
  const t = tileShape(enc.ctx, a.bt);
  const act = a.activation;
  const clamped = act.kind === 'clamped_swiglu';
  if (!tiledUsable({ cols: D, xOffset: a.xOffset })) throw new KernelShapeError('groupedGateUp', 'D must be a multiple of 32');
  const params = pack({
    rows: I, cols: D, tokens: a.n, w_offset: L.gate.offset / 4, w2_offset: L.up.offset / 4, x_offset: a.xOffset ?? 0, x_stride: D,
    y_offset: a.outOffset ?? 0, y_stride: I, has_bias: +!!L.gate_bias, b_offset: (L.gate_bias?.offset ?? 0) / 4, b2_offset: (L.up_bias?.offset ?? 0) / 4,
    experts: a.E, k_experts: a.K, slot_offset: a.slotsOffset ?? 0, act: clamped ? 1 : 0, act_alpha: clamped ? act.alpha : 0, act_limit: clamped ? act.limit : 0,
  });
  const gather = { plan: a.plan, order: a.order, experts: a.E, div: a.K, problems: a.n };
  recordTiled(enc, 'grouped_gate_up', L.gate.quant, t, params, { buffer: a.x, offset: a.xOffset ?? 0, stride: D, cols: D, rows: a.n / a.K, gather },
    (xb) => [a.arena, xb, a.arena, a.out, null, a.plan, a.order, a.slots], (rows, bt) => [Math.ceil(I / (rows / 2)), Math.ceil(a.n / bt) + a.E]);
}

export interface GroupedDownArgs extends GroupedCommon {
  /** activations (n, I) at xOffset */
  x: BufferArg;
  xOffset?: number;
  /** expert outputs (n, D) at outOffset */
  out: BufferArg;
  outOffset?: number;
}

export function groupedDown(enc: GpuEncoder, a: GroupedDownArgs): void {
  const L = a.layout;
  const [D, I] = L.down.shape;
  const t = tileShape(enc.ctx, a.bt);
  if (!tiledUsable({ cols: I, xOffset: a.xOffset })) throw new KernelShapeError('groupedDown', 'I must be a multiple of 32');
  const params = pack({
    rows: D, cols: I, tokens: a.n, w_offset: L.down.offset / 4, x_offset: a.xOffset ?? 0, x_stride: I,
    y_offset: a.outOffset ?? 0, y_stride: D, has_bias: +!!L.down_bias, b_offset: (L.down_bias?.offset ?? 0) / 4,
    experts: a.E, k_experts: a.K, slot_offset: a.slotsOffset ?? 0,
  });
  recordTiled(enc, 'grouped_down', L.down.quant, t, params, { buffer: a.x, offset: a.xOffset ?? 0, stride: I, cols: I, rows: a.n, gather: { plan: a.plan, order: a.order, experts: a.E, div: 1, problems: a.n } },
    (xb) => [a.arena, xb, a.arena, a.out, null, a.plan, a.order, a.slots], (rows, bt) => [Math.ceil(D / rows), Math.ceil(a.n / bt) + a.E]);
}

/**
 * Tokens per tile for grouped experts: about the average tokens an expert gets, 16..128. With
 * packed integer products (route 'dp') 32 up to 96 an expert: tiles of 32 won over 64 at 64
 * tokens an expert in every H100 tuner run (gpt-oss, 512 tokens), and 64 above. With f16
 * subgroup matrices ('hmma', tiles up to 64) 64 from 8 tokens an expert: an expert's short last
 * tile runs only its live token block, so one tile an expert beats several smaller ones (H100,
 * 512 tokens, gate_up: Qwen3-30B-A3B at 32 an expert 24.3 ms vs 35.1-35.2 with tiles of 32 or 16,
 * MiniMax-M2 at 16 an expert 13.1 vs 17.5 / 21.0; gpt-oss at 64 an expert: 64 beat 32 by 10%);
 * 16 at 8 or fewer (not measured). `maxHalfRows`: rows the f16 copy of x may have (the binding
 * limit over a row's bytes); a tile whose worst-case copy is larger is not taken.
 */
export function groupedTile(n: number, E: number, route: 'f32' | 'dp' | 'hmma' = 'f32', maxHalfRows = Infinity): number {
  if (matmulTuning.grouped) return matmulTuning.grouped;
  const avg = n / E;
  if (route === 'dp') return avg <= 20 ? 16 : avg <= 96 ? 32 : 64;
  if (route === 'hmma') {
    // the f16 copy of x has rows for the most tiles a plan can have: ceil(n / bt) + E tiles
    const fits = (bt: number) => (Math.ceil(n / bt) + E) * bt <= maxHalfRows;
    if (avg > 8 && fits(64)) return 64;
    return avg > 20 && fits(32) ? 32 : 16;
  }
  return avg <= 20 ? 16 : avg <= 40 ? 32 : avg <= 96 ? 64 : 128;
}
