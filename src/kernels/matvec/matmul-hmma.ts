// The f16 subgroup-matrix form of the prefill products (matmul-hmma.wgsl): x rows copied to f16
// (x-half.wgsl; the grouped products' problems gathered in expert order), the q8 / q4 / mxfp4
// weights dequantized into f16 in workgroup memory, the sums in f32 inside the matrices across
// all columns. matmul-tiled.ts routes here first where the device
// has f16 16 x 16 x 16 subgroup matrices (caps.subgroupMatrixF16) and hmmaTuning.enabled is set,
// then to the i8 matrices (matmul-mma), the packed dot products (matmul-dp) and the f32 tiles.

import type { GpuContext } from '../../gpu/device.ts';
import type { BufferArg, GpuEncoder } from '../../gpu/encoder.ts';
import { Params } from '../../gpu/params.ts';
import type { QuantKind } from '../../format/quant-layout.ts';
import type { Kernel } from '../../gpu/pipelines.ts';
import { KIND_ID } from './matvec.ts';
import hmmaCode from './matmul-hmma.wgsl?raw';
import decodersCode from './decoders.wgsl?raw';
import halfCode from './x-half.wgsl?raw';

/**
 * enabled: take f16 subgroup matrices where the device has them; rowBlocks: rows a tile / 16
 * (2 or 4); tokenBlocks: tokens a tile / 16 of the dense products (1, 2 or 4; the grouped ones
 * take their plan's tile). A tile holds rowBlocks x tokenBlocks result matrices, at most 8.
 */
export const hmmaTuning: { enabled: boolean; rowBlocks: 2 | 4; tokenBlocks: 1 | 2 | 4 } = { enabled: true, rowBlocks: 2, tokenBlocks: 4 };

const KINDS = new Set<QuantKind>(['q8', 'q4', 'mxfp4']);

export interface HmmaShape {
  bt: number;
  /** rows per tile of a single matrix (gate_up: half of it of each) */
  rows: number;
}

const HALF_SRC = { label: 'x-half', code: halfCode };

/** Workgroup bytes of a tile: two f16 buffers of weights (rows 40 halves apart), a stored result pair, problems, the slot. */
function tileBytes(rb: number, tb: number): number {
  return 2 * 2 * 40 * 16 * rb + 2 * 16 * 16 * 4 + 16 * tb * 4 + 16;
}

/**
 * The f16 subgroup-matrix tile for `kind` at `bt` tokens a tile (16, 32 or 64), or null where it
 * does not apply (no f16 subgroup matrices, f32 / f16 weights, another tile size, too many
 * result matrices, workgroup memory too small).
 */
export function hmmaRoute(ctx: GpuContext, kind: QuantKind, bt: number, cols: number): HmmaShape | null {
  if (!hmmaTuning.enabled || !ctx.caps.subgroupMatrixF16 || compiles.get(ctx) === false) return null;
  if (!KINDS.has(kind) || ![16, 32, 64].includes(bt) || cols % 32) return null;
  let rb: number = hmmaTuning.rowBlocks;
  while (rb > 2 && rb * (bt / 16) > 8) rb /= 2;
  if (rb * (bt / 16) > 8 || tileBytes(rb, bt / 16) > ctx.limits.maxComputeWorkgroupStorageSize) return null;
  return { bt, rows: 16 * rb };
}

/** Tokens a dense tile for T tokens: hmmaTuning.tokenBlocks x 16, or fewer where T is smaller. */
export function hmmaDenseTile(T: number): number {
  return Math.min(16 * hmmaTuning.tokenBlocks, T <= 16 ? 16 : T <= 32 ? 32 : 64);
}

/** per device: whether the kernel compiled (verifyHmma); unknown counts as yes */
const compiles = new WeakMap<GpuContext, boolean>();

/**
 * Compile the kernel's three products once on this device, inside an error scope, and keep the
 * route off if any fails: the subgroup matrices are an experimental extension whose WGSL a
 * browser version may not accept. The runner calls it before its first forward; false where the
 * device has no f16 subgroup matrices or the kernel does not compile.
 */
export async function verifyHmma(ctx: GpuContext): Promise<boolean> {
  if (!ctx.caps.subgroupMatrixF16) return false;
  const known = compiles.get(ctx);
  if (known !== undefined) return known;
  const device = ctx.device;
  device.pushErrorScope('validation');
  let ok = true;
  try {
    const module = device.createShaderModule({ code, label: 'matmul-hmma (check)' });
    for (const MODE of [0, 1, 2]) {
      await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main', constants: { MODE, KIND: KIND_ID.mxfp4, RB: 2, TB: 4 } } });
    }
  } catch {
    ok = false;
  }
  if (await device.popErrorScope()) ok = false;
  compiles.set(ctx, ok);
  return ok;
}

const MODES: Record<string, number> = { mm: 0, grouped_gate_up: 1, grouped_down: 2 };
const code = hmmaCode + decodersCode; // the E2M1 decoder shared with the matvecs (appended: WGSL has no includes)
const SOURCES = Object.fromEntries(Object.keys(MODES).map((e) => [e, { label: `matmul-hmma.${e}`, code }]));

/** The pipeline of a product by matmul-tiled.wgsl's entry point (mm — one matrix or q, k, v —, grouped_gate_up, grouped_down). */
export function hmmaKernel(ctx: GpuContext, entry: string, kind: QuantKind, s: HmmaShape): Kernel {
  // labelled by product (profiles): 'matmul-hmma.<entry>:main'
  return ctx.pipelines.get(SOURCES[entry], 'main', { MODE: MODES[entry], KIND: KIND_ID[kind], RB: s.rows / 16, TB: s.bt / 16, F16BITS: +(kind === 'mxfp4' && ctx.caps.f16Subnormals) });
}

/**
 * Where x-half.wgsl takes the grouped experts' rows: plan tile i (moe-plan.wgsl, tiles of `bt`
 * problems) at rows i bt .., problem p reading x row order[p] / div.
 */
export interface HalfGather {
  plan: BufferArg;
  order: BufferArg;
  experts: number;
  div: number;
  bt: number;
}

/**
 * Record the f16 copy of x (`cols` floats a row at `offset`, `stride` apart) in x-half.wgsl's 16 x 16
 * blocks into a pooled buffer of `rows` rows (a multiple of 16; rows without a source zeroed): x
 * rows 0 .. n - 1 as they are, or the plan's tiles where `gather` is given. The caller releases
 * the buffer after the product that reads it.
 */
export function xHalfRows(enc: GpuEncoder, x: BufferArg, offset: number, stride: number, cols: number, n: number, rows: number, gather?: HalfGather): GPUBuffer {
  const ctx = enc.ctx;
  const out = ctx.pool.acquire(rows * cols * 2, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'x-half');
  const params = new Params().u32(n).u32(cols).u32(offset).u32(stride).bool(!!gather).u32(gather?.div ?? 1).u32(gather?.bt ?? 16).u32(gather?.experts ?? 0).buffer;
  enc.dispatch(ctx.pipelines.get(HALF_SRC, 'main', { WG: 64 }), params, [x, gather?.plan ?? ctx.dummy, gather?.order ?? ctx.dummy, out], [rows]);
  return out;
}
