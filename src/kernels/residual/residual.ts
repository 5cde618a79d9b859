// Residual add with alpha/beta, pre- or post-norm. See residual.wgsl.

import { bindingSize, linearGrid, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import code from './residual.wgsl?raw';

const SRC = { label: 'residual', code };
const WG = 64;

export interface ResidualArgs {
  /** elements (T * D) */
  n: number;
  /** residual stream, updated in place */
  x: BufferArg;
  xOffset?: number;
  /** sublayer output */
  sub: BufferArg;
  subOffset?: number;
  /** post-norm: the normed input replaces x on the left (LayerSpec.residual.from_normed) */
  normed?: BufferArg;
  normedOffset?: number;
  alpha?: number;
  beta?: number;
}

/** Record x = alpha * (normed ?? x) + beta * sub. */
export function residual(enc: GpuEncoder, a: ResidualArgs): void {
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('residual', msg);
  };
  check(Number.isInteger(a.n) && a.n >= 1, `n must be a positive integer, got ${a.n}`);
  check(bindingSize(a.x) >= ((a.xOffset ?? 0) + a.n) * 4, 'x binding too small');
  check(bindingSize(a.sub) >= ((a.subOffset ?? 0) + a.n) * 4, 'sub binding too small');
  if (a.normed) check(bindingSize(a.normed) >= ((a.normedOffset ?? 0) + a.n) * 4, 'normed binding too small');
  const params = new Params()
    .u32(a.n)
    .u32(a.xOffset ?? 0)
    .u32(a.normedOffset ?? 0)
    .u32(a.subOffset ?? 0)
    .bool(!!a.normed)
    .f32(a.alpha ?? 1)
    .f32(a.beta ?? 1).buffer;
  enc.dispatch(enc.ctx.pipelines.get(SRC, 'main', { WG }), params, [a.normed ?? enc.ctx.dummy, a.sub, a.x], linearGrid(a.n, WG));
}
