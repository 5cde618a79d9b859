// Matvec GB/s for every weight kind, simple and fast variants (a sweep over the fast variant's
// geometry), on matrices of about the f32 ceiling's byte size and at the real expert shapes. Each
// variant is first checked against the CPU dequant on a small matrix ON THIS DEVICE, so a variant
// that is wrong here (e.g. a subgroup layout the unit tests cannot reach on SwiftShader) is
// reported and never chosen.

import type { GpuContext } from '../src/gpu/device.ts';
import { dequantizeMatrix } from '../src/format/quant.ts';
import { QUANT_KINDS, matrixBytes, type QuantKind } from '../src/format/quant-layout.ts';
import { matvec as refMatvec } from '../src/reference/ops.ts';
import { fastMatvecPlan, matvec, matvecTuning, type FastGeometry, type MatvecVariant } from '../src/kernels/matvec/matvec.ts';
import { matmulTiled, matmulTuning, type TileGeometry } from '../src/kernels/matvec/matmul-tiled.ts';
import { dpTuning } from '../src/kernels/matvec/matmul-dp.ts';
import { mmaTuning } from '../src/kernels/matvec/matmul-mma.ts';
import { hmmaTuning } from '../src/kernels/matvec/matmul-hmma.ts';
import { Rand, randomPacked } from './synthetic.ts';
import { bestMicros, gpuMicros } from './timing.ts';

/** A fast-variant geometry with its design named. */
export type Tuning = FastGeometry & { design: NonNullable<FastGeometry['design']> };

const label = (t: Tuning) => `fast ${t.design} wg${t.wg} rpt${t.rpt}${t.design === 'unit' ? ` unr${t.unr}` : ''}${t.design === 'wide' ? ` pf${t.pf ?? 0}` : ''} dq${t.dq}`;

export interface KernelRow {
  kind: QuantKind;
  variant: string;
  rows: number;
  cols: number;
  problems: number;
  bytes: number;
  us: number;
  GBps: number;
  ofCeiling: number;
  correct: boolean;
}

/** (rows, cols) with about `bytes` bytes in `kind` (cols a multiple of 512). */
function shapeFor(kind: QuantKind, bytes: number, rows: number): [number, number] {
  const perWeight = matrixBytes(kind, 32, 32) / 1024;
  return [rows, Math.max(512, Math.round(bytes / perWeight / rows / 512) * 512)];
}

/** Every element of `got` within 1e-4 × max |want| + 1e-6 of `want`. */
export function matches(got: Float32Array, want: Float32Array): boolean {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  return got.every((v, i) => Math.abs(v - want[i]) <= 1e-4 * scale + 1e-6);
}

async function check(ctx: GpuContext, kind: QuantKind, variant: MatvecVariant): Promise<boolean> {
  const rows = 67;
  const cols = 1024;
  const rand = new Rand(99);
  const bytes = randomPacked(kind, rows, cols, 1, rand);
  const x = Float32Array.from({ length: cols }, () => rand.f());
  const want = refMatvec(dequantizeMatrix(kind, bytes, rows, cols), x, rows, cols);
  const w = ctx.upload(bytes);
  const xb = ctx.upload(x);
  const y = ctx.createBuffer(rows * 4);
  const enc = ctx.encoder('check');
  matvec(enc, { kind, rows, cols, w, x: xb, y, variant });
  enc.submit();
  const got = await ctx.readF32(y);
  [w, xb, y].forEach((b) => b.destroy());
  return matches(got, want);
}

/** Buffers for timing one product: `problems` copies of a random matrix read through slots. */
function setup(ctx: GpuContext, kind: QuantKind, rows: number, cols: number, problems: number) {
  const rand = new Rand(7);
  const one = randomPacked(kind, rows, cols, 1, rand);
  const stride = Math.ceil(one.byteLength / 256) * 256;
  const all = problems > 1 ? new Uint8Array(stride * problems) : one;
  if (problems > 1) for (let p = 0; p < problems; p++) all.set(one, p * stride);
  const bufs = {
    w: ctx.upload(all),
    x: ctx.upload(Float32Array.from({ length: cols }, () => rand.f())),
    y: ctx.createBuffer(rows * problems * 4),
    slots: ctx.upload(Uint32Array.from({ length: problems }, (_, p) => (p * stride) / 4)),
  };
  return {
    ...bufs,
    time: (variant: MatvecVariant, reps: number) =>
      bestMicros(ctx, (enc) => matvec(enc, { kind, rows, cols, w: bufs.w, x: bufs.x, y: bufs.y, problems, xDiv: problems, variant, ...(problems > 1 ? { slots: { buffer: bufs.slots } } : {}) }), reps),
    destroy: () => Object.values(bufs).forEach((b) => b.destroy()),
  };
}

export interface MatmulRow {
  kind: QuantKind;
  variant: string;
  T: number;
  rows: number;
  cols: number;
  us: number;
  TFLOPs: number;
}

/** Tile geometries the sweep tries, by tokens per tile. */
const MATMUL_CANDIDATES: [number, TileGeometry][] = [
  [64, { tm: 8, ny: 8, nx: 16 }],
  [64, { tm: 8, ny: 8, nx: 16, pf: 1 }],
  [64, { tm: 8, ny: 8, nx: 32 }],
  [64, { tm: 8, ny: 8, nx: 32, pf: 1 }],
  [64, { tm: 4, ny: 16, nx: 16 }],
  [64, { tm: 4, ny: 16, nx: 16, pf: 1 }],
  [128, { tm: 8, ny: 16, nx: 16 }],
  [128, { tm: 8, ny: 16, nx: 16, pf: 1 }],
];

/**
 * Prefill matmul (T tokens x one matrix): simple (tile 4 tokens) and tiled geometries, TFLOP/s.
 * `best`: the fastest q8 geometry per tile size and the faster tile size for dense products.
 */
export async function sweepMatmul(ctx: GpuContext, small: boolean, log: (s: string) => void, deadline: number): Promise<{ rows: MatmulRow[]; best: Pick<typeof matmulTuning, 'bt' | 'geometry'> | null }> {
  const out: MatmulRow[] = [];
  const saved = { bt: matmulTuning.bt, geometry: { ...matmulTuning.geometry } };
  const savedDp = { digits: dpTuning.digits, slots: dpTuning.slots, nx: { ...dpTuning.nx } };
  const savedMma = { ...mmaTuning };
  const savedHmma = { ...hmmaTuning };
  const T = small ? 32 : 512;
  const [rows, cols] = small ? [64, 64] : [2880, 2880];
  const bestBy = new Map<number, { geo: TileGeometry; us: number }>();
  try {
    for (const kind of ['q8', 'q4', 'mxfp4'] as QuantKind[]) {
      const rand = new Rand(3);
      const w = ctx.upload(randomPacked(kind, rows, cols, 1, rand));
      const x = ctx.upload(Float32Array.from({ length: T * cols }, () => rand.f()));
      const y = ctx.createBuffer(T * rows * 4);
      const flops = 2 * T * rows * cols;
      const add = (variant: string, us: number) => {
        out.push({ kind, variant, T, rows, cols, us, TFLOPs: flops / us / 1e6 });
        log(`  matmul ${kind.padEnd(6)} ${variant.padEnd(22)} T=${T} ${rows}x${cols}: ${us.toFixed(0)} us, ${(flops / us / 1e6).toFixed(2)} TFLOP/s`);
      };
      add('simple tile4', (await gpuMicros(ctx, (e) => matvec(e, { kind, rows, cols, w, x, y, problems: T, variant: 'simple' }), 2)).us);
      // f16 subgroup-matrix products (matmul-hmma.wgsl; its x-half pass included), where it passed its device check
      for (const [rb, tb] of ctx.caps.subgroupMatrixF16 && savedHmma.enabled ? (small ? [[2, 2]] : ([[2, 2], [2, 4], [4, 2], [4, 1]] as const)) : []) {
        if (performance.now() > deadline) break;
        Object.assign(hmmaTuning, { enabled: true, rowBlocks: rb, tokenBlocks: tb });
        add(`hmma rb${rb} tb${tb}`, await bestMicros(ctx, (e) => matmulTiled(e, { kind, rows, cols, T, w, x, y }), small ? 1 : 5));
      }
      hmmaTuning.enabled = false;
      // subgroup-matrix products (matmul-mma.wgsl), packed integer products (matmul-dp.wgsl; the
      // x-digits pass included in both), then the f32 tiles
      for (const digits of ctx.caps.subgroupMatrixI8 ? ([2, 1] as const) : []) {
        for (const [bt, sg, rb] of small ? [[32, 1, 2]] : ([[32, 2, 2], [64, 1, 2], [64, 2, 2], [64, 4, 2], [32, 1, 4], [64, 2, 4], [64, 4, 4]] as const)) {
          if (performance.now() > deadline) break;
          dpTuning.digits = digits;
          Object.assign(mmaTuning, { enabled: true, subgroups: sg, rowBlocks: rb });
          matmulTuning.bt = bt;
          add(`mma${digits} ${bt} sg${sg} rb${rb}`, await bestMicros(ctx, (e) => matmulTiled(e, { kind, rows, cols, T, w, x, y }), small ? 1 : 5));
        }
      }
      mmaTuning.enabled = false;
      for (const digits of ctx.caps.packedDot ? ([2, 1] as const) : []) {
        for (const [bt, nx, slots] of small ? [[32, 8, 4]] : ([[64, 8, 4], [64, 16, 4], [64, 8, 8], [64, 16, 8], [128, 8, 4], [128, 8, 8], [128, 16, 8]] as const)) {
          if (performance.now() > deadline) break;
          Object.assign(dpTuning, { digits, slots, nx: { ...savedDp.nx, [bt]: nx } });
          matmulTuning.bt = bt;
          add(`dp${digits} ${bt} nx${nx} sl${slots}`, await bestMicros(ctx, (e) => matmulTiled(e, { kind, rows, cols, T, w, x, y }), small ? 1 : 5));
        }
      }
      dpTuning.digits = 0;
      const cands = small ? MATMUL_CANDIDATES.filter(([bt]) => bt <= T) : MATMUL_CANDIDATES;
      for (const [bt, geo] of cands) {
        if (performance.now() > deadline) break;
        matmulTuning.bt = bt;
        matmulTuning.geometry = { ...saved.geometry, [bt]: geo };
        // the better of two timings: a GPU fresh from idle has shown whole seconds at lower speed
        const us = await bestMicros(ctx, (e) => matmulTiled(e, { kind, rows, cols, T, w, x, y }), small ? 1 : 5);
        add(`tiled ${bt} tm${geo.tm} ny${geo.ny} nx${geo.nx}${geo.pf ? ' pf' : ''}`, us);
        const cur = bestBy.get(bt);
        if (kind === 'q8' && (!cur || us < cur.us)) bestBy.set(bt, { geo, us }); // q8: measured first (see README: an H100 fresh from idle has slowed seconds into this sweep), and the bench models' dense kind
      }
      [w, x, y].forEach((b) => b.destroy());
    }
  } finally {
    Object.assign(matmulTuning, saved);
    Object.assign(dpTuning, savedDp);
    Object.assign(mmaTuning, savedMma);
    Object.assign(hmmaTuning, savedHmma);
  }
  if (!bestBy.size) return { rows: out, best: null };
  const geometry = { ...saved.geometry };
  for (const [bt, { geo }] of bestBy) geometry[bt] = geo;
  const bt = [...bestBy].sort((p, q) => p[1].us - q[1].us)[0][0];
  return { rows: out, best: { bt, geometry } };
}

export interface SweepResult {
  rows: KernelRow[];
  best: Partial<Record<QuantKind, { tuning: Tuning; GBps: number; ofCeiling: number }>>;
  /** the geometry chosen for the engine, per weight kind (large products) */
  chosen: Partial<Record<QuantKind, Tuning>>;
  /** per weight kind for products of at most matvecTuning.smallBytes (chosen at the model shapes) */
  chosenSmall: Partial<Record<QuantKind, Tuning>>;
  /** per kind: the model shapes' summed time with the large-product geometry and with the chosen one */
  small: Partial<Record<QuantKind, { us: number; usLargeGeometry: number; GBps: number; tuning: Tuning }>>;
}

/** Shapes of the benchmarked models' products of each kind (rows, cols, problems), decode. */
const MODEL_SHAPES: [QuantKind, number, number, number][] = [
  ['mxfp4', 2880, 2880, 8], // gpt-oss gate + up of 4 experts
  ['mxfp4', 2880, 2880, 4], // gpt-oss down of 4 experts
  ['q4', 2880, 2880, 4],
  ['q4', 768, 2048, 16], // Qwen3-30B-A3B gate + up of 8 experts
  ['q4', 2048, 768, 8],
  ['q4', 1536, 3072, 16], // MiniMax-M2
  ['q8', 4096, 2880, 1], // gpt-oss q, o (transposed)
  ['q8', 2880, 4096, 1],
  ['q8', 512, 2880, 1], // k, v
];

export async function sweepKernels(ctx: GpuContext, small: boolean, ceilingGBps: number, log: (s: string) => void, deadline: number): Promise<SweepResult> {
  const rowsOut: KernelRow[] = [];
  const saved = { ...matvecTuning, byKind: { ...matvecTuning.byKind }, small: { ...matvecTuning.small } };
  const target = small ? 4 << 20 : 256 << 20;
  const reps = small ? 2 : 20;
  const quant = (k: QuantKind) => k === 'q8' || k === 'q4' || k === 'mxfp4';
  const lut = (k: QuantKind) => (k === 'q4' || k === 'mxfp4') && ctx.caps.subgroupMinSize >= 16;
  const grid = (k: QuantKind, which: 'large' | 'small'): Tuning[] => {
    if (small) return [{ wg: 64, rpt: 2, unr: 2, dq: 0, design: 'unit' }, { wg: 64, rpt: 2, unr: 1, dq: 0, design: 'sx' }, { wg: 64, rpt: 2, unr: 1, dq: 0, pf: 1, design: 'wide' }];
    const out: Tuning[] = [];
    const dqs = lut(k) ? (k === 'mxfp4' ? [0, 1, 2] : [0, 1]) : k === 'mxfp4' ? [0, 2] : [0];
    const maxWg = ctx.limits.maxComputeInvocationsPerWorkgroup;
    for (const dq of dqs) {
      if (which === 'large') {
        // round 1 on an H100: the wide design gained with rows per team and group size; f32 / f16 are checks
        const wides = quant(k) ? [128, 256, 512] : [256];
        const rpts = quant(k) ? [2, 4, 8] : [1, 2, 4];
        for (const wg of wides) for (const rpt of rpts) for (const pf of [0, 1]) out.push({ wg, rpt, unr: 1, dq, pf, design: 'wide' });
        for (const wg of quant(k) ? [128, 256] : [256]) for (const rpt of quant(k) ? [2, 4] : [1, 2, 4]) for (const unr of quant(k) ? [1, 4] : [2]) out.push({ wg, rpt, unr, dq, design: 'unit' });
        for (const [wg, rpt] of [[256, 2], [256, 4]]) out.push({ wg, rpt, unr: 1, dq, design: 'sx' });
        // q4 through packed integer dots on x's digit planes (x-digits + matvec-dp)
        if (k === 'q4' && dq === 0 && ctx.caps.packedDot) for (const [wg, rpt] of [[64, 2], [128, 2], [256, 2], [64, 4], [128, 4], [256, 4], [128, 3], [256, 6]]) out.push({ wg, rpt, unr: 1, dq, design: 'dp' });
      } else {
        for (const wg of [64, 128, 256]) for (const rpt of [1, 2, 4, 8]) for (const pf of [0, 1]) out.push({ wg, rpt, unr: 1, dq, pf, design: 'wide' });
        for (const wg of [64, 128]) for (const rpt of [1, 2]) for (const unr of [2, 4]) out.push({ wg, rpt, unr, dq, design: 'unit' });
        for (const [wg, rpt] of [[128, 1], [256, 2]]) out.push({ wg, rpt, unr: 1, dq, design: 'sx' });
      }
    }
    return out.filter((t) => t.wg <= maxWg);
  };
  // correctness of each geometry on this device, checked once
  const verified = new Map<string, boolean>();
  const checked = async (kind: QuantKind, t: Tuning): Promise<boolean> => {
    const key = `${kind} ${label(t)}`;
    let ok = verified.get(key);
    if (ok === undefined) {
      const was = { ...matvecTuning };
      Object.assign(matvecTuning, { ...t, minGroups: 0, byKind: {}, small: {} });
      ok = await check(ctx, kind, 'fast');
      Object.assign(matvecTuning, was);
      verified.set(key, ok);
    }
    return ok;
  };
  const best: SweepResult['best'] = {};
  try {
    for (const kind of QUANT_KINDS) {
      const [rows, cols] = shapeFor(kind, target, small ? 256 : 16384);
      const bytes = matrixBytes(kind, rows, cols) + (rows + cols) * 4;
      const add = (variant: string, us: number, correct: boolean, r = rows, c = cols, problems = 1, b = bytes) => {
        const GBps = b / us / 1000;
        rowsOut.push({ kind, variant, rows: r, cols: c, problems, bytes: b, us, GBps, ofCeiling: GBps / ceilingGBps, correct });
        log(`  ${kind.padEnd(6)} ${variant.padEnd(30)} ${r}x${c}${problems > 1 ? ` x${problems}` : ''}: ${us.toFixed(1)} us ${GBps.toFixed(1)} GB/s ${((GBps / ceilingGBps) * 100).toFixed(0)}%${correct ? '' : ' WRONG'}`);
      };
      const bench = setup(ctx, kind, rows, cols, 1);
      add('simple', await bench.time('simple', Math.min(reps, 5)), await check(ctx, kind, 'simple'));
      if (!fastMatvecPlan(ctx, { cols })) {
        bench.destroy();
        continue;
      }
      for (const t of grid(kind, 'large')) {
        if (performance.now() > deadline) break;
        const ok = await checked(kind, t);
        matvecTuning.byKind = {};
        matvecTuning.small = {};
        Object.assign(matvecTuning, { ...t, pf: t.pf ?? 0, minGroups: 0 });
        const us = await bench.time('fast', reps);
        add(label(t), us, ok);
        const GBps = bytes / us / 1000;
        if (ok && (!best[kind] || GBps > best[kind]!.GBps)) best[kind] = { tuning: { ...t }, GBps, ofCeiling: GBps / ceilingGBps };
      }
      bench.destroy();
    }
    // the engine's geometry for large products: the best per kind
    const chosen: Partial<Record<QuantKind, Tuning>> = {};
    for (const k of QUANT_KINDS) if (best[k]) chosen[k] = best[k]!.tuning;
    // small products: sweep again at the model shapes (their time summed per kind)
    Object.assign(matvecTuning, saved, { byKind: chosen, small: {} });
    const chosenSmall: Partial<Record<QuantKind, Tuning>> = {};
    const smallRes: SweepResult['small'] = {};
    const kinds = [...new Set(MODEL_SHAPES.map((m) => m[0]))];
    for (const kind of kinds) {
      if (small || !chosen[kind]) continue;
      const shapes = MODEL_SHAPES.filter((m) => m[0] === kind);
      const benches = shapes.map(([, r, c, p]) => ({ r, c, p, b: (matrixBytes(kind, r, c) + r * 4) * p + c * 4, bench: setup(ctx, kind, r, c, p) }));
      const total = async (t: Tuning | null) => {
        matvecTuning.small = t ? { [kind]: { ...t, pf: t.pf ?? 0 } } : {};
        let us = 0;
        for (const s of benches) us += await s.bench.time('fast', 10);
        return us;
      };
      const baseUs = await total(null); // the large-product geometry, shrunk as the engine does
      let pick: { t: Tuning; us: number } | null = null;
      for (const t of grid(kind, 'small')) {
        if (performance.now() > deadline) break;
        if (!(await checked(kind, t))) continue;
        const us = await total(t);
        if (!pick || us < pick.us) pick = { t, us };
      }
      const bytesAll = benches.reduce((a, s) => a + s.b, 0);
      if (pick && pick.us < baseUs) chosenSmall[kind] = pick.t;
      const use = pick && pick.us < baseUs ? pick : { t: chosen[kind]!, us: baseUs };
      smallRes[kind] = { us: use.us, usLargeGeometry: baseUs, GBps: bytesAll / use.us / 1000, tuning: use.t };
      log(`  ${kind.padEnd(6)} model shapes: ${baseUs.toFixed(1)} us with the large geometry, ${use.us.toFixed(1)} us with ${label(use.t)} (${(bytesAll / use.us / 1000).toFixed(0)} GB/s)`);
      benches.forEach((s) => s.bench.destroy());
    }
    // the model shapes, simple vs fast with the chosen geometries, plus the LM head
    matvecTuning.small = chosenSmall;
    if (!small && performance.now() < deadline)
      for (const [kind, rows, cols, problems] of [...MODEL_SHAPES, ['q8', 201088, 2880, 1]] as [QuantKind, number, number, number][]) {
        const b = (matrixBytes(kind, rows, cols) + rows * 4) * problems + cols * 4;
        const bench = setup(ctx, kind, rows, cols, problems);
        for (const v of ['simple', 'fast'] as const) {
          const us = await bench.time(v, v === 'simple' ? 3 : 10);
          const GBps = b / us / 1000;
          rowsOut.push({ kind, variant: `${v} (model shape)`, rows, cols, problems, bytes: b, us, GBps, ofCeiling: GBps / ceilingGBps, correct: true });
          log(`  ${kind.padEnd(6)} ${`${v} (model shape)`.padEnd(30)} ${rows}x${cols} x${problems}: ${us.toFixed(1)} us ${GBps.toFixed(1)} GB/s ${((GBps / ceilingGBps) * 100).toFixed(0)}%`);
        }
        bench.destroy();
      }
    return { rows: rowsOut, best, chosen, chosenSmall, small: smallRes };
  } finally {
    Object.assign(matvecTuning, saved);
  }
}
