// The packed-integer form of the prefill products (matmul-dp.wgsl): x rows become digit records
// (x-digits.wgsl, matvec.ts's xDigitRows) in a pooled scratch buffer, then the tile kernel
// multiplies them with the q8 / q4 / mxfp4 codes as signed bytes. matmul-tiled.ts routes here when
// dpRoute says so; see the .wgsl header for the math and the precision of 1 or 2 digit planes.

import type { GpuContext } from '../../gpu/device.ts';
import type { QuantKind } from '../../format/quant-layout.ts';
import type { Kernel } from '../../gpu/pipelines.ts';
import { KIND_ID } from './matvec.ts';
import code from './matmul-dp.wgsl?raw';

const SRC = { label: 'matmul-dp', code };

/**
 * digits: planes of x the products use (0: the f32 kernel, matmul-tiled.wgsl; 1: 8-bit x per
 * 32-column group; 2: x to 2^-16 of its group's largest value); nx: threads along rows by tokens
 * per tile; slots: (token, digit plane) pairs a thread multiplies with its 8 rows (a tile is
 * bt = (slots / digits) ny tokens by 8 nx rows).
 */
export const dpTuning: { digits: 0 | 1 | 2; nx: Record<number, number>; slots: 4 | 8 } = {
  digits: 2,
  slots: 4,
  nx: { 16: 16, 32: 8, 64: 8, 128: 8 },
};

const KINDS = new Set<QuantKind>(['q8', 'q4', 'mxfp4']);

export interface DpShape {
  bt: number;
  nx: number;
  ny: number;
  /** (token, digit plane) slots a thread */
  sl: 4 | 8;
  /** rows per tile of a single matrix (gate_up: half of it of each) */
  rows: number;
}

/**
 * The packed-integer tile for `kind` at `bt` tokens per tile with `xRows` x rows to quantize, or
 * null where the f32 kernel runs (no packed dot products, f32 / f16 weights, digits 0).
 */
export function dpRoute(ctx: GpuContext, kind: QuantKind, bt: number, xRows: number): DpShape | null {
  if (!dpTuning.digits || !ctx.caps.packedDot || !KINDS.has(kind)) return null;
  if (xRows > ctx.limits.maxComputeWorkgroupsPerDimension) return null;
  let nx = dpTuning.nx[bt] ?? 16;
  // 8 slots a thread where the tile still has 4 threads along tokens
  const sl = dpTuning.slots === 8 && (bt * dpTuning.digits) / 8 >= 4 ? 8 : 4;
  const ny = (bt * dpTuning.digits) / sl;
  const lim = ctx.limits;
  // workgroup bytes: two buffers of digit words, token scales, weight words and row scales; tokens
  const bytes = (n: number) => 256 * ny * (sl / 4) + 64 * ny + 576 * n + 8 * bt + 8;
  const fits = (n: number) => n * ny <= lim.maxComputeInvocationsPerWorkgroup && bytes(n) <= lim.maxComputeWorkgroupStorageSize;
  while (nx > sl && !fits(nx)) nx /= 2;
  // the kernel's prefetch holds at most two tasks of each kind a thread: nx >= slots, ny >= 4
  if (nx < sl || !Number.isInteger(ny) || ny < 4 || !fits(nx)) return null;
  return { bt, nx, ny, sl, rows: 8 * nx };
}

const sinks = new WeakMap<GpuContext, [GPUBuffer, GPUBuffer]>();

/** Two small buffers for mm's k / v output bindings (Y2, Y3), never written with one matrix. */
export function kvSinks(ctx: GpuContext): [GPUBuffer, GPUBuffer] {
  let s = sinks.get(ctx);
  if (!s) sinks.set(ctx, (s = [ctx.createBuffer(256, GPUBufferUsage.STORAGE, 'k-sink'), ctx.createBuffer(256, GPUBufferUsage.STORAGE, 'v-sink')]));
  return s;
}

/** The dp pipeline of an entry point (mm — one matrix or q, k, v —, grouped_gate_up, grouped_down). */
export function dpKernel(ctx: GpuContext, entry: string, kind: QuantKind, s: DpShape): Kernel {
  return ctx.pipelines.get(SRC, entry, { KIND: KIND_ID[kind], NX: s.nx, NY: s.ny, D: dpTuning.digits, SL: s.sl });
}
