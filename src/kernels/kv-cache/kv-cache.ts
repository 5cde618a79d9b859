// Append new keys/values to a (ring-buffer) KV cache. See kv-cache.wgsl.

import { bindingSize, linearGrid, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import code from './kv-cache.wgsl?raw';

const SRC = { label: 'kv-cache', code };
const WG = 64;

export interface KvWriteArgs {
  T: number;
  /** values per token row: Hkv * hd */
  width: number;
  /** absolute position of the chunk's first token */
  pos0: number;
  /** cache rows (max length on full layers, window on sliding layers) */
  capacity: number;
  k: BufferArg;
  kOffset?: number;
  v: BufferArg;
  vOffset?: number;
  /** elements between tokens in k and v (default width) */
  kvStride?: number;
  kCache: BufferArg;
  vCache: BufferArg;
}

/** Record the append of T tokens' keys and values at ring slots (pos0 + t) % capacity. */
export function kvWrite(enc: GpuEncoder, a: KvWriteArgs): void {
  const stride = a.kvStride ?? a.width;
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('kvWrite', msg);
  };
  for (const [k, v] of Object.entries({ T: a.T, width: a.width, capacity: a.capacity }))
    check(Number.isInteger(v) && v >= 1, `${k} must be a positive integer, got ${v}`);
  check(Number.isInteger(a.pos0) && a.pos0 >= 0, `pos0 must be a non-negative integer, got ${a.pos0}`);
  check(stride >= a.width, `kvStride ${stride} < width ${a.width}`);
  const need = (off: number) => (off + (a.T - 1) * stride + a.width) * 4;
  check(bindingSize(a.k) >= need(a.kOffset ?? 0) && bindingSize(a.v) >= need(a.vOffset ?? 0), 'k/v binding too small');
  check(bindingSize(a.kCache) >= a.capacity * a.width * 4 && bindingSize(a.vCache) >= a.capacity * a.width * 4, `cache smaller than ${a.capacity} x ${a.width}`);
  const kernel = enc.ctx.pipelines.get(SRC, 'main', { WG });
  const params = new Params().u32(a.T).u32(a.width).u32(a.pos0).u32(a.capacity).u32(a.kOffset ?? 0).u32(a.vOffset ?? 0).u32(stride).buffer;
  enc.dispatch(kernel, params, [a.k, a.v, a.kCache, a.vCache], linearGrid(a.T * a.width, WG));
}
