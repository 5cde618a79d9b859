// Weighted combine of expert outputs. See combine.wgsl.

import { bindingSize, linearGrid, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import code from './combine.wgsl?raw';

const SRC = { label: 'combine', code };
const WG = 64;

export interface CombineArgs {
  T: number;
  K: number;
  D: number;
  /** expert outputs (T * K, yStride) at yOffset, ordered (token, k) like the router ids */
  y: BufferArg;
  yOffset?: number;
  yStride?: number;
  /** routing weights (T, K) at weightsOffset */
  weights: BufferArg;
  weightsOffset?: number;
  out: BufferArg;
  outOffset?: number;
  outStride?: number;
}

/** Record out[t] = sum_k w[t, k] y[t, k]. */
export function combine(enc: GpuEncoder, a: CombineArgs): void {
  const yStride = a.yStride ?? a.D;
  const outStride = a.outStride ?? a.D;
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('combine', msg);
  };
  for (const [k, v] of Object.entries({ T: a.T, K: a.K, D: a.D }))
    check(Number.isInteger(v) && v >= 1, `${k} must be a positive integer, got ${v}`);
  check(yStride >= a.D && outStride >= a.D, 'strides smaller than D');
  check(bindingSize(a.y) >= ((a.yOffset ?? 0) + (a.T * a.K - 1) * yStride + a.D) * 4, 'y binding too small');
  check(bindingSize(a.weights) >= ((a.weightsOffset ?? 0) + a.T * a.K) * 4, 'weights binding too small');
  check(bindingSize(a.out) >= ((a.outOffset ?? 0) + (a.T - 1) * outStride + a.D) * 4, 'out binding too small');
  const params = new Params()
    .u32(a.T)
    .u32(a.K)
    .u32(a.D)
    .u32(a.yOffset ?? 0)
    .u32(yStride)
    .u32(a.weightsOffset ?? 0)
    .u32(a.outOffset ?? 0)
    .u32(outStride).buffer;
  enc.dispatch(enc.ctx.pipelines.get(SRC, 'main', { WG }), params, [a.y, a.weights, a.out], linearGrid(a.T * a.D, WG));
}
