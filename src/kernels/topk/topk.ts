// Top-k sampling candidates on the GPU. See topk.wgsl.

import { bindingSize, linearGrid, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import { chunkSize } from '../argmax/argmax.ts';
import code from './topk.wgsl?raw';

const SRC = { label: 'topk', code };
const WG = 64;
export const MAX_TOPK = 64;

export interface TopkArgs {
  logits: BufferArg;
  offset?: number;
  n: number;
  k: number;
  banned?: { buffer: BufferArg; count: number };
  /** (k) u32 ids and f32 values, sorted by value desc then id asc, at entry outOffset */
  ids: BufferArg;
  values: BufferArg;
  outOffset?: number;
}

/** Record the k best (id, logit) pairs. */
export function topk(enc: GpuEncoder, a: TopkArgs): void {
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('topk', msg);
  };
  check(Number.isInteger(a.n) && a.n >= 1, `n must be a positive integer, got ${a.n}`);
  check(Number.isInteger(a.k) && a.k >= 1 && a.k <= MAX_TOPK, `k must be in [1, ${MAX_TOPK}], got ${a.k}`);
  check(bindingSize(a.logits) >= ((a.offset ?? 0) + a.n) * 4, 'logits binding too small');
  const out = a.outOffset ?? 0;
  check(bindingSize(a.ids) >= (out + a.k) * 4 && bindingSize(a.values) >= (out + a.k) * 4, `ids/values smaller than k = ${a.k}`);
  if (a.banned) check(bindingSize(a.banned.buffer) >= a.banned.count * 4, 'banned binding smaller than its count');
  const chunk = chunkSize(a.n);
  const chunks = Math.ceil(a.n / chunk);
  const params = new Params().u32(a.n).u32(a.offset ?? 0).u32(chunk).u32(chunks).u32(a.k).u32(a.banned?.count ?? 0).u32(out).buffer;
  const part = enc.ctx.pool.acquire(chunks * a.k * 8, GPUBufferUsage.STORAGE, 'topk-part');
  const pipe = (entry: string) => enc.ctx.pipelines.get(SRC, entry, { WG });
  enc.dispatch(pipe('partial'), params, [a.logits, a.banned?.buffer ?? enc.ctx.dummy, part, null, null], linearGrid(chunks, WG));
  enc.dispatch(pipe('final_pass'), params, [null, null, part, a.ids, a.values], [1]);
  enc.ctx.pool.release(part);
}
