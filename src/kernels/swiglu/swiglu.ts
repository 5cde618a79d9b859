// Expert activation: SwiGLU or gpt-oss clamped SwiGLU. See swiglu.wgsl.

import { bindingSize, linearGrid, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import type { ExpertActivation } from '../../format/spec.ts';
import code from './swiglu.wgsl?raw';

const SRC = { label: 'swiglu', code };
const WG = 64;

export interface SwigluArgs {
  activation: ExpertActivation;
  /** values per problem (I) */
  n: number;
  /** problems (T * K expert evaluations); default 1 */
  problems?: number;
  gate: BufferArg;
  gateOffset?: number;
  up: BufferArg;
  upOffset?: number;
  /** elements between problems in gate and up (default n) */
  inStride?: number;
  out: BufferArg;
  outOffset?: number;
  outStride?: number;
}

/** Record out = act(gate, up) for every problem. */
export function swiglu(enc: GpuEncoder, a: SwigluArgs): void {
  const P = a.problems ?? 1;
  const inStride = a.inStride ?? a.n;
  const outStride = a.outStride ?? a.n;
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('swiglu', msg);
  };
  for (const [k, v] of Object.entries({ n: a.n, problems: P }))
    check(Number.isInteger(v) && v >= 1, `${k} must be a positive integer, got ${v}`);
  check(inStride >= a.n && outStride >= a.n, 'strides smaller than n');
  const need = (off: number, stride: number) => (off + (P - 1) * stride + a.n) * 4;
  check(bindingSize(a.gate) >= need(a.gateOffset ?? 0, inStride) && bindingSize(a.up) >= need(a.upOffset ?? 0, inStride), 'gate/up binding too small');
  check(bindingSize(a.out) >= need(a.outOffset ?? 0, outStride), 'out binding too small');
  const act = a.activation;
  const clamped = act.kind === 'clamped_swiglu';
  const params = new Params()
    .u32(a.n)
    .u32(P)
    .u32(a.gateOffset ?? 0)
    .u32(a.upOffset ?? 0)
    .u32(inStride)
    .u32(a.outOffset ?? 0)
    .u32(outStride)
    .bool(clamped)
    .f32(clamped ? act.alpha : 0)
    .f32(clamped ? act.limit : 0).buffer;
  enc.dispatch(enc.ctx.pipelines.get(SRC, 'main', { WG }), params, [a.gate, a.up, a.out], linearGrid(P * a.n, WG));
}
