// RMSNorm over (token, head) rows. See rmsnorm.wgsl, and rmsnorm-fast.wgsl for the variant with a
// workgroup per row ('auto' picks it on GPUs; the one-thread-per-row kernel stays for CPU adapters).

import { bindingSize, linearGrid, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import code from './rmsnorm.wgsl?raw';
import fastCode from './rmsnorm-fast.wgsl?raw';

const SRC = { label: 'rmsnorm', code };
const FAST = { label: 'rmsnorm-fast', code: fastCode };
const WG = 64;

export interface RmsnormArgs {
  /** tokens */
  T: number;
  /** rows per token: 1 for per-token and whole-projection norms, H for per-head norms */
  heads?: number;
  /** values per row: D, H*hd (whole projection) or hd (per head) */
  n: number;
  eps: number;
  /** input; omit to normalize `y` in place */
  x?: BufferArg;
  xOffset?: number;
  /** elements between tokens in x (default heads * n) */
  xStride?: number;
  y: BufferArg;
  yOffset?: number;
  yStride?: number;
  /** weight (n) f32 at element wOffset */
  w: BufferArg;
  wOffset?: number;
  /** 'auto' (default): a workgroup per row unless the adapter is a CPU one */
  variant?: 'auto' | 'simple' | 'fast';
}

/** Record y = rmsnorm(x) * w for T * heads rows of n values. */
export function rmsnorm(enc: GpuEncoder, a: RmsnormArgs): void {
  const heads = a.heads ?? 1;
  const rows = a.T * heads;
  const xStride = a.xStride ?? heads * a.n;
  const yStride = a.yStride ?? heads * a.n;
  const xOffset = a.xOffset ?? 0;
  const yOffset = a.yOffset ?? 0;
  const wOffset = a.wOffset ?? 0;
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('rmsnorm', msg);
  };
  for (const [k, v] of Object.entries({ T: a.T, heads, n: a.n }))
    check(Number.isInteger(v) && v >= 1, `${k} must be a positive integer, got ${v}`);
  check(a.eps > 0, `eps must be > 0, got ${a.eps}`);
  check(xStride >= heads * a.n && yStride >= heads * a.n, `token strides must be >= heads * n = ${heads * a.n}`);
  if (a.x) check(bindingSize(a.x) >= (xOffset + (a.T - 1) * xStride + heads * a.n) * 4, 'x binding too small');
  check(bindingSize(a.y) >= (yOffset + (a.T - 1) * yStride + heads * a.n) * 4, 'y binding too small');
  check(bindingSize(a.w) >= (wOffset + a.n) * 4, `weight binding smaller than n = ${a.n}`);
  const variant = a.variant ?? 'auto';
  const fast = variant === 'fast' || (variant === 'auto' && !enc.ctx.caps.fallbackAdapter);
  const entry = a.x ? 'main' : 'main_inplace';
  const kernel = fast ? enc.ctx.pipelines.get(FAST, entry, { WG: a.n >= 1024 ? 256 : 64 }) : enc.ctx.pipelines.get(SRC, entry, { WG });
  const params = new Params().u32(rows).u32(a.n).u32(heads).u32(xOffset).u32(xStride).u32(yOffset).u32(yStride).u32(wOffset).f32(a.eps).buffer;
  enc.dispatch(kernel, params, [a.x ?? null, a.w, a.y], fast ? linearGrid(rows, 1) : linearGrid(rows, WG));
}
