// Greedy token choice on the GPU. See argmax.wgsl, and argmax-fast.wgsl for the variant with
// workgroups per chunk ('auto' picks it on GPUs).

import { bindingSize, linearGrid, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import code from './argmax.wgsl?raw';
import fastCode from './argmax-fast.wgsl?raw';

const SRC = { label: 'argmax', code };
const FAST = { label: 'argmax-fast', code: fastCode };
const FAST_CHUNK = 4096;
const WG = 64;

/** Elements per first-stage thread: at least 256, at most ~1024 chunks. */
export function chunkSize(n: number): number {
  return Math.max(256, Math.ceil(n / 1024));
}

export interface ArgmaxArgs {
  /** logits (n) f32 at element `offset` (e.g. the last token's row) */
  logits: BufferArg;
  offset?: number;
  n: number;
  /** u32 ids never chosen (EOS under ignore_eos) */
  banned?: { buffer: BufferArg; count: number };
  /** u32 result at entry outOffset (0xffffffff if every id is banned) */
  out: BufferArg;
  outOffset?: number;
  /** 'auto' (default): workgroup reductions unless the adapter is a CPU one */
  variant?: 'auto' | 'simple' | 'fast';
}

/** Record out = argmax(logits), lowest index on ties. */
export function argmax(enc: GpuEncoder, a: ArgmaxArgs): void {
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('argmax', msg);
  };
  check(Number.isInteger(a.n) && a.n >= 1, `n must be a positive integer, got ${a.n}`);
  check(bindingSize(a.logits) >= ((a.offset ?? 0) + a.n) * 4, 'logits binding too small');
  check(bindingSize(a.out) >= ((a.outOffset ?? 0) + 1) * 4, 'out binding too small');
  if (a.banned) check(bindingSize(a.banned.buffer) >= a.banned.count * 4, 'banned binding smaller than its count');
  const variant = a.variant ?? 'auto';
  const fast = variant === 'fast' || (variant === 'auto' && !enc.ctx.caps.fallbackAdapter);
  const chunk = fast ? FAST_CHUNK : chunkSize(a.n);
  const chunks = Math.ceil(a.n / chunk);
  const params = new Params().u32(a.n).u32(a.offset ?? 0).u32(chunk).u32(chunks).u32(a.banned?.count ?? 0).u32(a.outOffset ?? 0).buffer;
  const part = enc.ctx.pool.acquire(chunks * 8, GPUBufferUsage.STORAGE, 'argmax-part');
  const pipe = (entry: string) => (fast ? enc.ctx.pipelines.get(FAST, entry, { WG: 256 }) : enc.ctx.pipelines.get(SRC, entry, { WG }));
  enc.dispatch(pipe('partial'), params, [a.logits, a.banned?.buffer ?? enc.ctx.dummy, part, null], fast ? linearGrid(chunks, 1) : linearGrid(chunks, WG));
  enc.dispatch(pipe('final_pass'), params, [null, null, part, a.out], [1]);
  enc.ctx.pool.release(part); // only live between the two dispatches above
}
