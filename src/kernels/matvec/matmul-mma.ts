// The subgroup-matrix form of the packed integer prefill products (matmul-mma.wgsl): the same digit
// records and weight codes as matmul-dp.wgsl, the 32-column group products on i8 subgroup matrices
// (tensor cores behind VK_KHR_cooperative_matrix). matmul-tiled.ts routes here first where the
// device has them (caps.subgroupMatrixI8) and mmaTuning.enabled is set, then to matmul-dp, then to
// the f32 tiles.

import type { GpuContext } from '../../gpu/device.ts';
import type { QuantKind } from '../../format/quant-layout.ts';
import type { Kernel } from '../../gpu/pipelines.ts';
import { KIND_ID } from './matvec.ts';
import { dpTuning } from './matmul-dp.ts';
import code from './matmul-mma.wgsl?raw';

const SRC = { label: 'matmul-mma', code };

/**
 * enabled: take subgroup matrices where the device has them; off by default: on the H100 whole
 * gpt-oss prefills ran 25–30% slower than with matmul-dp at 1 and at 2 planes, single dense
 * products at best level (bench results of 2026-11-22, round 6); the bench's prefill tuner turns
 * it on where it measures faster. subgroups: subgroups a workgroup
 * (1, 2 or 4), each multiplying all blocks and folding its share of them (2 was fastest);
 * rowBlocks: rows a tile / 16 (2 or 4; with 4 the tile's accumulators must fit: 4 blocks x bt / 16
 * x 8 / subgroups <= 64, else 2).
 */
export const mmaTuning: { enabled: boolean; subgroups: 1 | 2 | 4; rowBlocks: 2 | 4 } = { enabled: false, subgroups: 2, rowBlocks: 2 };

const KINDS = new Set<QuantKind>(['q8', 'q4', 'mxfp4']);

export interface MmaShape {
  bt: number;
  /** rows per tile of a single matrix (gate_up: half of it of each) */
  rows: number;
}

/**
 * The subgroup-matrix tile for `kind` at `bt` tokens a tile (16, 32 or 64), or null where it does
 * not apply (no i8 subgroup matrices, f32 / f16 weights, digits 0 = f32 products asked for, another
 * tile size, workgroup memory too small).
 */
export function mmaRoute(ctx: GpuContext, kind: QuantKind, bt: number, xRows: number): MmaShape | null {
  const D = dpTuning.digits;
  if (!mmaTuning.enabled || !D || !ctx.caps.subgroupMatrixI8 || !KINDS.has(kind)) return null;
  if (![16, 32, 64].includes(bt) || xRows > ctx.limits.maxComputeWorkgroupsPerDimension) return null;
  const rb = mmaTuning.rowBlocks === 4 && (4 * bt * 8) / 16 / mmaTuning.subgroups <= 64 ? 4 : 2;
  const R = 16 * rb;
  // workgroup bytes: staged weights and digit planes (two buffers), block sums, scales, tokens
  const bytes = 2 * R * 32 + 2 * D * bt * 32 + 2 * rb * 16 * 24 * 4 + 8 * R + 16 * bt + 16;
  if (bytes > ctx.limits.maxComputeWorkgroupStorageSize) return null;
  return { bt, rows: R };
}

/** The pipeline of an entry point (mm — one matrix or q, k, v —, grouped_gate_up, grouped_down). */
export function mmaKernel(ctx: GpuContext, entry: string, kind: QuantKind, s: MmaShape): Kernel {
  return ctx.pipelines.get(SRC, entry, { KIND: KIND_ID[kind], D: dpTuning.digits, BT: s.bt, SG: mmaTuning.subgroups, RB: s.rows / 16 });
}
