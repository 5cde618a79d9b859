// RoPE (partial, YaRN) in place, with cos/sin from the CPU. See rope.wgsl; ropeKv (rope-kv.wgsl)
// fuses the q and k rotations with the kv-cache write for decode steps.

import { bindingSize, linearGrid, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import type { RopeTable } from '../../reference/ops.ts';
import code from './rope.wgsl?raw';
import kvCode from './rope-kv.wgsl?raw';

const SRC = { label: 'rope', code };
const WG = 64;

/**
 * cos/sin table (T, rotaryDim/2, 2) for positions pos0 .. pos0+T-1, rounded exactly as
 * reference applyRope does (angle in f32, cos/sin in f64 times the YaRN factor, then f32).
 * Upload it per chunk (a few hundred bytes per token) or once for a range of positions.
 */
export function ropeCosSin(table: RopeTable, pos0: number, T: number): Float32Array {
  const half = table.rotaryDim / 2;
  const out = new Float32Array(T * half * 2); // (T, half, 2)
  for (let t = 0; t < T; t++)
    for (let i = 0; i < half; i++) {
      const ang = Math.fround((pos0 + t) * table.invFreq[i]);
      out[2 * (t * half + i)] = Math.cos(ang) * table.scale;
      out[2 * (t * half + i) + 1] = Math.sin(ang) * table.scale;
    }
  return out;
}

export interface RopeArgs {
  T: number;
  heads: number;
  hd: number;
  rotaryDim: number;
  /** (T, xStride) f32, heads of hd at xOffset + t * xStride; rotated in place */
  x: BufferArg;
  xOffset?: number;
  /** elements between tokens (default heads * hd) */
  xStride?: number;
  /** cos/sin (from ropeCosSin); token t reads entry (csRow + t) */
  cs: BufferArg;
  csRow?: number;
}

/** Record the rotation of `heads` heads of T tokens. */
export function rope(enc: GpuEncoder, a: RopeArgs): void {
  const half = a.rotaryDim / 2;
  const xStride = a.xStride ?? a.heads * a.hd;
  const xOffset = a.xOffset ?? 0;
  const csRow = a.csRow ?? 0;
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('rope', msg);
  };
  for (const [k, v] of Object.entries({ T: a.T, heads: a.heads, hd: a.hd, half }))
    check(Number.isInteger(v) && v >= 1, `${k} must be a positive integer, got ${v}`);
  check(a.rotaryDim <= a.hd, `rotaryDim ${a.rotaryDim} > head_dim ${a.hd}`);
  check(xStride >= a.heads * a.hd, `xStride ${xStride} < heads * hd`);
  check(bindingSize(a.x) >= (xOffset + (a.T - 1) * xStride + a.heads * a.hd) * 4, 'x binding too small');
  check(bindingSize(a.cs) >= (csRow + a.T) * half * 8, `cs binding smaller than ${csRow + a.T} positions x ${half} pairs`);
  const kernel = enc.ctx.pipelines.get(SRC, 'main', { WG });
  const params = new Params().u32(a.T).u32(a.heads).u32(a.hd).u32(half).u32(xOffset).u32(xStride).u32(csRow * half * 2).buffer;
  enc.dispatch(kernel, params, [a.cs, a.x], linearGrid(a.T * a.heads * half, WG));
}

const KV_SRC = { label: 'rope-kv', code: kvCode };

export interface RopeKvArgs {
  T: number;
  nHeads: number;
  nKv: number;
  hd: number;
  rotaryDim: number;
  /** position of the chunk's first token and the ring's rows */
  pos0: number;
  capacity: number;
  /** (T, qStride) queries and (T, kvStride) keys, rotated in place; values (T, kvStride) */
  q: BufferArg;
  qOffset?: number;
  qStride?: number;
  k: BufferArg;
  kOffset?: number;
  v: BufferArg;
  vOffset?: number;
  kvStride?: number;
  kCache: BufferArg;
  vCache: BufferArg;
  cs: BufferArg;
  csRow?: number;
}

/** Whether the ring may be written before the chunk's attention (see rope-kv.wgsl). */
export function ropeKvApplies(T: number, pos0: number, capacity: number): boolean {
  return T === 1 || pos0 + T <= capacity;
}

/** Record rope of q and k and the ring write of k and v (before attention; one dispatch). */
export function ropeKv(enc: GpuEncoder, a: RopeKvArgs): void {
  const half = a.rotaryDim / 2;
  const qStride = a.qStride ?? a.nHeads * a.hd;
  const kvStride = a.kvStride ?? a.nKv * a.hd;
  const csRow = a.csRow ?? 0;
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('ropeKv', msg);
  };
  for (const [k, v] of Object.entries({ T: a.T, nHeads: a.nHeads, nKv: a.nKv, hd: a.hd, half, capacity: a.capacity }))
    check(Number.isInteger(v) && v >= 1, `${k} must be a positive integer, got ${v}`);
  check(a.rotaryDim <= a.hd, `rotaryDim ${a.rotaryDim} > head_dim ${a.hd}`);
  check(ropeKvApplies(a.T, a.pos0, a.capacity), `chunk of ${a.T} at ${a.pos0} would overwrite ring rows its own queries read (capacity ${a.capacity}); use rope + attention + kvWrite`);
  const kw = a.nKv * a.hd;
  check(bindingSize(a.q) >= ((a.qOffset ?? 0) + (a.T - 1) * qStride + a.nHeads * a.hd) * 4, 'q binding too small');
  check(bindingSize(a.k) >= ((a.kOffset ?? 0) + (a.T - 1) * kvStride + kw) * 4, 'k binding too small');
  check(bindingSize(a.v) >= ((a.vOffset ?? 0) + (a.T - 1) * kvStride + kw) * 4, 'v binding too small');
  check(bindingSize(a.kCache) >= a.capacity * kw * 4 && bindingSize(a.vCache) >= a.capacity * kw * 4, `cache smaller than ${a.capacity} x ${kw}`);
  check(bindingSize(a.cs) >= (csRow + a.T) * half * 8, 'cs binding too small');
  const width = Math.max(a.nHeads * half, kw);
  const params = new Params()
    .u32(a.T).u32(a.nHeads).u32(a.nKv).u32(a.hd).u32(half).u32(width)
    .u32(a.qOffset ?? 0).u32(qStride).u32(a.kOffset ?? 0).u32(a.vOffset ?? 0).u32(kvStride)
    .u32(csRow * half * 2).u32(a.pos0).u32(a.capacity).buffer;
  enc.dispatch(enc.ctx.pipelines.get(KV_SRC, 'main', { WG }), params, [a.cs, a.q, a.k, a.v, a.kCache, a.vCache], linearGrid(a.T * width, WG));
}
