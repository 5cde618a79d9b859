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
import { Rand, randomPacked } from './synthetic.ts';
import { gpuMicros } from './timing.ts';

export interface Tuning {
  wg: number;
  rpt: number;
  dq: number;
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

async function timeOne(ctx: GpuContext, kind: QuantKind, rows: number, cols: number, problems: number, variant: MatvecVariant, reps: number): Promise<number> {
  const rand = new Rand(7);
  const one = randomPacked(kind, rows, cols, 1, rand);
  const mb = one.byteLength;
  // problems > 1: distinct matrices read through slots (the expert decode pattern)
  const all = new Uint8Array(Math.ceil(mb / 256) * 256 * problems);
  for (let p = 0; p < problems; p++) all.set(one, p * Math.ceil(mb / 256) * 256);
  const w = ctx.upload(all);
  const x = ctx.upload(Float32Array.from({ length: cols }, () => rand.f()));
  const y = ctx.createBuffer(rows * problems * 4);
  const slots = ctx.upload(Uint32Array.from({ length: problems }, (_, p) => (p * Math.ceil(mb / 256) * 256) / 4));
  const t = await gpuMicros(
    ctx,
    (enc) =>
      matvec(enc, { kind, rows, cols, w, x, y, problems, xDiv: problems, variant, ...(problems > 1 ? { slots: { buffer: slots } } : {}) }),
    reps,
  );
  [w, x, y, slots].forEach((b) => b.destroy());
  return t.us;
}

export interface SweepResult {
  rows: KernelRow[];
  best: Partial<Record<QuantKind, { tuning: Tuning; GBps: number; ofCeiling: number }>>;
  /** the geometry chosen for the engine from the q4 / mxfp4 / q8 results */
  chosen: Tuning;
}

export async function sweepKernels(ctx: GpuContext, small: boolean, ceilingGBps: number, log: (s: string) => void, deadline: number): Promise<SweepResult> {
  const rowsOut: KernelRow[] = [];
  const saved = { ...matvecTuning };
  const target = small ? 4 << 20 : 256 << 20;
  const reps = small ? 2 : 20;
  const grid: Tuning[] = small
    ? [{ wg: 64, rpt: 2, dq: 0 }]
    : [64, 128, 256].flatMap((wg) => [1, 2, 4].map((rpt) => ({ wg, rpt, dq: 0 })));
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
      add('simple', await timeOne(ctx, kind, rows, cols, 1, 'simple', reps), await check(ctx, kind, 'simple'));
      if (!fastMatvecPlan(ctx, { cols })) continue;
      const dqs = kind === 'mxfp4' && ctx.caps.subgroupMinSize >= 16 ? [0, 1] : [0];
      for (const dq of dqs)
        for (const t of grid) {
          if (performance.now() > deadline) break;
          Object.assign(matvecTuning, { ...t, dq });
          const ok = await check(ctx, kind, 'fast');
          const us = await timeOne(ctx, kind, rows, cols, 1, 'fast', reps);
          add(`fast wg${t.wg} rpt${t.rpt} dq${dq}`, us, ok);
          const GBps = bytes / us / 1000;
          if (ok && (!best[kind] || GBps > best[kind]!.GBps)) best[kind] = { tuning: { ...t, dq }, GBps, ofCeiling: GBps / ceilingGBps };
        }
    }
    // the engine's geometry: best q4 (the acceptance kernel) unless another kind loses > 10% with it
    const chosen: Tuning = best.q4?.tuning ?? { ...saved };
    if (best.mxfp4) chosen.dq = best.mxfp4.tuning.dq;
    // real expert shapes (decode: K matrices through slots) with the chosen geometry
    Object.assign(matvecTuning, chosen);
    if (!small && performance.now() < deadline)
      for (const [kind, rows, cols, problems] of [
        ['mxfp4', 2880, 2880, 4],
        ['q4', 2880, 2880, 4],
        ['q4', 768, 2048, 8],
        ['q4', 2048, 768, 8],
        ['q4', 1536, 3072, 8],
        ['q8', 4096, 2880, 1],
        ['q8', 201088, 2880, 1],
      ] as [QuantKind, number, number, number][]) {
        const b = (matrixBytes(kind, rows, cols) + rows * 4) * problems + cols * 4;
        for (const v of ['simple', 'fast'] as const) {
          const us = await timeOne(ctx, kind, rows, cols, problems, v, 10);
          const GBps = b / us / 1000;
          rowsOut.push({ kind, variant: `${v} (model shape)`, rows, cols, problems, bytes: b, us, GBps, ofCeiling: GBps / ceilingGBps, correct: true });
          log(`  ${kind.padEnd(6)} ${`${v} (model shape)`.padEnd(22)} ${rows}x${cols} x${problems}: ${us.toFixed(1)} us ${GBps.toFixed(1)} GB/s ${((GBps / ceilingGBps) * 100).toFixed(0)}%`);
        }
      }
    return { rows: rowsOut, best, chosen };
  } finally {
    Object.assign(matvecTuning, saved);
  }
}
