// In-place SiLU, sigmoid gate and clamp. See elementwise.wgsl.

import { bindingSize, linearGrid, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import code from './elementwise.wgsl?raw';

const SRC = { label: 'elementwise', code };
const WG = 64;

interface Range {
  /** elements */
  n: number;
  x: BufferArg;
  xOffset?: number;
}

function run(enc: GpuEncoder, entry: string, a: Range, gate: { buffer: BufferArg; offset: number } | null, limit: number): void {
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError(entry, msg);
  };
  check(Number.isInteger(a.n) && a.n >= 1, `n must be a positive integer, got ${a.n}`);
  check(bindingSize(a.x) >= ((a.xOffset ?? 0) + a.n) * 4, 'x binding too small');
  if (gate) check(bindingSize(gate.buffer) >= (gate.offset + a.n) * 4, 'gate binding too small');
  const params = new Params().u32(a.n).u32(a.xOffset ?? 0).u32(gate?.offset ?? 0).f32(limit).buffer;
  enc.dispatch(enc.ctx.pipelines.get(SRC, entry, { WG }), params, [gate?.buffer ?? null, a.x], linearGrid(a.n, WG));
}

/** x = silu(x) in place. */
export function siluInPlace(enc: GpuEncoder, a: Range): void {
  run(enc, 'silu_inplace', a, null, 0);
}

/** x *= sigmoid(gate) in place. */
export function sigmoidGate(enc: GpuEncoder, a: Range & { gate: BufferArg; gateOffset?: number }): void {
  run(enc, 'sigmoid_gate', a, { buffer: a.gate, offset: a.gateOffset ?? 0 }, 0);
}

/** x = clamp(x, -limit, limit) in place. */
export function clampInPlace(enc: GpuEncoder, a: Range & { limit: number }): void {
  if (!(a.limit > 0)) throw new KernelShapeError('clamp_inplace', `limit must be > 0, got ${a.limit}`);
  run(enc, 'clamp_inplace', a, null, a.limit);
}
