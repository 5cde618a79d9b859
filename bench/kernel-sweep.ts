// Matvec GB/s for every weight kind, simple and fast variants (a sweep over the fast variant's
// geometry), on matrices of about the f32 ceiling's byte size and at the real expert shapes. Each
// variant is first checked against the CPU dequant on a small matrix ON THIS DEVICE, so a variant
// that is wrong here (e.g. a subgroup layout the unit tests cannot reach on SwiftShader) is
// reported and never chosen.

import type { GpuContext } from '../src/gpu/device.ts';
import { dequantizeMatrix } from '../src/format/quant.ts';
import { QUANT_KINDS, matrixBytes, type QuantKind } from '../src/format/quant-layout.ts';
import { matvec as refMatvec } from '../src/reference/ops.ts';
import { fastMatvecPlan, matvec, matvecTuning, type MatvecVariant } from '../src/kernels/matvec/matvec.ts';
import { matmulTiled, matmulTuning } from '../src/kernels/matvec/matmul-tiled.ts';
import { Rand, randomPacked } from './synthetic.ts';
import { gpuMicros } from './timing.ts';

export interface Tuning {
  wg: number;
  rpt: number;
  dq: number;
  unr: number;
  design: 'unit' | 'sx';
}

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
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  return got.every((v, i) => Math.abs(v - want[i]) <= 1e-4 * scale + 1e-6);
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
    // best of two timings (clocks vary between runs of the same kernel)
    time: async (variant: MatvecVariant, reps: number) => {
      const rec = (enc: Parameters<typeof matvec>[0]) =>
        matvec(enc, { kind, rows, cols, w: bufs.w, x: bufs.x, y: bufs.y, problems, xDiv: problems, variant, ...(problems > 1 ? { slots: { buffer: bufs.slots } } : {}) });
      return Math.min((await gpuMicros(ctx, rec, reps)).us, (await gpuMicros(ctx, rec, reps)).us);
    },
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

/** Prefill matmul (T tokens x one matrix): simple (tile 4 tokens) and tiled shapes, TFLOP/s. */
export async function sweepMatmul(ctx: GpuContext, small: boolean, log: (s: string) => void, deadline: number): Promise<{ rows: MatmulRow[]; best: { bt: number; br: number } | null }> {
  const out: MatmulRow[] = [];
  const saved = { ...matmulTuning };
  const T = small ? 32 : 512;
  const [rows, cols] = small ? [64, 64] : [2880, 2880];
  let best: { bt: number; br: number; t: number } | null = null;
  try {
    for (const kind of ['q4', 'mxfp4', 'q8'] as QuantKind[]) {
      const rand = new Rand(3);
      const w = ctx.upload(randomPacked(kind, rows, cols, 1, rand));
      const x = ctx.upload(Float32Array.from({ length: T * cols }, () => rand.f()));
      const y = ctx.createBuffer(T * rows * 4);
      const flops = 2 * T * rows * cols;
      const add = (variant: string, us: number) => {
        out.push({ kind, variant, T, rows, cols, us, TFLOPs: flops / us / 1e6 });
        log(`  matmul ${kind.padEnd(6)} ${variant.padEnd(16)} T=${T} ${rows}x${cols}: ${us.toFixed(0)} us, ${(flops / us / 1e6).toFixed(2)} TFLOP/s`);
      };
      add('simple tile4', (await gpuMicros(ctx, (e) => matvec(e, { kind, rows, cols, w, x, y, problems: T, variant: 'simple' }), 2)).us);
      const shapes = small ? [[16, 64]] : [[64, 64], [32, 64], [64, 32], [16, 64], [32, 128], [16, 128]];
      for (const [bt, br] of shapes) {
        if (performance.now() > deadline) break;
        Object.assign(matmulTuning, { bt, br });
        const us = (await gpuMicros(ctx, (e) => matmulTiled(e, { kind, rows, cols, T, w, x, y }), small ? 1 : 5)).us;
        add(`tiled ${bt}x${br}`, us);
        if (kind === 'q4' && (!best || us < best.t)) best = { bt, br, t: us };
      }
      [w, x, y].forEach((b) => b.destroy());
    }
  } finally {
    Object.assign(matmulTuning, saved);
  }
  return { rows: out, best: best ? { bt: (best as { bt: number }).bt, br: (best as { br: number }).br } : null };
}

export interface SweepResult {
  rows: KernelRow[];
  best: Partial<Record<QuantKind, { tuning: Tuning; GBps: number; ofCeiling: number }>>;
  /** the geometry chosen for the engine, per weight kind */
  chosen: Partial<Record<QuantKind, Tuning>>;
}

export async function sweepKernels(ctx: GpuContext, small: boolean, ceilingGBps: number, log: (s: string) => void, deadline: number): Promise<SweepResult> {
  const rowsOut: KernelRow[] = [];
  const saved = { ...matvecTuning, byKind: { ...matvecTuning.byKind } };
  const target = small ? 4 << 20 : 256 << 20;
  const reps = small ? 2 : 20;
  const unit: Omit<Tuning, 'dq'>[] = [128, 256].flatMap((wg) => [1, 2, 4].flatMap((rpt) => [1, 2, 4].map((unr) => ({ wg, rpt, unr, design: 'unit' as const }))));
  const sx: Omit<Tuning, 'dq'>[] = [128, 256].flatMap((wg) => [1, 2, 4].map((rpt) => ({ wg, rpt, unr: 1, design: 'sx' as const })));
  const gridFor = (kind: QuantKind): Omit<Tuning, 'dq'>[] =>
    small
      ? [{ wg: 64, rpt: 2, unr: 2, design: 'unit' }, { wg: 64, rpt: 2, unr: 1, design: 'sx' }]
      : kind === 'f32' || kind === 'f16'
        ? [...unit.filter((t) => t.wg === 256 && t.unr === 2), ...sx.filter((t) => t.wg === 256)]
        : [...unit, ...sx];
  const best: SweepResult['best'] = {};
  try {
    for (const kind of QUANT_KINDS) {
      const [rows, cols] = shapeFor(kind, target, small ? 256 : 16384);
      const bytes = matrixBytes(kind, rows, cols) + (rows + cols) * 4;
      const add = (variant: string, us: number, correct: boolean, r = rows, c = cols, problems = 1, b = bytes) => {
        const GBps = b / us / 1000;
        rowsOut.push({ kind, variant, rows: r, cols: c, problems, bytes: b, us, GBps, ofCeiling: GBps / ceilingGBps, correct });
        log(`  ${kind.padEnd(6)} ${variant.padEnd(22)} ${r}x${c}${problems > 1 ? ` x${problems}` : ''}: ${us.toFixed(1)} us ${GBps.toFixed(1)} GB/s ${((GBps / ceilingGBps) * 100).toFixed(0)}%${correct ? '' : ' WRONG'}`);
      };
      const bench = setup(ctx, kind, rows, cols, 1);
      add('simple', await bench.time('simple', Math.min(reps, 5)), await check(ctx, kind, 'simple'));
      if (!fastMatvecPlan(ctx, { cols })) {
        bench.destroy();
        continue;
      }
      const dqs = kind === 'mxfp4' && ctx.caps.subgroupMinSize >= 16 ? [0, 1] : [0];
      for (const dq of dqs)
        for (const t of gridFor(kind)) {
          if (performance.now() > deadline) break;
          matvecTuning.byKind = {};
          Object.assign(matvecTuning, { ...t, dq, minGroups: 0 });
          const ok = await check(ctx, kind, 'fast');
          const us = await bench.time('fast', reps);
          add(`fast ${t.design} wg${t.wg} rpt${t.rpt} unr${t.unr} dq${dq}`, us, ok);
          const GBps = bytes / us / 1000;
          if (ok && (!best[kind] || GBps > best[kind]!.GBps)) best[kind] = { tuning: { ...t, dq }, GBps, ofCeiling: GBps / ceilingGBps };
        }
      bench.destroy();
    }
    // the engine's geometry: the best per kind
    const chosen: Partial<Record<QuantKind, Tuning>> = {};
    for (const k of QUANT_KINDS) if (best[k]) chosen[k] = best[k]!.tuning;
    // real expert shapes (decode: K matrices through slots) with the chosen geometry
    Object.assign(matvecTuning, saved, { byKind: chosen });
    if (!small && performance.now() < deadline)
      for (const [kind, rows, cols, problems] of [
        ['mxfp4', 2880, 2880, 4],
        ['q4', 2880, 2880, 4],
        ['q4', 768, 2048, 8],
        ['q4', 2048, 768, 8],
        ['q4', 1536, 3072, 8],
        ['q8', 4096, 2880, 1],
        ['q8', 512, 2880, 1],
        ['q8', 201088, 2880, 1],
      ] as [QuantKind, number, number, number][]) {
        const b = (matrixBytes(kind, rows, cols) + rows * 4) * problems + cols * 4;
        const bench = setup(ctx, kind, rows, cols, problems);
        for (const v of ['simple', 'fast'] as const) {
          const us = await bench.time(v, v === 'simple' ? 3 : 10);
          const GBps = b / us / 1000;
          rowsOut.push({ kind, variant: `${v} (model shape)`, rows, cols, problems, bytes: b, us, GBps, ofCeiling: GBps / ceilingGBps, correct: true });
          log(`  ${kind.padEnd(6)} ${`${v} (model shape)`.padEnd(22)} ${rows}x${cols} x${problems}: ${us.toFixed(1)} us ${GBps.toFixed(1)} GB/s ${((GBps / ceilingGBps) * 100).toFixed(0)}%`);
        }
        bench.destroy();
      }
    return { rows: rowsOut, best, chosen };
  } finally {
    Object.assign(matvecTuning, saved);
  }
}
